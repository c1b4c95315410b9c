// End-to-end runs of the sp_tokenize executable: Megatron's document
// semantics, thread-count invariance, zstd input, batch mode and ranks, every
// kind of bad input, and what is (not) left on disk afterwards.
#include <gtest/gtest.h>
#include <zstd.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "sp/bpe.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "test_support.h"

namespace sp {
namespace {

using test::CommandResult;
using test::peak_rss_kib;
using test::read_file;
using test::run_command;
using test::shell_quote;
using test::TempDir;
using test::write_file;

class SpTokenize : public ::testing::Test {
 protected:
  void SetUp() override {
    SP_REQUIRE_FIXTURE(!test::gpt2_dir().empty(), "GPT-2 vocab not fetched (third_party/gpt2/fetch_vocab.sh)");
    static BpeModel* m = new BpeModel(
        BpeModel::load_gpt2(test::gpt2_dir() + "/vocab.json", test::gpt2_dir() + "/merges.txt"));
    model = m;
  }
  CommandResult tokenize(const std::string& args) {
    return run_command(shell_quote(test::tool_path("sp_tokenize")) + " --vocab-file " +
                       shell_quote(test::gpt2_dir() + "/vocab.json") + " --merge-file " +
                       shell_quote(test::gpt2_dir() + "/merges.txt") + " --progress none " + args);
  }
  std::vector<uint32_t> encode(const std::string& text) {
    std::vector<uint32_t> ids;
    model->encode(text, ids, cache);
    return ids;
  }
  const BpeModel* model = nullptr;
  BpeCache cache;
  TempDir dir;
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out + "\"";
}

// A corpus of mixed documents: prose, code, multilingual text, empty texts.
std::string make_corpus(size_t docs, uint32_t seed) {
  const char* parts[] = {"The quick brown fox jumps over the lazy dog. ", "It's   spaced\tout\n\n",
                         "def f(x):\n    return x ** 2  # square\n", "日本語のテキストと中文文本。", "Привет, мир! ",
                         "1234567890 3.14159 ", "émigré naïve café ", "🙂👍🏽 emoji ", "<|endoftext|>", "'s 've 'LL ",
                         "\u00a0\u3000 spaces ", ""};
  std::mt19937 rng(seed);
  std::string out;
  for (size_t i = 0; i < docs; ++i) {
    std::string text;
    size_t n = rng() % 12;
    for (size_t k = 0; k < n; ++k) text += parts[rng() % std::size(parts)];
    out += "{\"id\":" + std::to_string(i) + ",\"text\":" + json_string(text) + "}\n";
  }
  return out;
}

TEST_F(SpTokenize, MegatronDocumentSemantics) {
  write_file(dir / "in.jsonl",
             "{\"text\":\"Hello world\"}\n"
             "{\"text\":\"\"}\n"
             "{\"text\":[\"a b\",\"\",\"c\"]}\n"
             "\n"
             "{\"text\":[]}\n"
             "{\"text\":\"It's <|endoftext|> ok\"}\n");
  auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "out" + " --append-eod --workers 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  IndexedDataset ds = read_indexed_dataset(dir / "out_text_document");
  const uint32_t eod = 50256;
  // Five documents (the blank line is not one); two produced no tokens and
  // repeat the previous document index, as Megatron's builder does.
  EXPECT_EQ(ds.document_indices, (std::vector<int64_t>{0, 1, 1, 3, 3, 4}));
  ASSERT_EQ(ds.sequence_count(), 4u);
  EXPECT_EQ(ds.sequence(0), (std::vector<uint32_t>{15496, 995, eod}));
  EXPECT_EQ(ds.sequence(1), encode("a b"));  // EOD only after the document's last sequence
  auto c = encode("c");
  c.push_back(eod);
  EXPECT_EQ(ds.sequence(2), c);
  auto last = encode("It's <|endoftext|> ok");
  EXPECT_EQ(std::count(last.begin(), last.end(), eod), 0) << "<|endoftext|> in text is ordinary text";
  last.push_back(eod);
  EXPECT_EQ(ds.sequence(3), last);
  EXPECT_EQ(ds.dtype, TokenDtype::kUint16);
}

TEST_F(SpTokenize, WithoutAppendEodAndWithSkipEmpty) {
  write_file(dir / "in.jsonl", "{\"text\":\"x\"}\n{\"text\":\"\"}\n{\"text\":\"y\"}\n");
  ASSERT_EQ(tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "m").exit_code, 0);
  ASSERT_EQ(tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "n --skip-empty").exit_code, 0);
  IndexedDataset m = read_indexed_dataset(dir / "m_text_document");
  IndexedDataset n = read_indexed_dataset(dir / "n_text_document");
  EXPECT_EQ(m.document_indices, (std::vector<int64_t>{0, 1, 1, 2}));
  EXPECT_EQ(n.document_indices, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(m.bin, n.bin);
  EXPECT_EQ(m.sequence(0), encode("x"));
}

TEST_F(SpTokenize, SeveralJsonKeysGiveOnePairEach) {
  write_file(dir / "in.jsonl", "{\"text\":\"alpha\",\"title\":\"Beta\"}\n{\"title\":\"Gamma\",\"text\":\"delta\"}\n");
  auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "p --json-keys text title");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  IndexedDataset text = read_indexed_dataset(dir / "p_text_document");
  IndexedDataset title = read_indexed_dataset(dir / "p_title_document");
  EXPECT_EQ(text.document(1), encode("delta"));
  EXPECT_EQ(title.document(0), encode("Beta"));
  EXPECT_EQ(title.document(1), encode("Gamma"));
}

TEST_F(SpTokenize, OutputIsIdenticalWhateverTheThreadCount) {
  write_file(dir / "in.jsonl", make_corpus(4000, 7));
  std::string first_bin, first_idx;
  for (int workers : {1, 2, 3, 8}) {
    const std::string prefix = dir / ("w" + std::to_string(workers));
    auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + prefix + " --append-eod --block-size 4K --workers " +
                      std::to_string(workers));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string bin = read_file(prefix + "_text_document.bin"), idx = read_file(prefix + "_text_document.idx");
    if (first_bin.empty()) {
      first_bin = bin, first_idx = idx;
      IndexedDataset ds = read_indexed_dataset(prefix + "_text_document");
      EXPECT_EQ(ds.document_count(), 4000u);
    } else {
      EXPECT_EQ(bin, first_bin) << workers << " workers";
      EXPECT_EQ(idx, first_idx) << workers << " workers";
    }
  }
}

TEST_F(SpTokenize, NoSyncWritesTheSameBytes) {
  write_file(dir / "in.jsonl", make_corpus(300, 5));
  ASSERT_EQ(tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "a --append-eod").exit_code, 0);
  ASSERT_EQ(tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "b --append-eod --no-sync").exit_code, 0);
  EXPECT_EQ(read_file(dir / "a_text_document.bin"), read_file(dir / "b_text_document.bin"));
  EXPECT_EQ(read_file(dir / "a_text_document.idx"), read_file(dir / "b_text_document.idx"));
  for (const char* tool : {"sp_tokenize", "sp_extract", "sp_concat", "sp_download"}) {
    auto help = run_command(shell_quote(test::tool_path(tool)) + " --help");
    EXPECT_NE(help.out.find("--no-sync"), std::string::npos) << tool;
  }
}

TEST_F(SpTokenize, ZstdInputEqualsPlainInput) {
  const std::string corpus = make_corpus(1500, 11);
  write_file(dir / "in.jsonl", corpus);
  // Two frames with a skippable frame between them, as concatenated shards have.
  std::string z(ZSTD_compressBound(corpus.size()) + 64, '\0');
  size_t half = corpus.size() / 2;
  size_t a = ZSTD_compress(z.data(), z.size(), corpus.data(), half, 3);
  ASSERT_FALSE(ZSTD_isError(a));
  const char skippable[] = {'\x50', '\x2A', '\x4D', '\x18', 4, 0, 0, 0, 'm', 'e', 't', 'a'};
  std::string out = z.substr(0, a) + std::string(skippable, sizeof skippable);
  size_t b = ZSTD_compress(z.data(), z.size(), corpus.data() + half, corpus.size() - half, 3);
  out += z.substr(0, b);
  write_file(dir / "in.jsonl.zst", out);
  ASSERT_EQ(tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "plain --append-eod").exit_code, 0);
  auto r = tokenize("--input " + dir / "in.jsonl.zst" + " --output-prefix " + dir / "zst --append-eod");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "plain_text_document.bin"), read_file(dir / "zst_text_document.bin"));
  EXPECT_EQ(read_file(dir / "plain_text_document.idx"), read_file(dir / "zst_text_document.idx"));
  // A truncated .zst is an error naming the file, and leaves nothing.
  write_file(dir / "cut.jsonl.zst", out.substr(0, out.size() - 10));
  r = tokenize("--input " + dir / "cut.jsonl.zst" + " --output-prefix " + dir / "cut");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cut.jsonl.zst"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  EXPECT_FALSE(test::file_exists(dir / "cut_text_document.idx"));
  EXPECT_FALSE(test::file_exists(dir / "cut_text_document.bin"));
}

struct BadCase {
  std::string name, line, reason;
};

