// sp::merge_datasets against the independent reference of merge_reference.h
// (Megatron's merge_datasets.py semantics): both dtypes, empty documents,
// sequences and inputs, parts smaller than a token, directory order, and the
// refusals (mixed dtypes or tokenizers, inconsistent inputs, output = input).
#include "sp/merge.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>

#include "merge_reference.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/record.h"
#include "test_support.h"

namespace sp {
namespace {

using test::Document;
using test::random_documents;
using test::read_file;
using test::reference_merge;
using test::TempDir;
using test::write_dataset;
using test::write_file;

void expect_merged(const std::string& out, const std::vector<std::string>& prefixes) {
  const test::MergedBytes want = reference_merge(prefixes);
  EXPECT_TRUE(read_file(idx_path(out)) == want.idx) << "the .idx differs from the reference";
  EXPECT_TRUE(read_file(bin_path(out)) == want.bin) << "the .bin differs from the reference";
  // And what a reader sees: every input's documents, in order.
  const IndexedDataset merged = read_indexed_dataset(out);
  size_t d = 0;
  for (const auto& p : prefixes) {
    const IndexedDataset in = read_indexed_dataset(p);
    for (size_t k = 0; k < in.document_count(); ++k, ++d)
      ASSERT_EQ(merged.document(d), in.document(k)) << p << " " << k;
  }
  EXPECT_EQ(d, merged.document_count());
}

MergeOptions small_parts(uint64_t bytes) {
  MergeOptions o;
  o.part_bytes = bytes;
  return o;
}

// Sets the bytes at `offset` of a file.
void patch(const std::string& path, uint64_t offset, const void* data, size_t n) {
  std::string s = read_file(path);
  ASSERT_LE(offset + n, s.size());
  std::memcpy(s.data() + offset, data, n);
  write_file(path, s);
}

TEST(MergeDatasets, Uint16MatchesMegatronWithEmptyDocumentsSequencesAndInputs) {
  TempDir d;
  std::vector<Document> first = random_documents(50, 50000, 1);
  first.insert(first.begin() + 3, Document{});  // a document without sequences
  first.push_back(Document{{}, {7, 8}, {}});    // empty sequences
  write_dataset(d / "a", TokenDtype::kUint16, first);
  write_dataset(d / "empty", TokenDtype::kUint16, {});
  write_dataset(d / "only_empty_docs", TokenDtype::kUint16, {Document{}, Document{{}}});
  write_dataset(d / "b", TokenDtype::kUint16, random_documents(80, 65535, 2));
  const std::vector<std::string> in = {d / "a", d / "empty", d / "only_empty_docs", d / "b"};
  // Parts of 8 bytes: many parts per array, .bin parts of 4 tokens, all written concurrently.
  const MergeStats s = merge_datasets(in, d / "out", small_parts(8));
  expect_merged(d / "out", in);
  EXPECT_EQ(s.inputs, in);
  EXPECT_EQ(s.documents, read_indexed_dataset(d / "out").document_count());
  EXPECT_EQ(s.dtype, TokenDtype::kUint16);
  EXPECT_GT(s.parts, 100u);
  EXPECT_EQ(s.parts_resumed, 0u);
  EXPECT_FALSE(s.kept);
  // Nothing but the outputs and the record is left.
  EXPECT_EQ(
      test::list_dir(d.path()),
      (std::vector<std::string>{"a.bin", "a.idx", "b.bin", "b.idx", "empty.bin", "empty.idx", "only_empty_docs.bin",
                                "only_empty_docs.idx", "out.bin", "out.idx", "out.sp-record"}));
  const CompletionRecord r = read_record(record_path_for(d / "out"));
  EXPECT_EQ(r.tool, "sp_merge");
  EXPECT_EQ(r.count("sequences"), read_indexed_dataset(d / "out").sequence_count());
}

TEST(MergeDatasets, Int32MatchesMegatronWithPartsOfOddSizes) {
  TempDir d;
  write_dataset(d / "x", TokenDtype::kInt32, random_documents(40, 200000, 3));
  write_dataset(d / "y", TokenDtype::kInt32, random_documents(1, 200000, 4));
  write_dataset(d / "z", TokenDtype::kInt32, random_documents(60, 200000, 5));
  const std::vector<std::string> in = {d / "z", d / "x", d / "y"};  // the order given, not sorted
  for (uint64_t part : {uint64_t{9}, uint64_t{13}, uint64_t{1} << 20}) {
    SCOPED_TRACE(part);
    MergeOptions o = small_parts(part);
    o.overwrite = true;
    const MergeStats s = merge_datasets(in, d / "out", o);
    EXPECT_EQ(s.dtype, TokenDtype::kInt32);
    expect_merged(d / "out", in);
  }
  // A .bin or .idx file names its prefix, as in expand_dataset_paths.
  merge_datasets({d / "z.bin", d / "x.idx", d / "y"}, d / "out2", MergeOptions{});
  expect_merged(d / "out2", in);
}

TEST(MergeDatasets, DirectoryInMegatronOrder) {
  TempDir d;
  make_dirs(d / "in");
  // Megatron sorts the prefixes byte-wise: "B" < "a" < "a.b" < "b".
  const std::vector<std::string> order = {"B", "a", "a.b", "b"};
  for (size_t i = 0; i < order.size(); ++i)
    write_dataset(d / ("in/" + order[3 - i]), TokenDtype::kUint16, random_documents(5 + i, 1000, 10 + i));
  write_file(d / "in/notes.txt", "not a dataset\n");
  merge_datasets({d / "in"}, d / "out", small_parts(16));
  std::vector<std::string> in;
  for (const auto& p : order) in.push_back(d / ("in/" + p));
  expect_merged(d / "out", in);
}

TEST(MergeDatasets, RefusesMixedDtypesWithoutWritingAnything) {
  TempDir d;
  write_dataset(d / "a", TokenDtype::kUint16, random_documents(5, 100, 1));
  write_dataset(d / "b", TokenDtype::kInt32, random_documents(5, 100, 2));
  try {
    merge_datasets({d / "a", d / "b"}, d / "out", MergeOptions{});
    FAIL() << "merged mixed dtypes";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("different token dtypes"), std::string::npos) << m;
    EXPECT_NE(m.find(idx_path(d / "b")), std::string::npos) << m;
    EXPECT_NE(m.find("int32 (code 4)"), std::string::npos) << m;
    EXPECT_NE(m.find("uint16 (code 8)"), std::string::npos) << m;
  }
  EXPECT_EQ(test::list_dir(d.path()), (std::vector<std::string>{"a.bin", "a.idx", "b.bin", "b.idx"}));
}

// A completion record as sp_tokenize writes one, naming a tokenizer.
void record_tokenizer(const std::string& prefix, const std::string& vocab_sha256, const std::string& json_key) {
  CompletionRecord r;
  r.path = record_path_for(prefix);
  r.tool = "sp_tokenize";
  r.options = {{"tokenizer_type", "GPT2BPETokenizer"},
               {"vocab_sha256", vocab_sha256},
               {"merges_sha256", "m"},
               {"json_key", json_key},
               {"dtype", "8"}};
  r.outputs = {identify_output(bin_path(prefix)), identify_output(idx_path(prefix))};
  write_record(r);
}

TEST(MergeDatasets, RefusesMixedTokenizersTheRecordsName) {
  TempDir d;
  write_dataset(d / "a", TokenDtype::kUint16, random_documents(5, 100, 1));
  write_dataset(d / "b", TokenDtype::kUint16, random_documents(5, 100, 2));
  record_tokenizer(d / "a", "v1", "text");
  record_tokenizer(d / "b", "v2", "text");
  try {
    merge_datasets({d / "a", d / "b"}, d / "out", MergeOptions{});
    FAIL() << "merged mixed tokenizers";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("different tokenizers"), std::string::npos) << m;
    EXPECT_NE(m.find("vocab_sha256 v2 vs v1"), std::string::npos) << m;
  }
  EXPECT_FALSE(path_exists(bin_path(d / "out")));
  EXPECT_FALSE(path_exists(idx_path(d / "out")));
}

