// Verification, summaries, --show, --compare and the HTML page of
// sp/inspect.h, each corruption on a fixture made for it: a valid dataset
// written by IndexedDatasetWriter, then damaged at a known byte.
#include "sp/inspect.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <numeric>

#include "sp/error.h"
#include "sp/interrupt.h"
#include "sp/record.h"
#include "sp/tokenizer.h"
#include "test_support.h"

namespace sp {
namespace {

using test::TempDir;

constexpr uint32_t kEod = 50256;
constexpr uint64_t kHeader = 34;  // .idx arrays start here

using Docs = std::vector<std::vector<uint32_t>>;

// One sequence per document (an empty document has none, as Megatron writes it).
void write_dataset(const std::string& prefix, const Docs& docs, TokenDtype dtype = TokenDtype::kUint16) {
  IndexedDatasetWriter w(prefix, dtype);
  for (const auto& d : docs) {
    const int32_t len[] = {static_cast<int32_t>(d.size())};
    w.add_document(d, d.empty() ? std::span<const int32_t>() : std::span<const int32_t>(len));
  }
  w.finish();
}

// Five documents ending in the EOD, one empty: lengths 3, 0, 5, 2, 4.
Docs sample_docs() { return {{10, 11, kEod}, {}, {1, 2, 3, 4, kEod}, {7, kEod}, {5, 6, 7, kEod}}; }

void patch(const std::string& path, uint64_t offset, const void* bytes, size_t n) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(n));
}
template <class T>
void patch_value(const std::string& path, uint64_t offset, T v) {
  patch(path, offset, &v, sizeof v);
}

DatasetSummary verify(const std::string& prefix, VerifyOptions o = {}) {
  const InspectReport r = verify_datasets({prefix}, o);
  EXPECT_EQ(r.datasets.size(), 1u);
  return r.datasets.at(0);
}

std::string all_problems(const DatasetSummary& s) {
  std::string t;
  for (const auto& p : s.problems) t += p + "\n";
  return t;
}

bool has_problem(const DatasetSummary& s, const std::string& a, const std::string& b = "") {
  for (const auto& p : s.problems)
    if (p.find(a) != std::string::npos && p.find(b) != std::string::npos) return true;
  return false;
}

VerifyOptions strict() {
  VerifyOptions o;
  o.vocab_size = 50257;
  o.eod_id = kEod;
  return o;
}

TEST(InspectVerify, ValidDatasetIsOkAndSummarisedExactly) {
  TempDir d;
  write_dataset(d / "ds", sample_docs());
  const DatasetSummary s = verify(d / "ds", strict());
  EXPECT_TRUE(s.ok()) << all_problems(s);
  EXPECT_TRUE(s.header_ok);
  EXPECT_TRUE(s.structure_ok);
  EXPECT_EQ(s.dtype, TokenDtype::kUint16);
  EXPECT_EQ(s.documents, 5u);
  EXPECT_EQ(s.sequences, 4u);
  EXPECT_EQ(s.tokens, 14u);
  EXPECT_EQ(s.empty_documents, 1u);
  EXPECT_EQ(s.bin_bytes, 28u);
  EXPECT_EQ(s.idx_bytes, kHeader + 4 * 12 + 6 * 8);
  EXPECT_EQ(s.record, RecordCheck::kAbsent);
  // Lengths 0 2 3 4 5: nearest rank.
  EXPECT_EQ(s.document_lengths.count(), 5u);
  EXPECT_EQ(s.document_lengths.min(), 0u);
  EXPECT_EQ(s.document_lengths.percentile(50), 3u);
  EXPECT_EQ(s.document_lengths.percentile(90), 5u);
  EXPECT_EQ(s.document_lengths.max(), 5u);
  EXPECT_DOUBLE_EQ(s.document_lengths.mean(), 14.0 / 5);
}