TEST_F(SpTokenize, EveryKindOfBadLineStopsWithFileLineReason) {
  const std::vector<BadCase> cases = {
      {"array", "[\"text\"]", "not a JSON object"},
      {"missing_key", "{\"body\":\"x\"}", "missing key \"text\""},
      {"number", "{\"text\":42}", "is a number"},
      {"list_of_numbers", "{\"text\":[\"a\",1]}", "list holding a number"},
      {"truncated", "{\"text\":\"abc", "not valid JSON"},
      {"trailing", "{\"text\":\"abc\"} x", "not valid JSON"},
      {"bad_escape", "{\"text\":\"a\\xb\"}", "invalid escape"},
      {"raw_control", "{\"text\":\"a\x01" "b\"}", "raw control character"},
      {"invalid_utf8", "{\"text\":\"caf\xE9\"}", "invalid UTF-8"},
      {"lone_surrogate", "{\"text\":\"\\ud83d\"}", "surrogate"},
      {"not_json", "hello", "not valid JSON"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string in = dir / (c.name + ".jsonl");
    write_file(in, "\xEF\xBB\xBF{\"text\":\"ok\"}\n   \n{\"text\":\"fine\"}\n" + c.line + "\n{\"text\":\"after\"}\n");
    auto r = tokenize("--input " + in + " --output-prefix " + dir / ("o_" + c.name) + " --workers 2");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(in + ":4: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.reason), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one clear line: " << r.err;
  }
  // Nothing that looks like an output, and no temporaries, are left behind.
  for (const auto& f : test::list_dir(dir.path())) EXPECT_NE(f.rfind("o_", 0), 0u) << f;
}

TEST_F(SpTokenize, FirstBadLineIsReportedWhateverTheScheduling) {
  std::string corpus = make_corpus(3000, 3);
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < corpus.size()) {
    size_t nl = corpus.find('\n', pos);
    lines.push_back(corpus.substr(pos, nl - pos));
    pos = nl + 1;
  }
  lines[1999] = "{\"text\": 1}";
  lines[2499] = "not json";
  std::string data;
  for (auto& l : lines) data += l + "\n";
  write_file(dir / "in.jsonl", data);
  for (int w : {1, 4}) {
    auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "o --block-size 4K --workers " + std::to_string(w));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("in.jsonl:2000: "), std::string::npos) << r.err;
  }
}

TEST_F(SpTokenize, OnErrorSkipSkipsCountsAndReports) {
  const std::string good1 = "{\"text\":\"one\"}", good2 = "{\"text\":\"two\"}";
  write_file(dir / "bad.jsonl", good1 + "\n{\"text\":5}\n\n" + "{oops\n" + good2 + "\n");
  write_file(dir / "good.jsonl", good1 + "\n" + good2 + "\n");
  auto r = tokenize("--input " + dir / "bad.jsonl" + " --output-prefix " + dir / "b --on-error skip --stats-json " +
                    dir / "stats.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(tokenize("--input " + dir / "good.jsonl" + " --output-prefix " + dir / "g").exit_code, 0);
  EXPECT_EQ(read_file(dir / "b_text_document.bin"), read_file(dir / "g_text_document.bin"));
  EXPECT_EQ(read_file(dir / "b_text_document.idx"), read_file(dir / "g_text_document.idx"));
  EXPECT_NE(r.err.find("skipped 2 bad line(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.jsonl:2: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.jsonl:4: "), std::string::npos) << r.err;
  std::string stats = read_file(dir / "stats.json");
  EXPECT_NE(stats.find("\"skipped_lines\": 2"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"documents\": 2"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"blank_lines\": 1"), std::string::npos) << stats;
}

TEST_F(SpTokenize, PathologicalRunsTokenizeLikeTheModel) {
  const std::vector<std::string> runs = {std::string(1 << 20, 'a'), std::string(1 << 20, '7'),
                                         std::string(1 << 20, '!'), std::string(1 << 20, ' '),
                                         std::string(1 << 19, '\n')};
  std::string data;
  for (const auto& r : runs) data += "{\"text\":" + json_string(r) + "}\n";
  write_file(dir / "in.jsonl", data);
  auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "p");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  IndexedDataset ds = read_indexed_dataset(dir / "p_text_document");
  ASSERT_EQ(ds.document_count(), runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    auto ids = ds.document(i);
    EXPECT_EQ(ids, encode(runs[i])) << i;
    EXPECT_EQ(model->decode(ids), runs[i]) << i;
  }
}

TEST_F(SpTokenize, BatchModeNamesOutputsAfterInputs) {
  test::run_command("mkdir -p " + dir / "in/chunk1" + " " + dir / "in/chunk2");
  write_file(dir / "in/chunk1/example_train_0.jsonl", make_corpus(50, 1));
  write_file(dir / "in/chunk2/example_train_0.jsonl", make_corpus(60, 2));
  write_file(dir / "in/notes.txt", "not an input");
  auto r = tokenize("--input-dir " + dir / "in" + " --output-dir " + dir / "out --append-eod");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::list_dir(dir / "out/chunk1"),
            (std::vector<std::string>{"example_train_0.jsonl_text_document.bin", "example_train_0.jsonl_text_document.idx",
                                      "example_train_0.jsonl_text_document.sp-record"}));
  EXPECT_EQ(read_indexed_dataset(dir / "out/chunk2/example_train_0.jsonl_text_document").document_count(), 60u);
  // A rerun keeps complete outputs and does no work.
  auto again = tokenize("--input-dir " + dir / "in" + " --output-dir " + dir / "out --append-eod");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.err.find("already have complete outputs"), std::string::npos) << again.err;
}

// Finding: only the existence of .bin/.idx was checked, so outputs made from
// other input or with other options were kept. Each case must rebuild.
TEST_F(SpTokenize, OutputsMadeFromOtherInputOrOptionsAreRebuilt) {
  const std::string out = dir / "p", pair = dir / "p_text_document";
  write_file(dir / "a.jsonl", make_corpus(40, 1));
  write_file(dir / "b.jsonl", make_corpus(30, 2));
  auto fresh = [&](const std::string& input, const std::string& extra) {
    TempDir ref;
    auto r = tokenize("--input " + input + " --output-prefix " + ref / "p " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_file(ref / "p_text_document.bin") + "|" + read_file(ref / "p_text_document.idx");
  };
  auto made = [&] { return read_file(pair + ".bin") + "|" + read_file(pair + ".idx"); };
  auto run = [&](const std::string& input, const std::string& extra, const std::string& why) {
    auto r = tokenize("--input " + input + " --output-prefix " + out + " " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("rebuilding"), std::string::npos) << why << "\n" << r.err;
    EXPECT_EQ(made(), fresh(input, extra)) << why;
  };
  ASSERT_EQ(tokenize("--input " + dir / "a.jsonl" + " --output-prefix " + out).exit_code, 0);
  run(dir / "b.jsonl", "", "another input file");
  run(dir / "b.jsonl", "--append-eod", "--append-eod added");
  run(dir / "b.jsonl", "--append-eod --json-keys text meta --on-error skip", "other --json-keys");
  run(dir / "b.jsonl", "--append-eod --skip-empty", "--skip-empty");
  write_file(dir / "b.jsonl", make_corpus(31, 2));  // the same input file, rewritten
  run(dir / "b.jsonl", "--append-eod --skip-empty", "input changed");

  // A vocabulary file with other bytes is another tokenizer.
  TempDir vocab;
  write_file(vocab / "vocab.json", read_file(test::gpt2_dir() + "/vocab.json") + "\n");
  write_file(vocab / "merges.txt", read_file(test::gpt2_dir() + "/merges.txt"));
  auto r = run_command(shell_quote(test::tool_path("sp_tokenize")) + " --progress none --vocab-file " +
                       shell_quote(vocab / "vocab.json") + " --input " + dir / "b.jsonl" + " --output-prefix " + out +
                       " --append-eod --skip-empty");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("vocab_sha256"), std::string::npos) << r.err;

  // The same command again keeps the pair and does no work.
  r = run_command(shell_quote(test::tool_path("sp_tokenize")) + " --progress none --vocab-file " +
                  shell_quote(vocab / "vocab.json") + " --input " + dir / "b.jsonl" + " --output-prefix " + out +
                  " --append-eod --skip-empty");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("kept"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("rebuilding"), std::string::npos) << r.err;
}