TEST(MergeDatasets, SameTokenizerIsCarriedIntoTheOutputRecord) {
  TempDir d;
  write_dataset(d / "a", TokenDtype::kUint16, random_documents(5, 100, 1));
  write_dataset(d / "b", TokenDtype::kUint16, random_documents(5, 100, 2));
  write_dataset(d / "c", TokenDtype::kUint16, random_documents(5, 100, 3));
  record_tokenizer(d / "a", "v1", "text");
  record_tokenizer(d / "b", "v1", "title");  // another JSON key of the same tokenizer: mergeable
  MergeStats s = merge_datasets({d / "a", d / "b"}, d / "ab", MergeOptions{});
  EXPECT_TRUE(s.notes.empty()) << s.notes.at(0);
  CompletionRecord r = read_record(record_path_for(d / "ab"));
  EXPECT_EQ(
      r.options,
      (std::vector<std::pair<std::string, std::string>>{
          {"tokenizer_type", "GPT2BPETokenizer"}, {"vocab_sha256", "v1"}, {"merges_sha256", "m"}, {"dtype", "8"}}));
  // A merge of the merge is checked by that record: another tokenizer is refused.
  record_tokenizer(d / "c", "v3", "text");
  EXPECT_THROW(merge_datasets({d / "ab", d / "c"}, d / "abc", MergeOptions{}), Error);
  // An input without a record is named, and the output's record then names no tokenizer.
  remove_record(record_path_for(d / "c"));
  s = merge_datasets({d / "ab", d / "c"}, d / "abc", MergeOptions{});
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_NE(s.notes[0].find("1 of 2 inputs have no completion record"), std::string::npos) << s.notes[0];
  r = read_record(record_path_for(d / "abc"));
  EXPECT_EQ(r.options, (std::vector<std::pair<std::string, std::string>>{{"dtype", "8"}}));
  expect_merged(d / "abc", {d / "a", d / "b", d / "c"});
}