TEST(InspectVerify, TotalsAddUpOverDatasets) {
  TempDir d;
  write_dataset(d / "a", sample_docs());
  write_dataset(d / "b", {{1, 2, kEod}}, TokenDtype::kInt32);
  const InspectReport r = verify_datasets({d / "a", d / "b"}, strict());
  ASSERT_EQ(r.datasets.size(), 2u);
  EXPECT_EQ(r.datasets[1].dtype, TokenDtype::kInt32);
  EXPECT_EQ(r.total.documents, 6u);
  EXPECT_EQ(r.total.tokens, 17u);
  EXPECT_EQ(r.total.bin_bytes, 28u + 12u);
  EXPECT_EQ(r.total.document_lengths.count(), 6u);
  EXPECT_EQ(r.problem_count(), 0u);
}

TEST(InspectVerify, TruncatedBinIsNamedWithTheFirstSequenceCutOff) {
  TempDir d;
  write_dataset(d / "ds", sample_docs());
  ASSERT_EQ(::truncate((d / "ds.bin").c_str(), 26), 0);  // the last token of sequence 3 is gone
  const DatasetSummary s = verify(d / "ds");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.structure_ok);
  EXPECT_EQ(s.problem_count, 1u) << all_problems(s);
  EXPECT_TRUE(has_problem(s, d / "ds.bin: 26 bytes", "need 28 (truncated: sequence 3 and later")) << all_problems(s);
}

TEST(InspectVerify, WrongPointerIsNamedWithItsIdxOffset) {
  TempDir d;
  write_dataset(d / "ds", sample_docs());
  const uint64_t S = 4;
  patch_value<int64_t>(d / "ds.idx", kHeader + 4 * S + 8 * 2, 12);  // sequence 2 really starts at 16
  const DatasetSummary s = verify(d / "ds", strict());
  EXPECT_FALSE(s.structure_ok);
  // Sequence 2 does not follow sequence 1, and sequence 3 does not follow sequence 2.
  EXPECT_TRUE(has_problem(s, "sequence 2 (.idx byte " + std::to_string(kHeader + 4 * S + 16) + "): pointer 12",
                          "expected 16"))
      << all_problems(s);
  EXPECT_TRUE(
      has_problem(s, "sequence 3 (.idx byte 74): pointer 20, expected 16 (sequence 2's pointer plus its 2 tokens)"))
      << all_problems(s);
  EXPECT_TRUE(has_problem(s, "EOD not checked")) << all_problems(s);
  EXPECT_EQ(s.document_lengths.count(), 0u);  // no statistics from a damaged index
}

TEST(InspectVerify, NegativeLengthIsNamed) {
  TempDir d;
  write_dataset(d / "ds", sample_docs());
  patch_value<int32_t>(d / "ds.idx", kHeader + 4 * 1, -5);
  const DatasetSummary s = verify(d / "ds");
  EXPECT_TRUE(has_problem(s, "sequence 1 (.idx byte " + std::to_string(kHeader + 4) + "): negative length -5"))
      << all_problems(s);
}

TEST(InspectVerify, NonMonotoneDocumentIndexIsNamed) {
  TempDir d;
  write_dataset(d / "ds", sample_docs());  // document indices 0 1 1 2 3 4
  const uint64_t base = kHeader + 12 * 4;
  patch_value<int64_t>(d / "ds.idx", base + 8 * 3, 0);
  const DatasetSummary s = verify(d / "ds");
  EXPECT_EQ(s.problem_count, 1u) << all_problems(s);
  EXPECT_TRUE(has_problem(s, "document index 3 (.idx byte " + std::to_string(base + 24) + "): 0 is below",
                          "(1)"))
      << all_problems(s);
}