TEST_F(SpTokenize, DamagedOrForeignOutputsAreNotTrusted) {
  const std::string out = dir / "p", pair = dir / "p_text_document";
  write_file(dir / "a.jsonl", make_corpus(40, 1));
  const std::string cmd = "--input " + dir / "a.jsonl" + " --output-prefix " + out;
  ASSERT_EQ(tokenize(cmd).exit_code, 0);
  const std::string bin = read_file(pair + ".bin"), idx = read_file(pair + ".idx");
  // A 0-byte .idx (as a full disk or another tool may leave).
  write_file(pair + ".idx", "");
  auto r = tokenize(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("rebuilding"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(pair + ".idx"), idx);
  // Outputs without a record (made by Megatron, or an older version) are rebuilt too.
  ::unlink(record_path_for(pair).c_str());
  write_file(pair + ".bin", "not tokens");
  r = tokenize(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no completion record"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(pair + ".bin"), bin);
  // A directory named like the .bin can never be complete: an error, and no record vouches for it.
  ::unlink((pair + ".bin").c_str());
  ::unlink((pair + ".idx").c_str());
  ::unlink(record_path_for(pair).c_str());
  ::mkdir((pair + ".bin").c_str(), 0755);
  r = tokenize(cmd);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(test::file_exists(record_path_for(pair)));
  EXPECT_FALSE(test::file_exists(pair + ".idx"));
}

TEST_F(SpTokenize, QuietRerunThatKeepsEverythingStillWritesStats) {
  write_file(dir / "a.jsonl", make_corpus(40, 1));
  const std::string cmd = "--input " + dir / "a.jsonl" + " --output-prefix " + dir / "p --append-eod --quiet";
  ASSERT_EQ(tokenize(cmd + " --stats-json " + dir / "first.json").exit_code, 0);
  auto r = tokenize(cmd + " --stats-json " + dir / "again.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string first = read_file(dir / "first.json"), again = read_file(dir / "again.json");
  auto field = [](const std::string& json, const std::string& key) {
    const size_t at = json.find("\"" + key + "\": ");
    return at == std::string::npos ? std::string("?") : json.substr(at, json.find(',', at) - at);
  };
  for (const char* key : {"documents", "sequences", "tokens", "lines", "jsonl_bytes"})
    EXPECT_EQ(field(again, key), field(first, key)) << key;
  EXPECT_NE(again.find("\"files_kept\": 1"), std::string::npos) << again;
  EXPECT_NE(first.find("\"files_kept\": 0"), std::string::npos) << first;
}

TEST_F(SpTokenize, RanksSplitFilesWithoutOverlap) {
  test::run_command("mkdir -p " + dir / "in");
  for (int i = 0; i < 7; ++i) write_file(dir / ("in/part_" + std::to_string(i) + ".jsonl"), make_corpus(20 + i * 30, i));
  ASSERT_EQ(tokenize("--input-dir " + dir / "in" + " --output-dir " + dir / "single").exit_code, 0);
  for (int rank = 0; rank < 3; ++rank) {
    auto r = run_command("RANK=" + std::to_string(rank) + " WORLD_SIZE=3 " + shell_quote(test::tool_path("sp_tokenize")) +
                         " --progress none --vocab-file " + shell_quote(test::gpt2_dir() + "/vocab.json") +
                         " --input-dir " + dir / "in" + " --output-dir " + dir / ("rank" + std::to_string(rank)) +
                         " --stats-json " + dir / "s.json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // No MPI, nobody to sum with: each rank reports its own share.
    EXPECT_NE(r.err.find("[rank " + std::to_string(rank) + "/3] sp_tokenize: done ("), std::string::npos) << r.err;
    EXPECT_TRUE(test::file_exists(dir / ("s.json.rank" + std::to_string(rank))));
  }
  EXPECT_FALSE(test::file_exists(dir / "s.json"));
  size_t total = 0;
  for (const auto& name : test::list_dir(dir / "single")) {
    if (is_record_name(name)) continue;  // records hold mtimes and hosts: compared by the record tests
    int holders = 0;
    for (int rank = 0; rank < 3; ++rank) {
      const std::string p = dir / ("rank" + std::to_string(rank) + "/" + name);
      if (test::file_exists(p)) {
        ++holders;
        EXPECT_EQ(read_file(p), read_file(dir / ("single/" + name))) << name;
      }
    }
    EXPECT_EQ(holders, 1) << name;
    ++total;
  }
  EXPECT_EQ(total, 14u);
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

std::string mpirun(int ranks) {
  return "timeout 300 env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np " +
         std::to_string(ranks) + " ";
}

// Every .bin/.idx under root (records hold mtimes and hosts: compared by the record tests).
std::map<std::string, std::string> outputs_of(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& name : test::list_dir(root))
    if (ends_with(name, ".bin") || ends_with(name, ".idx")) out[name] = read_file(root + "/" + name);
  return out;
}

// The value of a top-level "key": N field of a --stats-json file.
std::string json_field(const std::string& json, const std::string& key) {
  const size_t at = json.find("\n  \"" + key + "\": ");
  return at == std::string::npos ? std::string("?") : json.substr(at, json.find_first_of(",\n", at + 1) - at);
}

// Under mpirun the ranks draw input files from one counter: 1, 2 and 4 ranks
// write the same bytes as one process, print one summary, and write one
// --stats-json whose totals are the one-process run's, with every rank's share.
TEST_F(SpTokenize, MpiRanksWriteTheSameBytesOneSummaryOneStatsFile) {
  SP_REQUIRE_FIXTURE(have_mpirun(), "OpenMPI's mpirun not installed");
  test::run_command("mkdir -p " + dir / "in");
  for (int i = 0; i < 9; ++i)
    write_file(dir / ("in/part_" + std::to_string(i) + ".jsonl"), make_corpus(10 + i * 25, i));
  auto r = tokenize("--input-dir " + dir / "in" + " --output-dir " + dir / "ref --append-eod --stats-json " +
                    dir / "ref.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ref = outputs_of(dir / "ref");
  ASSERT_EQ(ref.size(), 18u);
  const std::string ref_json = read_file(dir / "ref.json");
  for (int ranks : {1, 2, 4}) {
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    const std::string out = dir / ("mpi" + std::to_string(ranks)), json = out + ".json";
    r = run_command(mpirun(ranks) + shell_quote(test::tool_path("sp_tokenize")) + " --progress none --vocab-file " +
                    shell_quote(test::gpt2_dir() + "/vocab.json") + " --workers 2 --append-eod --input-dir " +
                    dir / "in" + " --output-dir " + out + " --stats-json " + json);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(outputs_of(out), ref);
    EXPECT_EQ(count_of(r.err, "sp_tokenize: done ("), 1u) << "one summary for the job:\n" << r.err;
    EXPECT_EQ(count_of(r.err, " file(s), "), 1u) << r.err;
    EXPECT_EQ(count_of(r.err, "per rank: 0: "), ranks > 1 ? 1u : 0u) << r.err;
    EXPECT_FALSE(test::file_exists(json + ".rank0"));
    const std::string got = read_file(json);
    for (const char* key : {"tokenizer", "files", "files_kept", "input_bytes", "jsonl_bytes", "lines", "blank_lines",
                            "documents", "empty_documents", "sequences", "tokens", "skipped_lines", "first_errors"})
      EXPECT_EQ(json_field(got, key), json_field(ref_json, key)) << key << "\n" << got;
    EXPECT_EQ(count_of(got, "{\"rank\": "), static_cast<size_t>(ranks)) << got;
    for (int k = 0; k < ranks; ++k)
      EXPECT_NE(got.find("{\"rank\": " + std::to_string(k) + ", \"files\": "), std::string::npos) << got;
  }
}

// Several inputs at once in one process (--files-at-once) share the workers
// and write the same bytes and totals as one input at a time.
TEST_F(SpTokenize, FilesAtOnceWriteTheSameBytes) {
  test::run_command("mkdir -p " + dir / "in");
  for (int i = 0; i < 7; ++i)
    write_file(dir / ("in/part_" + std::to_string(i) + ".jsonl"), make_corpus(40 + i * 30, 100 + i));
  auto one = tokenize("--input-dir " + dir / "in" + " --output-dir " + dir / "one --workers 4 --files-at-once 1 "
                      "--append-eod --stats-json " + dir / "one.json");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto four = tokenize("--input-dir " + dir / "in" + " --output-dir " + dir / "four --workers 4 --files-at-once 4 "
                       "--append-eod --stats-json " + dir / "four.json");
  ASSERT_EQ(four.exit_code, 0) << four.err;
  const auto ref = outputs_of(dir / "one");
  ASSERT_EQ(ref.size(), 14u);
  EXPECT_EQ(outputs_of(dir / "four"), ref);
  for (const char* key : {"files", "documents", "tokens", "jsonl_bytes"})
    EXPECT_EQ(json_field(read_file(dir / "four.json"), key), json_field(read_file(dir / "one.json"), key)) << key;
  EXPECT_EQ(tokenize("--input-dir " + dir / "in" + " --output-dir " + dir / "x --files-at-once -1").exit_code, 2);
}

// A bad line on one rank (--on-error stop) ends the whole job: every rank
// stops, the exit status is non-zero and the message names file:line.
TEST_F(SpTokenize, MpiBadLineEndsTheJobNamingFileAndLine) {
  SP_REQUIRE_FIXTURE(have_mpirun(), "OpenMPI's mpirun not installed");
  test::run_command("mkdir -p " + dir / "in");
  for (int i = 0; i < 6; ++i) write_file(dir / ("in/part_" + std::to_string(i) + ".jsonl"), make_corpus(30, i));
  write_file(dir / "in/part_3.jsonl", make_corpus(30, 3) + "{\"text\": broken\n");
  auto r = run_command(mpirun(2) + shell_quote(test::tool_path("sp_tokenize")) + " --progress none --vocab-file " +
                       shell_quote(test::gpt2_dir() + "/vocab.json") + " --input-dir " + dir / "in" + " --output-dir " +
                       dir / "out");
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.exit_code, 124) << "the job hung:\n" << r.err;
  EXPECT_NE(r.err.find(dir / "in/part_3.jsonl:31: not valid JSON"), std::string::npos) << r.err;
  // The line names the rank that met the bad line: "[rank R/2] sp_tokenize: error: file:line: reason".
  EXPECT_NE(r.err.find("/2] sp_tokenize: error: " + dir / "in/part_3.jsonl:31: "), std::string::npos) << r.err;
  EXPECT_FALSE(test::file_exists(dir / "out/part_3.jsonl_text_document.idx"));
}

TEST_F(SpTokenize, UsageAndEnvironmentErrorsAreOneClearLine) {
  struct Case {
    std::string args;
    int code;
    std::string text;
  };
  write_file(dir / "in.jsonl", "{\"text\":\"x\"}\n");
  const std::vector<Case> cases = {
      {"--input " + dir / "missing.jsonl" + " --output-prefix " + dir / "o", 1, "missing.jsonl"},
      {"--input " + dir / "in.jsonl", 2, "--output-prefix"},
      {"--output-prefix " + dir / "o", 2, "no input"},
      {"--input " + dir / "in.jsonl" + " --output-prefix o --bogus", 2, "unknown option '--bogus'"},
      {"--input " + dir / "in.jsonl" + " --output-prefix o --workers", 2, "needs a value"},
      {"--input " + dir / "in.jsonl" + " --output-prefix o --on-error maybe", 2, "--on-error"},
      {"--input " + dir / "in.jsonl" + " --output-prefix o --tokenizer-type BertWordPieceLowerCase", 2, "not supported"},
      {"--input " + dir / "in.jsonl" + " --output-prefix " + dir / "o --vocab-file " + dir / "nope.json", 1, "nope.json"},
      // Sizes that could only end in "out of memory" (exit 3) are refused up front.
      {"--input " + dir / "in.jsonl" + " --output-prefix " + dir / "o --block-size 1T", 2, "--block-size must be"},
      // An unusable --stats-json is noticed before the work, not after it.
      {"--input " + dir / "in.jsonl" + " --output-prefix " + dir / "o --stats-json " + dir / "no/such/dir/s.json", 2,
       "--stats-json: cannot use directory"},
      {"--input " + dir / "in.jsonl" + " --output-prefix " + dir / "o --stats-json " + dir.path(), 2, "is a directory"},
  };
  for (const auto& c : cases) {
    auto r = tokenize(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.text), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(test::file_exists(dir / "o_text_document.idx"));
  }
  auto help = run_command(shell_quote(test::tool_path("sp_tokenize")) + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--append-eod"), std::string::npos);
}

std::string tokenize_cmd(const std::string& args) {
  return shell_quote(test::tool_path("sp_tokenize")) + " --vocab-file " +
         shell_quote(test::gpt2_dir() + "/vocab.json") + " --progress none " + args;
}

// Many small documents, about `mb` MB of JSONL.
void write_tiny_docs(const std::string& path, size_t mb, int seed) {
  std::ofstream f(path, std::ios::binary);
  for (size_t i = 0, bytes = 0; bytes < (mb << 20); ++i) {
    const std::string line = "{\"text\":\"doc " + std::to_string(seed) + "-" + std::to_string(i) + " says hi\"}\n";
    f << line;
    bytes += line.size();
  }
}

// kill -9 in the middle of a run without checkpoints: the index scratch
// (sequence lengths and document indices, ~12 bytes a document) has no name
// to leave behind, and the rerun removes what the killed process did leave
// (its .bin temporary).
TEST_F(SpTokenize, KillNineLeavesNoIndexScratchAndTheRerunCleansUp) {
  write_tiny_docs(dir / "in.jsonl", 24, 1);
  const std::string cmd =
      tokenize_cmd("--workers 1 --checkpoint-every 0 --input " + dir / "in.jsonl" + " --output-prefix " +
                   dir / "out/x");
  test::run_command("mkdir -p " + dir / "out");
  {
    test::BackgroundCommand run(cmd);
    // Well into the run (1 MB of tokens: ~90,000 documents indexed), where a
    // named index scratch file would hold about a megabyte too.
    ASSERT_TRUE(test::wait_until(
        [&] {
          const auto t = test::temps_under(dir / "out");
          struct stat st {};
          return (!t.empty() && ::stat(t[0].c_str(), &st) == 0 && st.st_size > (1 << 20)) || !run.running();
        },
        60));
    ASSERT_TRUE(run.freeze()) << "finished before the kill; test is void";
    run.signal(SIGKILL);
    EXPECT_EQ(run.wait().exit_code, 128 + SIGKILL);
  }
  ASSERT_FALSE(test::file_exists(dir / "out/x_text_document.idx")) << "finished before the kill; test is void";
  for (const auto& name : test::list_dir(dir / "out"))
    EXPECT_EQ(name.find(".idx."), std::string::npos) << "index scratch left behind: " << name;

  auto r = test::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::list_dir(dir / "out"), (std::vector<std::string>{"x_text_document.bin", "x_text_document.idx",
                                                                   "x_text_document.sp-record"}));
  EXPECT_GT(read_indexed_dataset(dir / "out/x_text_document").document_count(), 500000u);
}

// SIGTERM (a batch system's time limit) and SIGINT (Ctrl-C) mid-run, without
// checkpoints (SpTokenizeCheckpoints has those): exit 128 + signal, a summary
// marked interrupted, no temporaries, no partial pair; the rerun finishes
// with the bytes of an uninterrupted run.
TEST_F(SpTokenize, SignalsStopCleanlyAndTheRerunMatches) {
  test::run_command("mkdir -p " + dir / "in");
  for (int i = 0; i < 4; ++i) write_file(dir / ("in/part_" + std::to_string(i) + ".jsonl"), make_corpus(20000, i));
  // The data files (records hold mtimes and hosts; each pair must have one).
  const auto tree = [](const std::string& root) {
    std::map<std::string, std::string> m;
    for (const auto& f : list_files(root, [](std::string_view rel) { return !is_record_name(std::string(rel)); }))
      m[f.relative] = read_file(f.path);
    return m;
  };
  ASSERT_EQ(test::run_command(tokenize_cmd("--input-dir " + dir / "in" + " --output-dir " + dir / "ref")).exit_code, 0);
  const auto ref = tree(dir / "ref");
  ASSERT_EQ(ref.size(), 8u);
  for (int sig : {SIGTERM, SIGINT}) {
    const std::string out = dir / ("out" + std::to_string(sig));
    const std::string cmd =
        tokenize_cmd("--workers 1 --checkpoint-every 0 --input-dir " + dir / "in" + " --output-dir " + out);
    bool mid_run = false;
    auto r = test::interrupt_while_working(cmd, out, sig, [&] { return tree(out).size() < 8; }, &mid_run);
    ASSERT_TRUE(mid_run) << "the run was over before the signal; test is void";
    EXPECT_EQ(r.exit_code, 128 + sig) << r.err;
    EXPECT_NE(r.err.find("interrupted by " + std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT")), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("sp_tokenize: interrupted after "), std::string::npos) << r.err;
    EXPECT_TRUE(test::temps_under(out).empty());
    const auto partial = tree(out);
    EXPECT_LT(partial.size(), 8u);
    for (const auto& [name, bytes] : partial) {
      EXPECT_TRUE(ref.count(name) && bytes == ref.at(name)) << name << " is not a complete output";
      const std::string stem = name.substr(0, name.size() - 4);
      EXPECT_TRUE(partial.count(stem + ".bin") && partial.count(stem + ".idx")) << name << " without its pair";
    }
    r = test::run_command(cmd);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(tree(out) == ref);
    for (const auto& [name, bytes] : ref)
      EXPECT_TRUE(test::file_exists(record_path_for(out + "/" + name.substr(0, name.size() - 4)))) << name;
  }
}

// --- The fused path: shards -> chunks -> tokens in one pass ---

std::string zstd_frame(const std::string& data, bool with_size) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, with_size ? 1 : 0);
  if (with_size) ZSTD_CCtx_setPledgedSrcSize(cctx, data.size());
  std::string out(ZSTD_compressBound(data.size()) + 64, '\0');
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  ZSTD_inBuffer i{data.data(), data.size(), 0};
  EXPECT_EQ(ZSTD_compressStream2(cctx, &o, &i, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(cctx);
  out.resize(o.pos);
  return out;
}

// Shards of every awkward kind: without a final newline, empty, several
// frames, no content size in the frame header, a plain .jsonl, a sub
// directory, and names whose order changes once ".zst" is dropped
// ("a.jsonl-x.jsonl.zst" sorts before "a.jsonl.zst", but "a.jsonl" before
// "a.jsonl-x.jsonl").
void make_shards(const std::string& dir) {
  test::run_command("mkdir -p " + shell_quote(dir + "/sub"));
  write_file(dir + "/a.jsonl.zst", zstd_frame(make_corpus(30, 1), true));
  write_file(dir + "/a.jsonl-x.jsonl.zst", zstd_frame(make_corpus(25, 2), true));
  std::string no_newline = make_corpus(20, 3);
  no_newline.pop_back();
  write_file(dir + "/b.jsonl.zst", zstd_frame(no_newline, true));
  write_file(dir + "/c_empty.jsonl.zst", zstd_frame("", true));
  write_file(dir + "/d_frames.jsonl.zst", zstd_frame(make_corpus(15, 4), true) + zstd_frame(make_corpus(35, 5), true));
  write_file(dir + "/e_stream.jsonl.zst", zstd_frame(make_corpus(40, 6), false));
  write_file(dir + "/sub/f.jsonl.zst", zstd_frame(make_corpus(10, 7), true));
  write_file(dir + "/sub/g.jsonl", make_corpus(12, 8));
  write_file(dir + "/sub/notes.txt", "not a shard\n");
}

class SpTokenizeFused : public SpTokenize {
 protected:
  std::string tool(const std::string& name) {
    std::string cmd = shell_quote(test::tool_path(name)) + " --progress none ";
    if (name == "sp_tokenize")
      cmd += "--vocab-file " + shell_quote(test::gpt2_dir() + "/vocab.json") + " --append-eod ";
    return cmd;
  }
  // sp_extract -> sp_concat -> sp_tokenize, the staged chain the fused path stands for.
  void staged(const std::string& shards, const std::string& chunking, const std::string& out) {
    const std::string ext = out + "_jsonl", chunks = out + "_chunks";
    auto r = run_command(tool("sp_extract") + "--input-dir " + shards + " --output-dir " + ext);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_command("cp " + shell_quote(shards + "/sub/g.jsonl") + " " + shell_quote(ext + "/sub/"));  // plain: as is
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string concat_chunking = chunking;
    if (concat_chunking.rfind("--chunk-size", 0) == 0) concat_chunking.replace(0, 12, "--target-size");
    r = run_command(tool("sp_concat") + "--input-dir " + ext + " --output-dir " + chunks + " " + concat_chunking);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_command(tool("sp_tokenize") + "--input-dir " + chunks + " --output-dir " + out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
};

// A fused job under mpirun stopped in the middle of its chunks, by kill -9
// of its ranks or by SIGTERM to mpirun (a batch system's time limit): the
// same command again resumes each chunk from its checkpoint and ends with the
// bytes of an uninterrupted run.
TEST_F(SpTokenizeFused, MpiJobKilledOrStoppedMidChunkResumesToTheSameBytes) {
  SP_REQUIRE_FIXTURE(have_mpirun(), "OpenMPI's mpirun not installed");
  test::run_command("mkdir -p " + dir / "shards");
  for (int i = 0; i < 8; ++i)
    write_file(dir / ("shards/s" + std::to_string(i) + ".jsonl.zst"), zstd_frame(make_corpus(400, 60 + i), true));
  const std::string flags = "--input-dir " + dir / "shards" + " --chunk-size 300K --block-size 4K --checkpoint-every 32K";
  auto r = run_command(tool("sp_tokenize") + flags + " --output-dir " + dir / "ref");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto want = outputs_of(dir / "ref");
  ASSERT_GE(want.size(), 4u) << "two chunks at least, one per rank";
  const std::string job = mpirun(2) + tool("sp_tokenize") + "--workers 1 " + flags;
  auto resumed = [](const std::string& err) { return err.find("resumed at byte ") != std::string::npos; };

  // kill -9 of every rank at its second checkpoint.
  r = run_command("SP_FAILPOINT=tokenize.after_checkpoint:2 " + job + " --output-dir " + dir / "killed");
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.exit_code, 124) << "the job hung:\n" << r.err;
  r = run_command(job + " --output-dir " + dir / "killed");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(resumed(r.err)) << r.err;
  EXPECT_NE(r.err.find(" MB of it resumed: "), std::string::npos) << "the job's summary counts the resumed part:\n"
                                                                  << r.err;
  EXPECT_EQ(outputs_of(dir / "killed"), want);

  // SIGTERM to mpirun once a checkpoint exists (each checkpoint made 0.2 s
  // slower, so the job is still at work then).
  const std::string out = dir / "stopped";
  test::BackgroundCommand run("env SP_FAILPOINT=tokenize.after_checkpoint:sleep=200 " + job + " --output-dir " + out);
  ASSERT_TRUE(test::wait_until(
      [&] {
        for (const auto& f : test::list_dir(out))
          if (ends_with(f, ".sp-checkpoint")) return true;
        return !run.running();
      },
      120));
  run.signal(SIGTERM);
  const auto stopped = run.wait();
  EXPECT_NE(stopped.exit_code, 0) << "the job was not stopped:\n" << stopped.err;
  EXPECT_NE(stopped.exit_code, 124) << "the job hung:\n" << stopped.err;
  // mpirun may return while its ranks still write their last checkpoint: a
  // rerun then would find their parts locked ("another sp_tokenize is writing").
  auto parts_free = [&] {
    for (const auto& f : test::list_dir(out)) {
      if (!ends_with(f, ".sp-part")) continue;
      const int fd = ::open((out + "/" + f).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
      ::close(fd);
      if (!free) return false;
    }
    return true;
  };
  ASSERT_TRUE(test::wait_until(parts_free, 60)) << "the stopped ranks never exited";
  r = run_command(job + " --output-dir " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(resumed(r.err)) << stopped.err << "\n" << r.err;
  EXPECT_EQ(outputs_of(out), want);
}

TEST_F(SpTokenizeFused, FusedWritesTheStagedChainsBytes) {
  make_shards(dir / "shards");
  for (const std::string chunking : {"--chunk-size 6K", "--files-per-chunk 3"}) {
    SCOPED_TRACE(chunking);
    const std::string tag = chunking.substr(2, 5);
    staged(dir / "shards", chunking, dir / ("staged_" + tag));
    const auto want = outputs_of(dir / ("staged_" + tag));
    ASSERT_GE(want.size(), 6u) << "a few chunks are needed for the test to mean anything";
    // The plan pinned beside the outputs is sp_concat's plan for the extracted files.
    const std::string one = dir / ("fused1_" + tag);
    auto r = run_command(tool("sp_tokenize") + "--input-dir " + dir / "shards" + " --output-dir " + one + " " +
                         chunking + " --stats-json " + one + ".json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(outputs_of(one), want);
    // (With --files-per-chunk no sizes are needed: the fused plan has 0 for each.)
    auto names_only = [](const std::string& plan) {
      std::string out;
      std::istringstream in(plan);
      for (std::string line; std::getline(in, line);)
        out += line.rfind("file\t", 0) == 0 ? line.substr(line.find('\t', 5)) + "\n" : line + "\n";
      return out;
    };
    const std::string fused_plan = read_file(one + "/sp_concat_plan.tsv");
    const std::string staged_plan = read_file(dir / ("staged_" + tag + "_chunks/sp_concat_plan.tsv"));
    if (chunking[2] == 'c') EXPECT_EQ(fused_plan, staged_plan);
    else EXPECT_EQ(names_only(fused_plan), names_only(staged_plan));
    EXPECT_EQ(r.err.find(".jsonl\n"), std::string::npos) << "no chunk file is named as written:\n" << r.err;
    for (const auto& f : test::list_dir(one)) EXPECT_FALSE(ends_with(f, ".jsonl")) << f << " is an intermediate file";
    if (chunking[2] == 'c')
      EXPECT_NE(r.err.find("1 shard(s) do not record their size"), std::string::npos) << r.err;
    else
      EXPECT_EQ(r.err.find("do not record"), std::string::npos) << "no sizes are needed:\n" << r.err;
    if (!have_mpirun()) continue;
    const std::string two = dir / ("fused2_" + tag);
    r = run_command(mpirun(2) + tool("sp_tokenize") + "--workers 1 --input-dir " + dir / "shards" + " --output-dir " +
                    two + " " + chunking);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(outputs_of(two), want);
    EXPECT_EQ(count_of(r.err, "sp_tokenize: done ("), 1u) << r.err;
  }
  SP_REQUIRE_FIXTURE(have_mpirun(), "OpenMPI's mpirun not installed");
}

// With only RANK/WORLD_SIZE the ranks do not talk: each makes the same plan
// (the first pins it), takes a fixed share of the chunks, and together they
// write what one process writes.
TEST_F(SpTokenizeFused, StaticRanksShareTheChunks) {
  make_shards(dir / "shards");
  const std::string args = "--input-dir " + dir / "shards" + " --chunk-size 6K --output-dir ";
  auto r = run_command(tool("sp_tokenize") + args + dir / "one");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t all = outputs_of(dir / "one").size();
  for (int rank = 0; rank < 2; ++rank) {
    r = run_command("RANK=" + std::to_string(rank) + " WORLD_SIZE=2 " + tool("sp_tokenize") + args + dir / "two");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (rank == 0) {
      const size_t share = outputs_of(dir / "two").size();
      EXPECT_GT(share, 0u);
      EXPECT_LT(share, all) << "rank 0 took every chunk";
    }
  }
  EXPECT_EQ(outputs_of(dir / "two"), outputs_of(dir / "one"));
  EXPECT_EQ(read_file(dir / "two/sp_concat_plan.tsv"), read_file(dir / "one/sp_concat_plan.tsv"));
}

TEST_F(SpTokenizeFused, DryRunPrintsThePlanAndWritesNothing) {
  make_shards(dir / "shards");
  auto r = run_command(tool("sp_tokenize") + "--input-dir " + dir / "shards" + " --output-dir " + dir / "out" +
                       " --files-per-chunk 4 --prefix part_ --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(dir / "out/part_0.jsonl  4 files"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    a.jsonl  0\n    a.jsonl-x.jsonl  0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 chunks, 8 files"), std::string::npos) << r.out;
  EXPECT_FALSE(test::file_exists(dir / "out"));
}

// A rerun keeps the chunks whose records match (every shard unchanged) and
// rebuilds a chunk one of whose shards changed.
TEST_F(SpTokenizeFused, RerunKeepsCompleteChunksAndRebuildsChangedOnes) {
  make_shards(dir / "shards");
  const std::string cmd = tool("sp_tokenize") + "--input-dir " + dir / "shards" + " --output-dir " + dir / "out" +
                          " --files-per-chunk 2 --stats-json " + dir / "s.json";
  auto r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto first = outputs_of(dir / "out");
  ASSERT_EQ(first.size(), 8u);
  r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(read_file(dir / "s.json").find("\"files_kept\": 4,"), std::string::npos) << read_file(dir / "s.json");
  EXPECT_EQ(outputs_of(dir / "out"), first);
  // b.jsonl is the second chunk's first shard (a.jsonl, a.jsonl-x.jsonl | b.jsonl, c_empty.jsonl | ...).
  write_file(dir / "shards/b.jsonl.zst", zstd_frame(make_corpus(5, 99), true));
  r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(read_file(dir / "s.json").find("\"files_kept\": 3,"), std::string::npos) << read_file(dir / "s.json");
  const auto second = outputs_of(dir / "out");
  EXPECT_NE(second.at("train_chunk_1.jsonl_text_document.bin"), first.at("train_chunk_1.jsonl_text_document.bin"));
  for (const char* kept : {"train_chunk_0.jsonl_text_document.bin", "train_chunk_2.jsonl_text_document.idx"})
    EXPECT_EQ(second.at(kept), first.at(kept)) << kept;
}

// A bad line is reported in its shard, at its line there, not at its line in
// a chunk that exists nowhere; --on-error skip lists shard:line too.
TEST_F(SpTokenizeFused, BadLinesNameTheShardAndItsLine) {
  make_shards(dir / "shards");
  write_file(dir / "shards/d_frames.jsonl.zst",
             zstd_frame(make_corpus(15, 4), true) + zstd_frame("{\"text\":\"ok\"}\n{\"text\": broken\n", true));
  const std::string cmd = tool("sp_tokenize") + "--input-dir " + dir / "shards" + " --output-dir " + dir / "out" +
                          " --chunk-size 1G";
  auto r = run_command(cmd);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(dir / "shards/d_frames.jsonl.zst:17: not valid JSON"), std::string::npos) << r.err;
  r = run_command(cmd + " --on-error skip --stats-json " + dir / "s.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("  " + dir / "shards/d_frames.jsonl.zst:17: not valid JSON"), std::string::npos) << r.err;
  EXPECT_NE(read_file(dir / "s.json").find("d_frames.jsonl.zst:17: "), std::string::npos);
  if (!have_mpirun()) return;
  r = run_command(mpirun(2) + tool("sp_tokenize") + "--input-dir " + dir / "shards" + " --output-dir " +
                  dir / "out2" + " --files-per-chunk 1");
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.exit_code, 124) << "the job hung:\n" << r.err;
  EXPECT_NE(r.err.find(dir / "shards/d_frames.jsonl.zst:17: not valid JSON"), std::string::npos) << r.err;
}

TEST_F(SpTokenize, DanglingSymlinksInTheInputDirAreReported) {
  test::run_command("mkdir -p " + dir / "in");
  write_file(dir / "in/a.jsonl", make_corpus(10, 1));
  ASSERT_EQ(::symlink((dir / "gone/b.jsonl").c_str(), (dir / "in/b.jsonl").c_str()), 0);
  auto r = tokenize("--input-dir " + dir / "in" + " --output-dir " + dir / "out --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("sp_tokenize: warning: skipping dangling symlink '" + dir / "in/b.jsonl" + "'"),
            std::string::npos) << r.err;
  EXPECT_TRUE(test::file_exists(dir / "out/a.jsonl_text_document.idx"));
}


// ---- Resume inside a file (--checkpoint-every): a rerun after kill -9 or
// SIGTERM continues from the last checkpoint with the bytes of an
// uninterrupted run. Small checkpoints and blocks keep the inputs small.
class SpTokenizeCheckpoints : public SpTokenize {
 protected:
  void SetUp() override {
    SpTokenize::SetUp();
    corpus = make_corpus(6000, 21);
    write_file(dir / "in.jsonl", corpus);
    std::string z(ZSTD_compressBound(corpus.size()), '\0');
    z.resize(ZSTD_compress(z.data(), z.size(), corpus.data(), corpus.size(), 3));
    write_file(dir / "in.jsonl.zst", z);
    // The references: no checkpoints at all.
    for (const std::string input : {"in.jsonl", "in.jsonl.zst"}) {
      auto r = run_command(cmd(input, reference(input), "--checkpoint-every 0"));
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  std::string cmd(const std::string& input, const std::string& out, const std::string& extra = "") {
    return tokenize_cmd("--workers 2 --append-eod --block-size 4K --checkpoint-every 64K --input " + dir / input +
                        " --output-prefix " + dir / (out + "/x") + " " + extra);
  }
  static std::string reference(const std::string& input) { return input == "in.jsonl" ? "ref" : "ref_zst"; }
  std::string checkpoint(const std::string& out) { return dir / (out + "/x_text_document.sp-checkpoint"); }
  // cmd(input, out) from no outputs, killed (SP_FAILPOINT) right after its n-th checkpoint. A checkpoint
  // waits for every block before it to be written; on a loaded machine one preempted block can hold back
  // several (the run's last ones are then never taken), so the run may end before the n-th. It is then run
  // again, up to 5 times: what the callers test is what follows the kill, not the count.
  CommandResult kill_after_checkpoint(int n, const std::string& input, const std::string& out) {
    CommandResult r;
    for (int attempt = 0; attempt < 5; ++attempt) {
      run_command("rm -rf " + shell_quote(dir / out));
      r = run_command("SP_FAILPOINT=tokenize.after_checkpoint:" + std::to_string(n) + " " + cmd(input, out));
      if (r.exit_code != 0) break;
    }
    return r;
  }
  // The byte the rerun says it resumed at (0: it did not resume).
  static uint64_t resumed_at(const std::string& err) {
    const std::string key = "resumed at byte ";
    const size_t at = err.find(key);
    return at == std::string::npos ? 0 : std::stoull(err.substr(at + key.size()));
  }
  // The outputs equal the reference's: data, and the record but for mtimes and the time of writing.
  void expect_reference(const std::string& out, const std::string& input = "in.jsonl") {
    const std::string p = dir / (out + "/x_text_document"), ref = dir / (reference(input) + "/x_text_document");
    EXPECT_EQ(read_file(p + ".bin"), read_file(ref + ".bin")) << out;
    EXPECT_EQ(read_file(p + ".idx"), read_file(ref + ".idx")) << out;
    const CompletionRecord got = read_record(record_path_for(p)), want = read_record(record_path_for(ref));
    EXPECT_EQ(got.options, want.options);
    EXPECT_EQ(got.counts, want.counts);
    ASSERT_EQ(got.inputs.size(), 1u);
    EXPECT_EQ(got.inputs[0].path, want.inputs[0].path);
    ASSERT_EQ(got.outputs.size(), want.outputs.size());
    for (size_t i = 0; i < got.outputs.size(); ++i) EXPECT_EQ(got.outputs[i].fingerprint, want.outputs[i].fingerprint);
    EXPECT_EQ(test::list_dir(dir / out), (std::vector<std::string>{"x_text_document.bin", "x_text_document.idx",
                                                                   "x_text_document.sp-record"}));
  }
  std::string corpus;
};

TEST_F(SpTokenizeCheckpoints, KillNineAfterACheckpointResumesToTheSameBytes) {
  for (const std::string input : {"in.jsonl", "in.jsonl.zst"})
    for (int n : {1, 4, 9}) {
      const std::string out = "out_" + input + "_" + std::to_string(n);
      CommandResult r = kill_after_checkpoint(n, input, out);
      ASSERT_EQ(r.exit_code, 128 + SIGKILL) << "every run was over before checkpoint " << n << "; test is void\n"
                                            << r.err;
      EXPECT_FALSE(test::file_exists(dir / (out + "/x_text_document.idx")));
      EXPECT_FALSE(test::file_exists(dir / (out + "/x_text_document.bin")));
      const uint64_t offset = read_record(checkpoint(out)).count("input_offset");
      EXPECT_GE(offset, n * (uint64_t{64} << 10)) << input << " " << n;
      r = run_command(cmd(input, out, "--stats-json " + dir / (out + ".json")));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      // It resumed where the checkpoint stood: only the rest was read again.
      EXPECT_EQ(resumed_at(r.err), offset) << r.err;
      EXPECT_LT(offset, corpus.size());
      EXPECT_NE(read_file(dir / (out + ".json")).find("\"jsonl_bytes\": " + std::to_string(corpus.size())),
                std::string::npos);
      expect_reference(out, input);
    }
}

TEST_F(SpTokenizeCheckpoints, KilledAtRandomMomentsResumesToTheSameBytes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 3; ++round) {
    test::BackgroundCommand run(cmd("in.jsonl", "out"));
    // Once a checkpoint exists (an earlier round's, or this one's first), at a random moment after.
    ASSERT_TRUE(test::wait_until([&] { return test::file_exists(checkpoint("out")) || !run.running(); }, 60));
    ::usleep(static_cast<useconds_t>(1000 + rng() % 40000));
    run.signal(SIGKILL);
    const auto r = run.wait();
    if (r.exit_code == 0) break;  // it finished first: nothing left to resume
    EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  }
  const bool had_checkpoint = test::file_exists(checkpoint("out"));
  ASSERT_TRUE(had_checkpoint) << "no checkpoint to resume from; test is void";
  const auto r = run_command(cmd("in.jsonl", "out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(resumed_at(r.err), 0u) << r.err;
  expect_reference("out");
}

// SIGTERM (a batch system's time limit): the blocks in flight are finished
// and a checkpoint of everything written is taken before the exit, so the
// rerun resumes past the last periodic checkpoint.
TEST_F(SpTokenizeCheckpoints, SigtermTakesACheckpointAndTheRerunResumes) {
  for (const std::string input : {"in.jsonl", "in.jsonl.zst"}) {
    const std::string out = "out_" + input;
    // No periodic checkpoint: the one found afterwards is SIGTERM's.
    test::BackgroundCommand run(cmd(input, out, "--checkpoint-every 100M"));
    ASSERT_TRUE(test::wait_until(
        [&] {
          struct stat st {};
          return (::stat((dir / (out + "/x_text_document.bin.sp-part")).c_str(), &st) == 0 && st.st_size > 20000) ||
                 !run.running();
        },
        60));
    run.signal(SIGTERM);
    auto r = run.wait();
    ASSERT_EQ(r.exit_code, 128 + SIGTERM) << "the run was over before the signal; test is void\n" << r.err;
    EXPECT_NE(r.err.find("interrupted by SIGTERM"), std::string::npos) << r.err;
    ASSERT_TRUE(test::file_exists(checkpoint(out))) << r.err;
    const uint64_t offset = read_record(checkpoint(out)).count("input_offset");
    EXPECT_GT(offset, 0u);
    r = run_command(cmd(input, out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(resumed_at(r.err), offset) << r.err;
    expect_reference(out, input);
  }
}

// A checkpoint is trusted only for the same input, tokenizer and options;
// --overwrite discards it too. The work then starts afresh and is right.
TEST_F(SpTokenizeCheckpoints, CheckpointsOfOtherInputsOrOptionsAreDiscarded) {
  const auto kill_after = [&](int n) {
    const CommandResult r = kill_after_checkpoint(n, "in.jsonl", "out");
    ASSERT_EQ(r.exit_code, 128 + SIGKILL) << "every run was over before checkpoint " << n << "; test is void\n"
                                          << r.err;
    ASSERT_TRUE(test::file_exists(checkpoint("out")));
  };
  // Other options: without --append-eod.
  kill_after(3);
  auto r = run_command(tokenize_cmd("--workers 2 --block-size 4K --checkpoint-every 64K --input " + dir / "in.jsonl" +
                                    " --output-prefix " + dir / "out/x"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("discarding the checkpoint '" + checkpoint("out") + "' (it was made with append_eod true"),
            std::string::npos) << r.err;
  EXPECT_EQ(resumed_at(r.err), 0u) << r.err;
  r = run_command(tokenize_cmd("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "noeod/x"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir / "out/x_text_document.bin"), read_file(dir / "noeod/x_text_document.bin"));
  EXPECT_FALSE(test::file_exists(checkpoint("out")));
  // --overwrite.
  kill_after(2);
  r = run_command(cmd("in.jsonl", "out", "--overwrite"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(resumed_at(r.err), 0u) << r.err;
  expect_reference("out");
  // A changed input: the checkpoint's position means nothing in it.
  run_command("rm -r " + dir / "out");  // else the complete outputs would be kept
  kill_after(2);
  const std::string other = make_corpus(6000, 22);
  write_file(dir / "in.jsonl", other);
  r = run_command(cmd("in.jsonl", "out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("discarding the checkpoint"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("in.jsonl' is " + std::to_string(other.size()) + " bytes now"), std::string::npos) << r.err;
  EXPECT_EQ(resumed_at(r.err), 0u) << r.err;
  ASSERT_EQ(run_command(cmd("in.jsonl", "ref2", "--checkpoint-every 0")).exit_code, 0);
  EXPECT_EQ(read_file(dir / "out/x_text_document.bin"), read_file(dir / "ref2/x_text_document.bin"));
  EXPECT_EQ(read_file(dir / "out/x_text_document.idx"), read_file(dir / "ref2/x_text_document.idx"));
}

// A bad line after several checkpoints: the input is at fault, so nothing of
// the work is kept for a rerun (no part, no checkpoint), as without checkpoints.
TEST_F(SpTokenizeCheckpoints, ABadLineLeavesNoPartsNorCheckpoint) {
  write_file(dir / "bad.jsonl", corpus + "{\"text\": 1}\n");
  const auto r = run_command(cmd("bad.jsonl", "out"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.jsonl:6001: "), std::string::npos) << r.err;
  EXPECT_TRUE(test::list_dir(dir / "out").empty()) << test::list_dir(dir / "out")[0];
}

// The parts have fixed names: a second writer of the same outputs (a second
// job, a rank orphaned by a killed mpirun) is refused while the first holds them.
TEST_F(SpTokenizeCheckpoints, ASecondWriterOfTheSameOutputsIsRefused) {
  test::run_command("mkdir -p " + dir / "out");
  const std::string part = dir / "out/x_text_document.bin.sp-part";
  const int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto r = run_command(cmd("in.jsonl", "out"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("another sp_tokenize is writing '" + dir / "out/x_text_document" + "'"), std::string::npos)
      << r.err;
  ::close(fd);
  r = run_command(cmd("in.jsonl", "out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_reference("out");
}

// --checkpoint-every 0: no part or checkpoint file is ever named (a run
// killed just before its .bin is renamed has only AtomicFile temporaries), and
// the parts of an earlier checkpointing run are removed, not resumed.
TEST_F(SpTokenizeCheckpoints, CheckpointEveryZeroNamesNoCheckpointFiles) {
  auto r = kill_after_checkpoint(2, "in.jsonl", "out");
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  r = run_command(cmd("in.jsonl", "out", "--checkpoint-every 0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(resumed_at(r.err), 0u) << r.err;
  expect_reference("out");
  r = run_command("SP_FAILPOINT=atomic_file.before_rename " + cmd("in.jsonl", "out0", "--checkpoint-every 0"));
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  const auto names = test::list_dir(dir / "out0");
  ASSERT_EQ(names.size(), 2u);  // the .bin's and the .idx's temporaries
  for (const auto& name : names) EXPECT_NE(name.find(".tmp-"), std::string::npos) << name;
  const auto help = run_command(shell_quote(test::tool_path("sp_tokenize")) + " --help");
  EXPECT_NE(help.out.find("--checkpoint-every SIZE"), std::string::npos) << help.out;
}

TEST_F(SpTokenize, PeakMemoryDoesNotGrowWithInputSize) {
  // Many tiny documents: an index kept in memory would grow by ~20 bytes per
  // document (32 MB more for the large input), tokens kept in memory by far
  // more. The small input is past the pipeline's steady state too (more than
  // the 8 blocks of 1 MB in flight with 2 workers, ~16 MB of buffers), so
  // what differs is only what grows with the input.
  auto make = [&](const std::string& path, size_t docs) {
    std::ofstream f(path, std::ios::binary);
    for (size_t i = 0; i < docs; ++i) f << "{\"text\":\"doc " << i << " says hi\"}\n";
  };
  make(dir / "small.jsonl", 400000);
  make(dir / "large.jsonl", 2000000);
  auto cmd = [&](const std::string& name) {
    return shell_quote(test::tool_path("sp_tokenize")) + " --quiet --workers 2 --vocab-file " +
           shell_quote(test::gpt2_dir() + "/vocab.json") + " --input " + dir / (name + ".jsonl") +
           " --output-prefix " + dir / name;
  };
  const long small = peak_rss_kib(cmd("small"));
  const long large = peak_rss_kib(cmd("large"));
  EXPECT_EQ(read_indexed_dataset(dir / "large_text_document").document_count(), 2000000u);
  EXPECT_LT(large, small + 16 * 1024) << "peak RSS grew from " << small << " KiB to " << large << " KiB";
}

// ---- Every tokenizer family end to end: the .bin/.idx bytes hold, per
// document, the oracle's ids (tests/golden/tok_*.jsonl: tiktoken,
// Python's sentencepiece) and the type's EOD.
class SpTokenizeFamilies : public ::testing::Test {
 protected:
  void SetUp() override {
    models = test::tokenizers_dir();
    SP_REQUIRE_FIXTURE(!models.empty() && test::file_exists(models + "/tiktoken/cl100k_base.tiktoken") &&
                           test::file_exists(models + "/spm/bpe_bytefallback.model"),
                       "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  }
  static CommandResult tokenize(const std::string& args) {
    return run_command(shell_quote(test::tool_path("sp_tokenize")) + " --progress none " + args);
  }
  // The golden texts as JSONL, and their ids.
  std::vector<test::GoldenLine> golden_input(const std::string& name, const std::string& jsonl) {
    auto lines = test::read_golden(std::string(SP_SOURCE_DIR) + "/tests/golden/tok_" + name + ".jsonl");
    std::string out;
    for (const auto& l : lines) out += "{\"text\":" + json_string(l.text) + "}\n";
    write_file(jsonl, out);
    return lines;
  }
  // Megatron's preprocess_data.py: EOD after each document with tokens.
  static void expect_documents(const IndexedDataset& ds, const std::vector<test::GoldenLine>& lines, uint32_t eod,
                               bool (*checked)(const std::string&) = nullptr) {
    ASSERT_EQ(ds.document_count(), lines.size());
    size_t compared = 0;
    for (size_t d = 0; d < lines.size(); ++d) {
      if (checked && !checked(lines[d].text)) continue;
      auto want = lines[d].ids;
      if (!want.empty()) want.push_back(eod);
      EXPECT_EQ(ds.document(d), want) << "document " << d << ": " << lines[d].text.substr(0, 60);
      ++compared;
    }
    EXPECT_GT(compared, lines.size() * 9 / 10);
  }
  std::string models;
  TempDir dir;
};

TEST_F(SpTokenizeFamilies, TikTokenizerTiktokenFilesAreEncodeOrdinary) {
  // o200k_base: tiktoken_tokenizer_test (the same loader; one model here keeps this binary fast).
  for (const auto& [name, eod] : {std::pair{"cl100k", 100257u}}) {
    const auto lines = golden_input(name, dir / "in.jsonl");
    auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / name + " --append-eod" +
                      " --tokenizer-type TikTokenizer --tokenizer-model " + models + "/tiktoken/" + name +
                      "_base.tiktoken --workers 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const IndexedDataset ds = read_indexed_dataset(dir / name + "_text_document");
    EXPECT_EQ(ds.dtype, TokenDtype::kInt32);
    expect_documents(ds, lines, eod);
  }
}

bool names_no_megatron_special(const std::string& text) {
  for (const char* s : {"<unk>", "<s>", "</s>", "<mask>", "<pad>", "<cls>", "<sep>", "<SPECIAL_"})
    if (text.find(s) != std::string::npos) return false;
  return true;
}

TEST_F(SpTokenizeFamilies, TikTokenizerMegatronJson) {
  const std::string model = models + "/tiktoken/cl100k_megatron.json";
  for (const char* pattern : {"v2"}) {  // v1: tiktoken_tokenizer_test
    const auto lines = golden_input(std::string("megatron_cl100k_") + pattern, dir / "in.jsonl");
    auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / pattern + " --append-eod" +
                      " --tokenizer-type TikTokenizer --tokenizer-model " + model + " --tiktoken-pattern " + pattern +
                      " --vocab-size 101256 --tiktoken-num-special-tokens 1000 --workers 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Lines naming Megatron's special tokens encode them as specials (tiktoken_tokenizer_test checks them).
    expect_documents(read_indexed_dataset(dir / pattern + "_text_document"), lines, 2, names_no_megatron_special);
  }
  // Megatron's default vocabulary size (131072) needs more tokens than cl100k has.
  auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "d --tokenizer-type TikTokenizer" +
                    " --tokenizer-model " + model);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("give --vocab-size 101256"), std::string::npos) << r.err;
}

TEST_F(SpTokenizeFamilies, SentencePieceTypesAreEncodeAsIdsWithEos) {
  const auto lines = golden_input("spm_bpe", dir / "in.jsonl");
  for (const char* type : {"SentencePieceTokenizer", "GPTSentencePieceTokenizer", "Llama2Tokenizer"}) {
    auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / type + " --append-eod" +
                      " --tokenizer-type " + type + " --tokenizer-model " + models + "/spm/bpe_bytefallback.model");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const IndexedDataset ds = read_indexed_dataset(dir / type + "_text_document");
    EXPECT_EQ(ds.dtype, TokenDtype::kUint16);
    expect_documents(ds, lines, 2);
  }
}

// HuggingFaceTokenizer: tokenizer.json with its template's special tokens
// (Mistral's <s>) or without them; EOD is tokenizer_config.json's eos_token.
TEST_F(SpTokenizeFamilies, HuggingFaceTokenizerWithAndWithoutSpecialTokens) {
  SP_REQUIRE_FIXTURE(test::file_exists(models + "/llama2/tokenizer.json"), "llama2/tokenizer.json not fetched");
  for (const auto& [field, flag] : {std::pair{"ids", ""}, std::pair{"ids_no_special",
                                                                   " --tokenizer-hf-no-include-special-tokens"}}) {
    golden_input("llama2", dir / "in.jsonl");
    const auto lines = test::read_golden(std::string(SP_SOURCE_DIR) + "/tests/golden/tok_llama2.jsonl", field);
    auto r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / field + " --append-eod" +
                      " --tokenizer-type HuggingFaceTokenizer --tokenizer-model " + models + "/llama2" + flag);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const IndexedDataset ds = read_indexed_dataset(dir / field + "_text_document");
    EXPECT_EQ(ds.dtype, TokenDtype::kUint16);
    expect_documents(ds, lines, 2);  // "</s>"
  }
}

// A small rank file: the 256 bytes, then a few merges, as OpenAI's
// .tiktoken lines or as Megatron's JSON list.
std::string small_ranks(bool megatron_json) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  // "bC" first: v1 keeps "abCD" one piece and merges bC; v2 splits it at the case change.
  for (const char* t : {"bC", "ab", "cd", "abcd", " ab", "He", "ll", "llo", "Hello"}) tokens.emplace_back(t);
  std::string out = megatron_json ? "[" : "";
  for (size_t r = 0; r < tokens.size(); ++r)
    out += megatron_json ? std::string(r ? "," : "") + "{\"rank\":" + std::to_string(r) + ",\"token_bytes\":\"" +
                               test::base64(tokens[r]) + "\",\"token_str\":\"\"}"
                         : test::base64(tokens[r]) + " " + std::to_string(r) + "\n";
  return out + (megatron_json ? "]" : "");
}
constexpr int kSmallRanks = 265;

// Completion records carry the tokenizer's identity: its model file and every
// flag that changes ids make another record, so the outputs are rebuilt.
TEST_F(SpTokenizeFamilies, RecordsChangeWithTheModelAndTheTokenizerFlags) {
  write_file(dir / "in.jsonl", "{\"text\":\"Hello <s> world abCD abcd 12345\"}\n{\"text\":\"\"}\n");
  write_file(dir / "small.json", small_ranks(true));
  write_file(dir / "small.tiktoken", small_ranks(false));
  const std::string base = "--input " + dir / "in.jsonl" + " --output-prefix " + dir / "p --append-eod ";
  const std::string tik = "--tokenizer-type TikTokenizer --tokenizer-model " + dir / "small.json" + " ";
  const std::string spm = "--tokenizer-type SentencePieceTokenizer --tokenizer-model " + models + "/spm/";
  const std::string v1_500 = " --tiktoken-pattern v1 --tiktoken-num-special-tokens 500";
  const std::vector<std::string> runs = {
      tik + "--vocab-size " + std::to_string(1000 + kSmallRanks),
      tik + "--vocab-size " + std::to_string(1000 + kSmallRanks) + " --tiktoken-pattern v1",
      tik + "--vocab-size " + std::to_string(1000 + kSmallRanks - 1) + " --tiktoken-pattern v1",
      tik + "--vocab-size " + std::to_string(500 + kSmallRanks) + v1_500,
      tik + "--vocab-size " + std::to_string(500 + kSmallRanks) + v1_500 + " --eod-id 1",
      tik + "--vocab-size " + std::to_string(500 + kSmallRanks) + v1_500 + " --eod-token '<pad>'",
      "--tokenizer-type TikTokenizer --tokenizer-model " + dir / "small.tiktoken" + " --tiktoken-pattern v1",
      "--tokenizer-type TikTokenizer --tokenizer-model " + dir / "small.tiktoken" + " --tiktoken-pattern cl100k_base",
      spm + "bpe_bytefallback.model",
      spm + "unigram_nfkc.model",
      "--tokenizer-type Llama2Tokenizer --tokenizer-model " + models + "/spm/unigram_nfkc.model",
  };
  std::vector<std::string> outputs;
  for (size_t i = 0; i < runs.size(); ++i) {
    auto r = tokenize(base + runs[i]);
    ASSERT_EQ(r.exit_code, 0) << runs[i] << "\n" << r.err;
    if (i > 0) {
      EXPECT_NE(r.err.find("rebuilding"), std::string::npos) << runs[i] << "\n" << r.err;
    }
    outputs.push_back(read_file(dir / "p_text_document.bin"));
  }
  // Each of these changed the ids or the EOD (the record follows the identity, not the bytes).
  for (size_t i : {1, 2, 3, 4, 5, 9}) EXPECT_NE(outputs[i], outputs[i - 1]) << runs[i];
  // The same command again keeps the pair; changing the model file's bytes rebuilds it.
  auto again = tokenize(base + runs[6]);
  EXPECT_NE(again.err.find("rebuilding"), std::string::npos) << again.err;
  again = tokenize(base + runs[6]);
  EXPECT_NE(again.err.find("kept"), std::string::npos) << again.err;
  write_file(dir / "small.tiktoken", small_ranks(false) + "\n");
  again = tokenize(base + runs[6]);
  EXPECT_NE(again.err.find("rebuilding"), std::string::npos) << again.err;
}

TEST_F(SpTokenizeFamilies, NotesPrintOnceAndMegatronFlagsAreAcceptedOrRefused) {
  write_file(dir / "in.jsonl", "{\"text\":\"ab cd\"}\n{\"text\":\"ef\"}\n");
  write_file(dir / "small.tiktoken", small_ranks(false));
  const std::string base = "--input " + dir / "in.jsonl" + " --output-prefix " + dir / "p " +
                           "--tokenizer-type TikTokenizer --tokenizer-model " + dir / "small.tiktoken" +
                           " --workers 2 ";
  auto r = tokenize(base + "--tiktoken-pattern '[a-z]+| '");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t at = r.err.find("the slower path");
  EXPECT_NE(at, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("the slower path", at + 1), std::string::npos) << "printed once\n" << r.err;
  r = tokenize(base + "--tiktoken-pattern '[a-z]+| ' --overwrite --quiet");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("the slower path"), std::string::npos) << r.err;
  // Harmless Megatron flags are accepted; flags that would change ids unimplemented are refused.
  r = tokenize(base + "--tiktoken-pattern v2 --vocab-extra-ids 100 --make-vocab-size-divisible-by 128 "
                      "--tokenizer-hf-use-fast --tokenizer-hf-include-special-tokens");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const std::string refused : {"--tokenizer-special-tokens '<x>'", "--tokenizer-metadata m.json",
                                    "--tokenizer-hf-no-use-fast", "--tokenizer-sentencepiece-legacy"}) {
    r = tokenize(base + "--tiktoken-pattern v2 " + refused);
    EXPECT_EQ(r.exit_code, 2) << refused;
    EXPECT_NE(r.err.find("is not supported"), std::string::npos) << r.err;
  }
  for (const std::string& bad : {std::string("--tokenizer-type Llama2Tokenizer"),  // needs --tokenizer-model
                                 std::string("--tokenizer-type Llama2Tokenizer --tokenizer-model x.model "
                                             "--tiktoken-pattern v2"),
                                 std::string("--tokenizer-type Llama2Tokenizer --tokenizer-model x.model "
                                             "--eod-id 1 --eod-token '</s>'")}) {
    r = tokenize("--input " + dir / "in.jsonl" + " --output-prefix " + dir / "q " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.err;
  }
  auto help = run_command(shell_quote(test::tool_path("sp_tokenize")) + " --help");
  EXPECT_EQ(help.out.find("id 50256) to each"), std::string::npos) << "the EOD depends on the type";
}

}  // namespace
}  // namespace sp
