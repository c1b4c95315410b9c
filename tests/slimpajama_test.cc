// scripts/slimpajama.sh, the whole chain as one resumable script, run end to
// end against the loopback server standing in for the Hub: the bundled sample
// shards are downloaded, extracted, chunked, tokenized (GPT-2), verified and
// blended; a rerun downloads nothing and keeps every output; two MPI ranks
// make the same datasets.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "sp/fs.h"
#include "test_support.h"

namespace sp {
namespace {

using test::read_file;
using test::run_command;
using test::shell_quote;
using test::TempDir;

std::map<std::string, std::string> datasets(const std::string& dir) {
  std::map<std::string, std::string> m;
  const auto pairs = [](std::string_view rel) { return ends_with(rel, ".bin") || ends_with(rel, ".idx"); };
  for (const auto& f : list_files(dir, pairs)) m[f.relative] = read_file(f.path);
  return m;
}

TEST(SlimPajamaScript, WholeChainAgainstALoopbackHubThenARerunDoesNothing) {
  const char* vocab = std::getenv("SP_GPT2_DIR");
  SP_REQUIRE_FIXTURE(vocab && *vocab, "SP_GPT2_DIR (the GPT-2 vocab) not set");
  TempDir d;
  const std::string root = d / "hub";
  ASSERT_EQ(run_command("cp -r " + shell_quote(std::string(SP_SOURCE_DIR) + "/tests/data/sample") + " " +
                        shell_quote(root)).exit_code, 0);
  test::TestServer server(root, d.path());
  std::string manifest;
  for (const auto& f : list_files(root, [](std::string_view rel) { return ends_with(rel, ".zst"); }))
    manifest += server.url("ok", f.relative) + "\t-\t" + std::to_string(f.size) + "\t" + f.relative + "\n";
  test::write_file(d / "m.tsv", manifest);
  const std::string env = "SP_BIN=" + shell_quote(parent_dir(test::tool_path("sp_tokenize"))) +
                          " MANIFEST=" + shell_quote(d / "m.tsv") + " CHUNK_SIZE=256K TOKENIZER_FLAGS=" +
                          shell_quote("--vocab-file " + std::string(vocab) + "/vocab.json --merge-file " +
                                      std::string(vocab) + "/merges.txt") +
                          " MOUNT=/workspace/tokenized";
  const std::string script = shell_quote(std::string(SP_SOURCE_DIR) + "/scripts/slimpajama.sh");
  auto r = run_command(env + " bash " + script + " " + shell_quote(d / "work"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t files = list_files(root, [](std::string_view rel) { return ends_with(rel, ".zst"); }).size();
  EXPECT_EQ(server.requests().size(), files);
  const auto made = datasets(d / "work/tokenized");
  ASSERT_GE(made.size(), 2u) << r.err;
  // The blend names every dataset once, at the training job's mount point.
  const std::string blend = read_file(d / "work/blend.txt");
  size_t pairs = 0;
  for (size_t at = blend.find("/workspace/tokenized/"); at != std::string::npos;
       at = blend.find("/workspace/tokenized/", at + 1))
    ++pairs;
  EXPECT_EQ(pairs, made.size() / 2) << blend;
  EXPECT_NE(read_file(d / "work/sequences.json").find("/workspace/tokenized/"), std::string::npos);
  // sp_inspect verified them (exit 0) and summarised them as JSON.
  EXPECT_NE(read_file(d / "work/tokenized_summary.json").find("\"tokens\""), std::string::npos);
  EXPECT_TRUE(test::file_exists(d / "work/tokenized_report.html"));

  // The same command again: no request, every output kept byte for byte.
  r = run_command(env + " bash " + script + " " + shell_quote(d / "work"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.requests().size(), files) << "a rerun must not download again";
  EXPECT_EQ(datasets(d / "work/tokenized"), made);

  // The staged chain (JSONL and chunk files in between): the same datasets.
  r = run_command(env + " STAGED=1 bash " + script + " " + shell_quote(d / "staged"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("== slimpajama: concat"), std::string::npos) << r.err;
  EXPECT_EQ(datasets(d / "staged/tokenized"), made);
  EXPECT_FALSE(test::file_exists(d / "work/chunks")) << "the fused step wrote chunk files";

  // Two MPI ranks for the parallel steps: the same datasets.
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "OpenMPI's mpirun not installed");
  r = run_command(env + " OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
                  " LAUNCH='mpirun --oversubscribe -np 2' bash " + script + " " + shell_quote(d / "mpi"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(datasets(d / "mpi/tokenized"), made);
}

TEST(SlimPajamaScript, HelpAndUsage) {
  const std::string script = shell_quote(std::string(SP_SOURCE_DIR) + "/scripts/slimpajama.sh");
  auto r = run_command("bash " + script + " --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("REMOVE_SOURCES"), std::string::npos) << r.out;
  r = run_command("bash " + script);
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace sp