TEST(InspectVerify, OutOfRangeDocumentIndicesAreNamed) {
  TempDir d;
  write_dataset(d / "ds", sample_docs());
  const uint64_t base = kHeader + 12 * 4;
  patch_value<int64_t>(d / "ds.idx", base + 8 * 2, 99);
  patch_value<int64_t>(d / "ds.idx", base + 8 * 4, -1);
  DatasetSummary s = verify(d / "ds");
  EXPECT_TRUE(has_problem(s, "document index 2", "99 is outside 0..4")) << all_problems(s);
  EXPECT_TRUE(has_problem(s, "document index 4", "-1 is outside 0..4")) << all_problems(s);

  write_dataset(d / "ds", sample_docs());
  patch_value<int64_t>(d / "ds.idx", base + 8 * 5, 3);  // the last must be the sequence count
  s = verify(d / "ds");
  EXPECT_TRUE(has_problem(s, "document index 5", "the last is 3, expected the sequence count 4")) << all_problems(s);

  write_dataset(d / "ds", sample_docs());
  patch_value<int64_t>(d / "ds.idx", base, 1);  // the first must be 0
  s = verify(d / "ds");
  EXPECT_TRUE(has_problem(s, "document index 0", "1, expected 0")) << all_problems(s);
}

TEST(InspectVerify, BadHeadersAreNamed) {
  TempDir d;
  struct Case {
    uint64_t offset;
    uint8_t byte;
    const char* says;
  };
  for (const Case c : {Case{0, 'X', "bad magic"}, Case{9, 2, "unsupported version 2"},
                       Case{17, 9, "unknown token dtype code 9"}, Case{18, 7, "does not match its counts"}}) {
    write_dataset(d / "ds", sample_docs());
    patch_value<uint8_t>(d / "ds.idx", c.offset, c.byte);
    const DatasetSummary s = verify(d / "ds", strict());
    EXPECT_FALSE(s.header_ok) << c.says;
    EXPECT_EQ(s.problem_count, 1u) << all_problems(s);
    EXPECT_TRUE(has_problem(s, d / "ds.idx: ", c.says)) << all_problems(s);
  }
}

TEST(InspectVerify, IdsAtOrAboveTheVocabularyAreNamedWithTheirPlace) {
  TempDir d;
  write_dataset(d / "ds", {{1, 2, kEod}, {50257, 60000, kEod}});
  const DatasetSummary s = verify(d / "ds", strict());
  EXPECT_EQ(s.problem_count, 2u) << all_problems(s);
  EXPECT_TRUE(
      has_problem(s, ".bin byte 6 (sequence 1, token 0): token id 50257 is not below the vocabulary size 50257"))
      << all_problems(s);
  EXPECT_TRUE(has_problem(s, ".bin byte 8 (sequence 1, token 1): token id 60000")) << all_problems(s);
  // Without a vocabulary size, uint16 ids cannot be wrong.
  EXPECT_TRUE(verify(d / "ds").ok());
}

TEST(InspectVerify, NegativeIdsOfSignedDtypesAreFoundWithoutAVocabulary) {
  TempDir d;
  write_dataset(d / "ds", {{1, 0xFFFFFFFFu, kEod}}, TokenDtype::kInt32);
  const DatasetSummary s = verify(d / "ds");
  EXPECT_TRUE(has_problem(s, ".bin byte 4 (sequence 0, token 1): token id -1 is negative")) << all_problems(s);
}

TEST(InspectVerify, MissingEodIsNamedPerDocument) {
  TempDir d;
  write_dataset(d / "ds", {{1, kEod}, {}, {3, 4}, {kEod}});
  const DatasetSummary s = verify(d / "ds", strict());
  EXPECT_EQ(s.problem_count, 1u) << all_problems(s);
  EXPECT_TRUE(has_problem(s, "document 2 (.bin byte 6, sequence 1): ends with id 4, not the EOD 50256"))
      << all_problems(s);
}

