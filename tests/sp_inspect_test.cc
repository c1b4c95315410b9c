// End-to-end runs of the sp_inspect executable: on what sp_tokenize makes,
// on damaged pairs (exit 1, every problem named on stderr), usage errors
// (exit 2), --json, --html, --show, --compare and files shared out over ranks.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "sp/indexed_dataset.h"
#include "test_support.h"

namespace sp {
namespace {

using test::CommandResult;
using test::run_command;
using test::shell_quote;
using test::TempDir;

constexpr uint32_t kEod = 50256;

CommandResult inspect(const std::string& args, const std::string& env = "") {
  return run_command(env + (env.empty() ? "" : " ") + shell_quote(test::tool_path("sp_inspect")) +
                     " --progress none " + args);
}

std::string gpt2_flags() {
  return " --vocab-file " + shell_quote(test::gpt2_dir() + "/vocab.json") + " --merge-file " +
         shell_quote(test::gpt2_dir() + "/merges.txt");
}

void write_dataset(const std::string& prefix, const std::vector<std::vector<uint32_t>>& docs) {
  IndexedDatasetWriter w(prefix, TokenDtype::kUint16);
  for (const auto& d : docs) {
    const int32_t len[] = {static_cast<int32_t>(d.size())};
    w.add_document(d, d.empty() ? std::span<const int32_t>() : std::span<const int32_t>(len));
  }
  w.finish();
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(SpInspect, HelpExplainsEveryMode) {
  const CommandResult r = inspect("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s : {"sp_inspect PATH...", "--expect-eod[=ID]", "--vocab-size N", "--show N", "--compare",
                        "--json", "--html FILE", "--max-problems N", "--no-record-check", "--threads N",
                        "--tokenizer-type", "Exit status: 0 all ok", "RANK/WORLD_SIZE"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

TEST(SpInspect, UsageErrorsExitTwo) {
  TempDir d;
  write_dataset(d / "ds", {{1, kEod}});
  const std::string ds = shell_quote(d / "ds");
  for (const std::string& args : {std::string(""), "--compare " + ds, "--show -1 " + ds, "--max-problems 0 " + ds,
                                  "--nope " + ds, "--show 0 --compare " + ds + " " + ds, "--json --show 0 " + ds,
                                  "--vocab-size 0 " + ds, "--expect-eod=x " + ds}) {
    const CommandResult r = inspect(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("sp_inspect: "), std::string::npos) << r.err;
  }
}

TEST(SpInspect, AMissingHalfOfAPairIsAnErrorNamingIt) {
  TempDir d;
  write_dataset(d / "ds", {{1, kEod}});
  ASSERT_EQ(::unlink((d / "ds.bin").c_str()), 0);
  const CommandResult r = inspect(shell_quote(d.path()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(d / "ds.idx"), std::string::npos) << r.err;
}

// What sp_tokenize made verifies, with its completion records, and the
// summary counts what went in.
class SpInspectTokenized : public ::testing::Test {
 protected:
  void SetUp() override {
    SP_REQUIRE_FIXTURE(!test::gpt2_dir().empty(), "GPT-2 vocab not fetched (third_party/gpt2/fetch_vocab.sh)");
    ASSERT_EQ(::mkdir((dir / "in").c_str(), 0755), 0);
    test::write_file(dir / "in/a.jsonl", "{\"text\": \"Hello world\"}\n{\"text\": \"\"}\n{\"text\": \"The end.\"}\n");
    test::write_file(dir / "in/b.jsonl", "{\"text\": \"Another file, another document.\"}\n");
    const CommandResult r = run_command(shell_quote(test::tool_path("sp_tokenize")) + gpt2_flags() +
                                        " --progress none --append-eod --input-dir " + shell_quote(dir / "in") +
                                        " --output-dir " + shell_quote(dir / "out"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir;
};

TEST_F(SpInspectTokenized, WhatSpTokenizeMadeVerifies) {
  const CommandResult r = inspect(shell_quote(dir / "out") + " --expect-eod" + gpt2_flags());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count(r.out, ": ok, completion record matched\n"), 2u) << r.out;
  EXPECT_NE(r.out.find(dir / "out/a.jsonl_text_document: ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("uint16, 3 documents (1 empty), 2 sequences, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total: 2 dataset(s), all ok\n  4 documents (1 empty), 3 sequences"), std::string::npos)
      << r.out;
}

TEST_F(SpInspectTokenized, JsonForMachines) {
  const CommandResult r = inspect(shell_quote(dir / "out") + " --json --expect-eod=50256");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_TRUE(doc["ok"].get_bool().value());
  EXPECT_EQ(doc["datasets"].get_array().value().size(), 2u);
  EXPECT_EQ(doc["total"]["documents"].get_uint64().value(), 4u);
  EXPECT_EQ(doc["total"]["empty_documents"].get_uint64().value(), 1u);
  EXPECT_EQ(std::string(doc["datasets"].at(0)["record"].get_string().value()), "matched");
}

TEST_F(SpInspectTokenized, ShowDecodesAndCompareFindsTheDifference) {
  const std::string a = dir / "out/a.jsonl_text_document";
  CommandResult r = inspect(shell_quote(a + ".bin") + " --show 2" + gpt2_flags());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(r.out.find('\n') + 1), "The end.<|endoftext|>\n");
  EXPECT_EQ(r.out.find("# " + a + ": document 2 of 3, "), 0u) << r.out;
  r = inspect(shell_quote(a) + " --show 3" + gpt2_flags());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no document 3 (the dataset has 3)"), std::string::npos) << r.err;

  r = inspect("--compare " + shell_quote(a) + " " + shell_quote(a + ".idx"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("identical: 3 documents"), std::string::npos) << r.out;
  r = inspect("--compare " + shell_quote(a) + " " + shell_quote(dir / "out/b.jsonl_text_document"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("first difference: document 0, token 0: "), std::string::npos) << r.out;
}

TEST_F(SpInspectTokenized, DamageIsReportedWithFileAndPlace) {
  const std::string a = dir / "out/a.jsonl_text_document";
  ASSERT_EQ(::truncate((a + ".bin").c_str(), 4), 0);
  const CommandResult r = inspect(shell_quote(dir / "out") + " --expect-eod" + gpt2_flags());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("sp_inspect: " + a + ".bin: 4 bytes, but the index's"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(truncated: sequence 0 and later lie beyond its end)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(a + ".bin: 4 bytes, but its completion record"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("problem(s) in 1 of 2 dataset(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(dir / "out/b.jsonl_text_document: ok"), std::string::npos) << r.out;
}

TEST(SpInspect, IdsAndEodAgainstTheTokenizerOrGivenValues) {
  SP_REQUIRE_FIXTURE(!test::gpt2_dir().empty(), "GPT-2 vocab not fetched (third_party/gpt2/fetch_vocab.sh)");
  TempDir d;
  write_dataset(d / "ds", {{1, kEod}, {50300, 7}});
  CommandResult r = inspect(shell_quote(d / "ds") + " --expect-eod" + gpt2_flags());  // GPT-2: 50257 ids, EOD 50256
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(d / "ds.bin: .bin byte 4 (sequence 1, token 0): token id 50300 is not below the vocabulary "
                              "size 50257"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(d / "ds.bin: document 1 (.bin byte 6, sequence 1): ends with id 7, not the EOD 50256"),
            std::string::npos)
      << r.err;
  r = inspect(shell_quote(d / "ds") + " --vocab-size 60000 --expect-eod=7");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count(r.err, "not the EOD 7"), 1u) << r.err;  // document 0 ends with 50256
  EXPECT_EQ(r.err.find("token id"), std::string::npos) << r.err;
  r = inspect(shell_quote(d / "ds"));  // nothing asked beyond the structure
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(SpInspect, HtmlReportIsWritten) {
  TempDir d;
  write_dataset(d / "ds", {{1, kEod}, {2, 3, kEod}});
  const CommandResult r = inspect(shell_quote(d / "ds") + " --html " + shell_quote(d / "report.html"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = test::read_file(d / "report.html");
  EXPECT_EQ(page.find("<!DOCTYPE html>"), 0u);
  EXPECT_NE(page.find("id=\"tokens-chart\""), std::string::npos);
  EXPECT_NE(page.find("id=\"length-histogram\""), std::string::npos);
  EXPECT_NE(page.find("data-tokens=\"5\""), std::string::npos);
  EXPECT_TRUE(test::temps_under(d.path()).empty());
}

// Under RANK/WORLD_SIZE each rank takes a share; together they cover every
// dataset once, and a damaged one is reported by exactly one rank.
TEST(SpInspect, RanksShareTheDatasets) {
  TempDir d;
  for (int i = 0; i < 5; ++i) write_dataset(d / ("ds" + std::to_string(i)), {{1, kEod}, {2, kEod}});
  ASSERT_EQ(::truncate((d / "ds3.bin").c_str(), 2), 0);
  std::string out, err;
  int failed = 0;
  for (int rank = 0; rank < 2; ++rank) {
    const CommandResult r =
        inspect(shell_quote(d.path()) + " --json --html " + shell_quote(d / "r.html"),
                "env -u OMPI_COMM_WORLD_RANK -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u SLURM_PROCID RANK=" +
                    std::to_string(rank) + " WORLD_SIZE=2");
    failed += r.exit_code == 1;
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
    out += r.out;
    err += r.err;
    EXPECT_TRUE(test::file_exists(d / ("r.html.rank" + std::to_string(rank))));
  }
  EXPECT_EQ(failed, 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(count(out, "\"prefix\": \"" + d / ("ds" + std::to_string(i)) + "\""), 1u);
  EXPECT_EQ(count(err, d / "ds3.bin: 2 bytes"), 1u) << err;
  EXPECT_NE(err.find("[rank 1/2] sp_inspect: "), std::string::npos) << err;
}

}  // namespace
}  // namespace sp