TEST(MergeDatasets, RefusesAnOutputThatIsAnInput) {
  TempDir d;
  write_dataset(d / "a", TokenDtype::kUint16, random_documents(5, 100, 1));
  write_dataset(d / "b", TokenDtype::kUint16, random_documents(5, 100, 2));
  const std::string before = read_file(bin_path(d / "b"));
  EXPECT_THROW(merge_datasets({d / "a", d / "b"}, d / "b", MergeOptions{}), UsageError);
  // The same files by another name (a symlinked directory) are the same input.
  make_dirs(d / "out");
  ASSERT_EQ(::symlink(d.path().c_str(), (d / "out/link").c_str()), 0);
  EXPECT_THROW(merge_datasets({d / "a", d / "b"}, d / "out/link/b", MergeOptions{}), UsageError);
  EXPECT_EQ(read_file(bin_path(d / "b")), before);
  // Inside an input directory, the output would be an input of the next run.
  try {
    merge_datasets({d.path()}, d / "merged", MergeOptions{});
    ADD_FAILURE() << "merged into the input directory";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("is inside the input directory"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(path_exists(bin_path(d / "merged")));
  EXPECT_THROW(merge_datasets({}, d / "out", MergeOptions{}), UsageError);
}

TEST(MergeDatasets, RefusesInconsistentInputsNamingTheFile) {
  TempDir d;
  const auto fresh = [&] {
    write_dataset(d / "good", TokenDtype::kUint16, random_documents(10, 100, 1));
    write_dataset(d / "bad", TokenDtype::kUint16, {Document{{1, 2}, {3}}, Document{{4, 5, 6}}});
  };
  const auto refused = [&](const std::string& what) {
    SCOPED_TRACE(what);
    try {
      merge_datasets({d / "good", d / "bad"}, d / "out", small_parts(8));
      ADD_FAILURE() << "merged an inconsistent input";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(d / "bad"), std::string::npos) << m;
      EXPECT_NE(m.find(what), std::string::npos) << m;
    }
    // Nothing is kept for a rerun that would fail the same way.
    EXPECT_EQ(test::list_dir(d.path()), (std::vector<std::string>{"bad.bin", "bad.idx", "good.bin", "good.idx"}));
  };
  // "bad": 3 sequences, 2 documents: lengths at 34, pointers at 46, document indices at 70.
  fresh();
  // The last pointer: any other wrong one also breaks the step to the next,
  // and which of the two a parallel merge meets first is not fixed.
  const int64_t wrong_pointer = 3;  // sequence 2 starts at byte 6
  patch(idx_path(d / "bad"), 46 + 16, &wrong_pointer, 8);
  refused("sequence 2 points at byte 3, not at 6");
  fresh();
  const int32_t negative = -1;
  patch(idx_path(d / "bad"), 34 + 4, &negative, 4);
  refused("sequence 1 has a negative length");
  fresh();
  write_file(bin_path(d / "bad"), read_file(bin_path(d / "bad")) + "xx");
  refused("does not match its index");
  fresh();
  const int64_t one = 1;
  patch(idx_path(d / "bad"), 70, &one, 8);
  refused("must start at 0");
  fresh();
  const int64_t five = 5;
  patch(idx_path(d / "bad"), 70 + 8, &five, 8);
  refused("decrease at 2");
  fresh();
  write_file(idx_path(d / "bad"), "MMIDIDX");
  refused("bad magic");
}

TEST(MergeDatasets, KeepsACompleteOutputAndReplacesAStaleOne) {
  TempDir d;
  write_dataset(d / "a", TokenDtype::kUint16, random_documents(5, 100, 1));
  write_dataset(d / "b", TokenDtype::kUint16, random_documents(5, 100, 2));
  EXPECT_FALSE(merge_datasets({d / "a", d / "b"}, d / "out", MergeOptions{}).kept);
  EXPECT_TRUE(merge_datasets({d / "a", d / "b"}, d / "out", MergeOptions{}).kept);
  EXPECT_FALSE(path_exists(merge_journal_path(d / "out")));
  // Another input: rebuilt, saying why.
  write_dataset(d / "b", TokenDtype::kUint16, random_documents(7, 100, 3));
  const MergeStats s = merge_datasets({d / "a", d / "b"}, d / "out", MergeOptions{});
  EXPECT_FALSE(s.kept);
  ASSERT_EQ(s.notes.size(), 2u);  // the inputs without records, then why the output is rebuilt
  EXPECT_NE(s.notes[1].find("rebuilding " + d / "out"), std::string::npos) << s.notes[1];
  expect_merged(d / "out", {d / "a", d / "b"});
  // An output without a record (another program's) is replaced, not trusted.
  remove_record(record_path_for(d / "out"));
  EXPECT_FALSE(merge_datasets({d / "a", d / "b"}, d / "out", MergeOptions{}).kept);
  expect_merged(d / "out", {d / "a", d / "b"});
}

TEST(MergeDatasets, OneWriterPerOutput) {
  TempDir d;
  write_dataset(d / "a", TokenDtype::kUint16, random_documents(5, 100, 1));
  // Another merge into the same output holds the journal's lock.
  const int fd = ::open(merge_journal_path(d / "out").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  try {
    merge_datasets({d / "a"}, d / "out", MergeOptions{});
    ADD_FAILURE() << "merged while another writer held the lock";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another sp_merge is writing"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(path_exists(merge_part_path(bin_path(d / "out"))));
  ::close(fd);
  merge_datasets({d / "a"}, d / "out", MergeOptions{});
  expect_merged(d / "out", {d / "a"});
}

}  // namespace
}  // namespace sp