TEST(InspectVerify, CompletionRecordChecksumsAreCompared) {
  TempDir d;
  const std::string prefix = d / "ds";
  write_dataset(prefix, sample_docs());
  CompletionRecord r;
  r.path = record_path_for(prefix);
  r.tool = "sp_tokenize";
  r.outputs = {identify_output(bin_path(prefix)), identify_output(idx_path(prefix))};
  write_record(r);
  EXPECT_EQ(verify(prefix).record, RecordCheck::kMatched);

  const uint16_t other = 12;  // same size, other contents: only the checksum can tell
  patch_value(bin_path(prefix), 0, other);
  DatasetSummary s = verify(prefix);
  EXPECT_EQ(s.record, RecordCheck::kMismatched);
  EXPECT_TRUE(has_problem(s, bin_path(prefix) + ": checksum", "differs from its completion record")) << all_problems(s);

  VerifyOptions skip;
  skip.check_records = false;
  s = verify(prefix, skip);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.record, RecordCheck::kSkipped);
}

TEST(InspectVerify, AllProblemsAreCountedAndTheFirstKeptInFileOrder) {
  TempDir d;
  Docs docs;
  for (uint32_t i = 0; i < 100; ++i) docs.push_back({60000 + i, kEod});
  write_dataset(d / "ds", docs);
  VerifyOptions o = strict();
  o.max_problems = 5;
  const DatasetSummary s = verify(d / "ds", o);
  EXPECT_EQ(s.problem_count, 100u);
  ASSERT_EQ(s.problems.size(), 6u) << all_problems(s);
  for (int i = 0; i < 5; ++i) EXPECT_NE(s.problems[i].find("token id " + std::to_string(60000 + i)), std::string::npos);
  EXPECT_NE(s.problems[5].find("and 95 more"), std::string::npos);
}

// More sequences and .bin bytes than one parallel task takes: problems in
// several tasks are all found, named by their global position, kept in order.
TEST(InspectVerify, ProblemsAcrossParallelTasksKeepTheirPositions) {
  TempDir d;
  const uint64_t n = (uint64_t{1} << 20) + 300000;  // documents of 4 int32 tokens: 2 sequence tasks, 2 .bin tasks
  {
    IndexedDatasetWriter w(d / "ds", TokenDtype::kInt32);
    DocumentBatch b;
    std::vector<uint32_t> ids;
    for (uint64_t i = 0; i < n; ++i) {
      const uint32_t last = i == n - 7 ? 5 : kEod;  // one missing EOD, in the second task
      const uint32_t bad = i == 3 || i == n - 2 ? 70000 : 9;
      for (uint32_t t : {1u, bad, 3u, last}) ids.push_back(t);
      b.sequence_lengths.push_back(4);
      b.sequences_per_document.push_back(1);
    }
    append_tokens(TokenDtype::kInt32, ids, b.token_bytes);
    w.append(b);
    w.finish();
  }
  VerifyOptions o = strict();
  const DatasetSummary s = verify(d / "ds", o);
  EXPECT_EQ(s.tokens, 4 * n);
  EXPECT_EQ(s.document_lengths.percentile(50), 4u);
  ASSERT_EQ(s.problem_count, 3u) << all_problems(s);
  EXPECT_TRUE(has_problem(s, ".bin byte 52 (sequence 3, token 1): token id 70000")) << all_problems(s);
  EXPECT_TRUE(has_problem(s, "(sequence " + std::to_string(n - 2) + ", token 1): token id 70000")) << all_problems(s);
  EXPECT_TRUE(has_problem(s, "document " + std::to_string(n - 7) + " (.bin byte " + std::to_string((n - 7) * 16 + 12),
                          "ends with id 5"))
      << all_problems(s);
  EXPECT_LT(s.problems[0].find("sequence 3,"), std::string::npos);  // file order within a kind
}

TEST(InspectVerify, UnopenableDatasetIsAProblemNotAnException) {
  TempDir d;
  write_dataset(d / "ds", sample_docs());
  ASSERT_EQ(::unlink((d / "ds.bin").c_str()), 0);
  const DatasetSummary s = verify(d / "ds");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(has_problem(s, d / "ds.bin")) << all_problems(s);
}

// A signal stops verification (Interrupted, so the tool exits 128 + signal)
// instead of returning a report that checked only part of the data. In a
// child process: the recorded signal cannot be taken back.
TEST(InspectVerify, ASignalStopsVerificationWithoutAVerdict) {
  TempDir d;
  write_dataset(d / "ds", sample_docs());
  EXPECT_EXIT(
      {
        install_interrupt_handlers();
        ::raise(SIGTERM);
        try {
          verify_datasets({d / "ds"}, strict());
        } catch (const Interrupted& e) {
          ::_exit(e.signal == SIGTERM ? 0 : 11);
        }
        ::_exit(12);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(LengthHistogram, ExactBelow256AndWithinOnePercentAbove) {
  LengthHistogram h;
  for (uint64_t v = 1; v <= 200; ++v) h.add(v);
  EXPECT_EQ(h.percentile(50), 100u);
  EXPECT_EQ(h.percentile(99), 198u);
  EXPECT_EQ(h.percentile(100), 200u);
  LengthHistogram big;
  big.add(1000003, 3);
  big.add(5);
  EXPECT_EQ(big.percentile(10), 5u);
  const uint64_t p = big.percentile(90);
  EXPECT_LE(p, 1000003u);
  EXPECT_GE(p, 1000003u - 1000003u / 128);
  EXPECT_EQ(big.max(), 1000003u);
  h.merge(big);
  EXPECT_EQ(h.count(), 204u);
  EXPECT_EQ(h.max(), 1000003u);
  EXPECT_EQ(h.min(), 1u);
  const auto bins = big.log2_bins();  // bin k: [2^(k-1), 2^k)
  ASSERT_EQ(bins.size(), 21u);
  EXPECT_EQ(bins[3], 1u);   // 5
  EXPECT_EQ(bins[20], 3u);  // 1000003 < 2^20
}

TEST(InspectReports, JsonParsesAndHoldsTheNumbers) {
  TempDir d;
  write_dataset(d / "a", sample_docs());
  write_dataset(d / "b", {{1, 2}});
  const InspectReport r = verify_datasets({d / "a", d / "b"}, strict());
  const std::string json = inspect_json(r);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_FALSE(doc["ok"].get_bool().value());
  auto datasets = doc["datasets"].get_array().value();
  ASSERT_EQ(datasets.size(), 2u);
  EXPECT_EQ(std::string(datasets.at(0)["prefix"].get_string().value()), d / "a");
  EXPECT_EQ(datasets.at(0)["tokens"].get_uint64().value(), 14u);
  EXPECT_EQ(datasets.at(0)["empty_documents"].get_uint64().value(), 1u);
  EXPECT_EQ(datasets.at(0)["document_length"]["p50"].get_uint64().value(), 3u);
  EXPECT_EQ(std::string(datasets.at(0)["dtype"].get_string().value()), "uint16");
  EXPECT_EQ(datasets.at(1)["problem_count"].get_uint64().value(), 1u);  // no EOD
  EXPECT_EQ(datasets.at(1)["problems"].get_array().value().size(), 1u);
  EXPECT_EQ(doc["total"]["tokens"].get_uint64().value(), 16u);
  EXPECT_EQ(doc["total"]["documents"].get_uint64().value(), 6u);

  const std::string text = inspect_text(r);
  EXPECT_NE(text.find(d / "a: ok\n  uint16, 5 documents (1 empty), 4 sequences, 14 tokens"), std::string::npos) << text;
  EXPECT_NE(text.find("p50 3, p90 5"), std::string::npos) << text;
  EXPECT_NE(text.find(d / "b: 1 problem(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("total: 2 dataset(s), 1 with problems (1)"), std::string::npos) << text;
}

// The page is parsed by Python's XML parser (a real one, not a regex), and
// the numbers are read back from it.
TEST(InspectReports, HtmlIsWellFormedAndHoldsTheNumbers) {
  TempDir d;
  write_dataset(d / "a", sample_docs());
  write_dataset(d / "b&<c>", {{1, 2, kEod}, {3, kEod}});
  const InspectReport r = verify_datasets({d / "a", d / "b&<c>"}, strict());
  write_inspect_html(r, d / "report.html");
  const std::string page = test::read_file(d / "report.html");
  for (size_t at = page.find("http"); at != std::string::npos; at = page.find("http", at + 1))
    EXPECT_EQ(page.compare(at, 18, "http://www.w3.org/"), 0) << "only namespaces: nothing is fetched";
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  test::write_file(d / "read.py",
                   "import sys, xml.etree.ElementTree as ET\n"
                   "ns = {'h': 'http://www.w3.org/1999/xhtml', 's': 'http://www.w3.org/2000/svg'}\n"
                   "root = ET.parse(sys.argv[1]).getroot()\n"
                   "for tr in root.find('.//h:table', ns).iter('{http://www.w3.org/1999/xhtml}tr'):\n"
                   "    tds = tr.findall('h:td', ns)\n"
                   "    if tds: print('row', tds[0].text, *[td.get('data-value') for td in tds[3:12]])\n"
                   "for g in root.iter('{http://www.w3.org/2000/svg}g'):\n"
                   "    if g.get('class') == 'bar': print('bar', g.get('data-prefix'), g.get('data-tokens'))\n"
                   "    if g.get('class') == 'bin': print('bin', g.get('data-min'), g.get('data-count'))\n");
  const test::CommandResult out =
      test::run_command("python3 " + test::shell_quote(d / "read.py") + " " + test::shell_quote(d / "report.html"));
  ASSERT_EQ(out.exit_code, 0) << out.err;
  // documents empty sequences tokens bytes p50 p90 p99 max
  EXPECT_NE(out.out.find("row " + d / "a 5 1 4 14 " + std::to_string(28 + 34 + 48 + 48) + " 3 5 5 5\n"),
            std::string::npos)
      << out.out;
  EXPECT_NE(out.out.find("row " + d / "b&<c> 2 0 2 5 "), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("row total 7 1 6 19 "), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("bar " + d / "a 14\n"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("bar " + d / "b&<c> 5\n"), std::string::npos) << out.out;
  // Lengths 0 | 2 2 3 3 | 4 5 (bins 0, [2,4), [4,8)).
  EXPECT_NE(out.out.find("bin 0 1\nbin 1 0\nbin 2 4\nbin 4 2\n"), std::string::npos) << out.out;
}

class InspectShow : public ::testing::Test {
 protected:
  void SetUp() override {
    SP_REQUIRE_FIXTURE(!test::gpt2_dir().empty(), "GPT-2 vocab not fetched (third_party/gpt2/fetch_vocab.sh)");
    static TextTokenizer* t =
        new TextTokenizer(load_gpt2_tokenizer(test::gpt2_dir() + "/vocab.json", test::gpt2_dir() + "/merges.txt"));
    tok = t;
  }
  std::vector<uint32_t> encode(const std::string& text) {
    const auto enc = tok->make_encoder();
    const auto ids = enc(text);
    return {ids.begin(), ids.end()};
  }
  const TextTokenizer* tok = nullptr;
  TempDir dir;
};

TEST_F(InspectShow, DecodesTheDocumentBackToItsText) {
  const std::string text = "Héllo, wörld!\n  def f(x): return x ** 2  日本語";
  auto ids = encode(text);
  ids.push_back(kEod);
  write_dataset(dir / "ds", {encode("first"), ids});
  const std::string shown = show_document(dir / "ds", 1, *tok);
  EXPECT_EQ(shown, "# " + dir / "ds" + ": document 1 of 2, " + std::to_string(ids.size()) +
                       " tokens in 1 sequence(s), GPT2BPETokenizer\n" + text + "<|endoftext|>");
  try {
    show_document(dir / "ds", 2, *tok);
    FAIL() << "document 2 does not exist";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no document 2 (the dataset has 2)"), std::string::npos) << e.what();
  }
}

TEST_F(InspectShow, RefusesARecordOfAnotherTokenizer) {
  write_dataset(dir / "ds", {encode("some text")});
  CompletionRecord r;
  r.path = record_path_for(dir / "ds");
  r.tool = "sp_tokenize";
  r.options = tok->identity;
  r.outputs = {identify_output(bin_path(dir / "ds")), identify_output(idx_path(dir / "ds"))};
  write_record(r);
  EXPECT_EQ(show_document(dir / "ds", 0, *tok).substr(show_document(dir / "ds", 0, *tok).find('\n') + 1),
            "some text");
  r.options[1].second = "0000";  // another vocab.json
  write_record(r);
  EXPECT_THROW(show_document(dir / "ds", 0, *tok), Error);
}

TEST(InspectCompare, IdenticalDatasetsEvenInOtherDtypes) {
  TempDir d;
  write_dataset(d / "a", sample_docs());
  write_dataset(d / "b", sample_docs(), TokenDtype::kInt32);
  const CompareResult r = compare_datasets(d / "a", d / "b");
  EXPECT_TRUE(r.identical) << r.text;
  EXPECT_NE(r.text.find("identical: 5 documents, 4 sequences (ids equal; stored as uint16 and int32)"),
            std::string::npos)
      << r.text;
}

TEST(InspectCompare, FirstDifferingDocumentAndToken) {
  TempDir d;
  Docs a = sample_docs(), b = sample_docs();
  b[2][3] = 99;  // document 2, token 3
  b[4][0] = 98;  // a later difference is not the first
  write_dataset(d / "a", a);
  write_dataset(d / "b", b, TokenDtype::kInt32);
  CompareResult r = compare_datasets(d / "a", d / "b");
  EXPECT_FALSE(r.identical);
  EXPECT_EQ(r.difference, "first difference: document 2, token 3: " + d / "a" + " has 4, " + d / "b" +
                              " has 99 (.bin bytes 12 and 24)");

  write_dataset(d / "b", a);  // same dtype: the memcmp path
  patch_value<uint16_t>(d / "b.bin", 6 + 2, 77);
  r = compare_datasets(d / "a", d / "b");
  EXPECT_EQ(r.difference.find("first difference: document 2, token 1: " + d / "a" + " has 2, " + d / "b" + " has 77"),
            0u)
      << r.difference;

  b = a;
  b[3].push_back(5);  // a longer document
  write_dataset(d / "b", b);
  r = compare_datasets(d / "a", d / "b");
  EXPECT_NE(r.difference.find("document 3, token 2: " + d / "a" + "'s document ends there (2 tokens), the other's "
                              "has 3"),
            std::string::npos)
      << r.difference;

  b = a;
  b.push_back({1, kEod});  // one more document
  write_dataset(d / "b", b);
  r = compare_datasets(d / "a", d / "b");
  EXPECT_NE(r.difference.find("document 5: " + d / "a" + " ends there (5 documents), the other has 6"),
            std::string::npos)
      << r.difference;
}

TEST(InspectCompare, SequenceBoundariesCount) {
  TempDir d;
  {
    IndexedDatasetWriter w(d / "a", TokenDtype::kUint16);
    const uint32_t ids[] = {1, 2, 3, 4};
    const int32_t one[] = {4};
    w.add_document(ids, one);
    w.finish();
    IndexedDatasetWriter v(d / "b", TokenDtype::kUint16);
    const int32_t two[] = {2, 2};
    v.add_document(ids, two);
    v.finish();
  }
  const CompareResult r = compare_datasets(d / "a", d / "b");
  EXPECT_FALSE(r.identical);
  EXPECT_NE(r.difference.find("document 0: same 4 tokens, but other sequence boundaries"), std::string::npos)
      << r.difference;
}

TEST(InspectCompare, DamagedIndexIsAnError) {
  TempDir d;
  write_dataset(d / "a", sample_docs());
  write_dataset(d / "b", sample_docs());
  patch_value<int64_t>(d / "b.idx", kHeader + 16 + 8 * 2, 1000);
  EXPECT_THROW(compare_datasets(d / "a", d / "b"), Error);
}

}  // namespace
}  // namespace sp
