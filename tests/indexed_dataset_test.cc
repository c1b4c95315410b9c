// The MMIDIDX writer against bytes computed by hand from the format that
// Megatron-LM's IndexedDatasetBuilder writes (see include/sp/indexed_dataset.h).
#include "sp/indexed_dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "sp/error.h"
#include "sp/stale_temps.h"
#include "test_support.h"

namespace sp {
namespace {

using test::read_file;
using test::TempDir;

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
std::string le32(uint32_t v) { return le64(v).substr(0, 4); }
std::string le16(uint16_t v) { return le64(v).substr(0, 2); }

TEST(IndexedDataset, IdxBytesMatchHandComputedLayout) {
  TempDir d;
  const std::string prefix = d / "ds";
  {
    IndexedDatasetWriter w(prefix, TokenDtype::kUint16);
    const uint32_t doc1[] = {15496, 995, 50256};
    const int32_t len1[] = {3};
    w.add_document(doc1, len1);
    w.add_document({}, {});  // a document that produced no tokens
    const uint32_t doc3[] = {64, 275, 66, 50256};
    const int32_t len3[] = {2, 2};
    w.add_document(doc3, len3);
    w.finish();
  }
  std::string expected_idx = std::string("MMIDIDX\0\0", 9) + le64(1) + std::string(1, '\x08') + le64(3) + le64(4) +
                             le32(3) + le32(2) + le32(2) +   // sequence lengths
                             le64(0) + le64(6) + le64(10) +  // byte pointers (uint16 => 2 bytes a token)
                             le64(0) + le64(1) + le64(1) + le64(3);  // document indices
  EXPECT_EQ(read_file(prefix + ".idx"), expected_idx);
  std::string expected_bin = le16(15496) + le16(995) + le16(50256) + le16(64) + le16(275) + le16(66) + le16(50256);
  EXPECT_EQ(read_file(prefix + ".bin"), expected_bin);
  // Only the two outputs remain: scratch files and temporaries are gone.
  EXPECT_EQ(test::list_dir(d.path()), (std::vector<std::string>{"ds.bin", "ds.idx"}));
}

TEST(IndexedDataset, EmptyDatasetHasOneDocumentIndex) {
  TempDir d;
  IndexedDatasetWriter w(d / "empty", TokenDtype::kUint16);
  w.finish();
  std::string expected = std::string("MMIDIDX\0\0", 9) + le64(1) + std::string(1, '\x08') + le64(0) + le64(1) + le64(0);
  EXPECT_EQ(read_file(d / "empty.idx"), expected);
  EXPECT_EQ(read_file(d / "empty.bin"), "");
}

TEST(IndexedDataset, Int32DtypeForLargeVocabularies) {
  EXPECT_EQ(dtype_for_vocab_size(50257), TokenDtype::kUint16);
  EXPECT_EQ(dtype_for_vocab_size(65499), TokenDtype::kUint16);
  EXPECT_EQ(dtype_for_vocab_size(65500), TokenDtype::kInt32);
  EXPECT_EQ(dtype_for_vocab_size(256000), TokenDtype::kInt32);
  TempDir d;
  {
    IndexedDatasetWriter w(d / "big", TokenDtype::kInt32);
    const uint32_t doc[] = {70000, 1};
    const int32_t len[] = {2};
    w.add_document(doc, len);
    w.finish();
  }
  std::string idx = read_file(d / "big.idx");
  EXPECT_EQ(idx[17], '\x04');
  EXPECT_EQ(idx.substr(18 + 16, 4), le32(2));
  EXPECT_EQ(read_file(d / "big.bin"), le32(70000) + le32(1));
}

TEST(IndexedDataset, ReaderRoundTrip) {
  TempDir d;
  std::vector<std::vector<uint32_t>> docs;
  {
    IndexedDatasetWriter w(d / "rt", TokenDtype::kUint16);
    for (uint32_t i = 0; i < 500; ++i) {
      std::vector<uint32_t> toks;
      for (uint32_t k = 0; k < i % 37; ++k) toks.push_back((i * 131 + k * 7) % 50257);
      std::vector<int32_t> lens;
      if (!toks.empty()) lens = {static_cast<int32_t>(toks.size())};
      w.add_document(toks, lens);
      docs.push_back(toks);
    }
    w.finish();
    EXPECT_EQ(w.documents(), 500u);
  }
  IndexedDataset ds = read_indexed_dataset(d / "rt");
  ASSERT_EQ(ds.document_count(), 500u);
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(ds.document(i), docs[i]) << i;
}

TEST(IndexedDataset, TwoStepAppendFromThreadsMatchesAppend) {
  // The tokenizer's writer path: the index in order, the tokens from other
  // threads in any order. The files must equal those of plain append().
  TempDir d;
  std::vector<DocumentBatch> batches(40);
  for (size_t i = 0; i < batches.size(); ++i) {
    std::vector<uint32_t> ids;
    for (size_t t = 0; t < 1000 + 37 * i; ++t) ids.push_back(static_cast<uint32_t>((i * 7919 + t) % 50257));
    append_tokens(TokenDtype::kUint16, ids, batches[i].token_bytes);
    batches[i].sequence_lengths = {static_cast<int32_t>(ids.size() - 10), 10};
    batches[i].sequences_per_document = {2, 0};
  }
  {
    IndexedDatasetWriter w(d / "plain", TokenDtype::kUint16);
    for (const auto& b : batches) w.append(b);
    w.finish();
  }
  {
    IndexedDatasetWriter w(d / "split", TokenDtype::kUint16);
    std::vector<uint64_t> offsets;
    for (const auto& b : batches) offsets.push_back(w.append_index(b));
    std::vector<std::thread> threads;
    for (size_t t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (size_t i = batches.size() - 1 - t; i < batches.size(); i -= 4) w.write_tokens(offsets[i], batches[i]);
      });
    for (auto& t : threads) t.join();
    w.finish();
  }
  EXPECT_EQ(read_file(d / "split.bin"), read_file(d / "plain.bin"));
  EXPECT_EQ(read_file(d / "split.idx"), read_file(d / "plain.idx"));
  EXPECT_EQ(read_indexed_dataset(d / "split").document_count(), 80u);
}

TEST(IndexedDataset, UnfinishedWriterLeavesNothing) {
  TempDir d;
  {
    IndexedDatasetWriter w(d / "gone", TokenDtype::kUint16);
    const uint32_t doc[] = {1, 2, 3};
    const int32_t len[] = {3};
    w.add_document(doc, len);
  }  // destroyed without finish(), as when a run fails
  EXPECT_TRUE(test::list_dir(d.path()).empty());
}

// While a writer works, its only name on disk is the .bin's temporary: the
// index scratch (lengths, document indices) has none, so a kill -9 cannot
// leave it behind (~12 bytes per document, for ever).
TEST(IndexedDataset, IndexScratchHasNoNameWhileWriting) {
  TempDir d;
  IndexedDatasetWriter w(d / "ds", TokenDtype::kUint16);
  const uint32_t doc[] = {1, 2, 3};
  const int32_t len[] = {3};
  for (int i = 0; i < 100000; ++i) w.add_document(doc, len);  // past the scratch buffers
  const auto names = test::list_dir(d.path());
  ASSERT_EQ(names.size(), 1u) << names.size() << " names, the second: " << (names.size() > 1 ? names[1] : "");
  EXPECT_EQ(names[0].rfind("ds.bin.tmp-", 0), 0u) << names[0];
  w.finish();
  EXPECT_EQ(read_indexed_dataset(d / "ds").document_count(), 100000u);
  EXPECT_EQ(test::list_dir(d.path()), (std::vector<std::string>{"ds.bin", "ds.idx"}));
}

// A resumable writer killed after a checkpoint: its parts keep what was
// synced (and more, which the next writer cuts off); continued from the
// checkpoint, it ends with the bytes of a writer that was never stopped.
TEST(IndexedDataset, ResumableWriterContinuesFromACheckpointToTheSameBytes) {
  TempDir d;
  const auto doc = [](int i, IndexedDatasetWriter& w) {
    std::vector<uint32_t> ids(static_cast<size_t>(i % 7), static_cast<uint32_t>(i));
    std::vector<int32_t> lens;
    if (!ids.empty()) lens = {static_cast<int32_t>(ids.size())};
    if (i % 5 == 0 && ids.size() > 1) lens = {1, static_cast<int32_t>(ids.size() - 1)};
    w.add_document(ids, lens);
  };
  {
    IndexedDatasetWriter ref(d / "ref", TokenDtype::kUint16);
    for (int i = 0; i < 50000; ++i) doc(i, ref);
    ref.finish();
  }
  WriterCheckpoint at;
  {
    IndexedDatasetWriter w(d / "ds", TokenDtype::kUint16, nullptr);
    for (int i = 0; i < 30000; ++i) doc(i, w);
    w.sync();
    at = w.position();
    for (int i = 30000; i < 40000; ++i) doc(i, w);  // after the checkpoint: lost, as in a kill
    w.sync();
  }  // destroyed without finish(): the parts stay for the next writer
  EXPECT_EQ(test::list_dir(d.path()),
            (std::vector<std::string>{"ds.bin.sp-part", "ds.idx.docs.sp-part", "ds.idx.lengths.sp-part", "ref.bin",
                                      "ref.idx"}));
  EXPECT_EQ(at.documents, 30000u);
  EXPECT_GT(file_size(d / "ds.bin.sp-part"), at.bin_bytes);
  {
    IndexedDatasetWriter w(d / "ds", TokenDtype::kUint16, &at);
    for (int i = 30000; i < 50000; ++i) doc(i, w);
    w.finish();
  }
  EXPECT_EQ(read_file(d / "ds.bin"), read_file(d / "ref.bin"));
  EXPECT_EQ(read_file(d / "ds.idx"), read_file(d / "ref.idx"));
  EXPECT_EQ(test::list_dir(d.path()), (std::vector<std::string>{"ds.bin", "ds.idx", "ref.bin", "ref.idx"}));
  // writer_part_paths names what the writer used; discard_parts removes them.
  EXPECT_EQ(writer_part_paths("o/x"), (std::vector<std::string>{"o/x.bin.sp-part", "o/x.idx.lengths.sp-part",
                                                                "o/x.idx.docs.sp-part"}));
  {
    IndexedDatasetWriter w(d / "gone", TokenDtype::kUint16, nullptr);
    doc(3, w);
    w.discard_parts();
  }
  EXPECT_EQ(test::list_dir(d.path()), (std::vector<std::string>{"ds.bin", "ds.idx", "ref.bin", "ref.idx"}));
}

TEST(IndexedDataset, WriterTempFinalsCoverOlderVersionsScratch) {
  EXPECT_EQ(writer_temp_finals("o/x_text_document"),
            (std::vector<std::string>{"o/x_text_document.bin", "o/x_text_document.idx",
                                      "o/x_text_document.idx.lengths", "o/x_text_document.idx.docs"}));
}

TEST(IndexedDataset, ReaderRejectsDamagedFiles) {
  TempDir d;
  {
    IndexedDatasetWriter w(d / "x", TokenDtype::kUint16);
    const uint32_t doc[] = {1, 2, 3};
    const int32_t len[] = {3};
    w.add_document(doc, len);
    w.finish();
  }
  std::string bin = read_file(d / "x.bin");
  test::write_file(d / "x.bin", bin.substr(0, 4));
  EXPECT_THROW(read_indexed_dataset(d / "x"), Error);
  std::string idx = read_file(d / "x.idx");
  test::write_file(d / "x.idx", "NOTANIDX" + idx.substr(8));
  EXPECT_THROW(read_indexed_dataset(d / "x"), Error);
}

// Found by fuzz/indexed_dataset_fuzz.cc: 2^62 sequences and no documents made
// the size check wrap around to "matches", and resize() threw
// std::length_error instead of sp::Error.
TEST(IndexedDataset, ReaderRejectsCountsThatWrapTheSizeCheck) {
  TempDir d;
  const std::string header = std::string("MMIDIDX\0\0", 9) + le64(1) + std::string(1, '\x08');
  test::write_file(d / "x.bin", "");
  test::write_file(d / "x.idx", header + le64(uint64_t{1} << 62) + le64(0));
  EXPECT_THROW(read_indexed_dataset(d / "x"), Error);
  test::write_file(d / "x.idx", header + le64(0) + le64(uint64_t{1} << 61));
  EXPECT_THROW(read_indexed_dataset(d / "x"), Error);
}

// Found by fuzz/indexed_dataset_fuzz.cc: a uint8 (or int64, float) index was
// accepted, and sequence() then read 4-byte tokens past the end of the .bin.
TEST(IndexedDataset, ReaderRejectsDtypesItCannotDecode) {
  TempDir d;
  const std::string idx = std::string("MMIDIDX\0\0", 9) + le64(1) + std::string(1, '\x01') + le64(1) + le64(2) +
                          le32(2) + le64(0) + le64(0) + le64(1);
  test::write_file(d / "x.idx", idx);
  test::write_file(d / "x.bin", "\x05\x06");
  try {
    read_indexed_dataset(d / "x");
    FAIL() << "uint8 dataset accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dtype code 1"), std::string::npos) << e.what();
  }
}

// Found by the fuzzers under UndefinedBehaviorSanitizer: a document without
// tokens passed the null data() of empty vectors to memcpy (append_tokens,
// AtomicFile::write, the reader's copies). Fails only in scripts/sanitize.sh.
TEST(IndexedDataset, DocumentsWithoutTokensRoundTripInBothDtypes) {
  TempDir d;
  for (TokenDtype dtype : {TokenDtype::kUint16, TokenDtype::kInt32}) {
    const std::string prefix = d / ("empty" + std::to_string(static_cast<int>(dtype)));
    {
      IndexedDatasetWriter w(prefix, dtype);
      w.add_document({}, {});
      w.finish();
    }
    const IndexedDataset ds = read_indexed_dataset(prefix);
    EXPECT_EQ(ds.dtype, dtype);
    ASSERT_EQ(ds.document_count(), 1u);
    EXPECT_EQ(ds.sequence_count(), 0u);
    EXPECT_TRUE(ds.document(0).empty());
  }
}

// The mapped reader sees what the in-memory reader sees, element by element,
// in both dtypes Megatron writes; the header alone gives the counts.
TEST(IndexedDataset, MappedReaderAndHeaderAgreeWithTheReader) {
  TempDir d;
  for (TokenDtype dtype : {TokenDtype::kUint16, TokenDtype::kInt32}) {
    const std::string prefix = d / ("m" + std::to_string(static_cast<int>(dtype)));
    {
      IndexedDatasetWriter w(prefix, dtype);
      const uint32_t doc1[] = {7, 65535, 3}, doc3[] = {1, 2, 3, 4, 5};
      const int32_t len1[] = {3}, len3[] = {2, 3};
      w.add_document(doc1, len1);
      w.add_document({}, {});
      w.add_document(doc3, len3);
      w.finish();
    }
    const IndexedDataset ds = read_indexed_dataset(prefix);
    const IndexHeader h = read_index_header(prefix);
    EXPECT_EQ(h.dtype, dtype);
    EXPECT_EQ(h.sequences, 3u);
    EXPECT_EQ(h.documents(), 3u);
    const MappedIndexedDataset m(prefix);
    ASSERT_EQ(m.header().sequences, ds.sequence_count());
    ASSERT_EQ(m.header().document_indices, ds.document_indices.size());
    for (uint64_t i = 0; i < h.sequences; ++i) {
      EXPECT_EQ(m.sequence_length(i), ds.sequence_lengths[i]);
      EXPECT_EQ(m.sequence_pointer(i), ds.sequence_pointers[i]);
      const std::vector<uint32_t> ids = ds.sequence(i);
      for (size_t k = 0; k < ids.size(); ++k)
        EXPECT_EQ(m.token_at(m.sequence_pointer(i) + k * dtype_size(dtype)), ids[k]);
    }
    for (uint64_t i = 0; i < h.document_indices; ++i) EXPECT_EQ(m.document_index(i), ds.document_indices[i]);
    EXPECT_EQ(m.bin(), ds.bin);
  }
}

// Any of Megatron's eight dtype codes opens (a checker must be able to name
// what is inside); widths and signs come from the code.
TEST(IndexedDataset, MappedReaderWidensEveryDtype) {
  TempDir d;
  struct Case {
    uint8_t code;
    std::string bin;
    int64_t want;
  };
  const Case cases[] = {{1, "\xff", 255}, {2, "\xff", -1}, {3, le16(0xfffe), -2}, {8, le16(0xfffe), 65534},
                        {4, le32(0xfffffffd), -3}, {5, le64(uint64_t{1} << 40), int64_t{1} << 40},
                        {7, le32(0x40490fdb), 3} /* 3.14159f */, {6, le64(0xc00c000000000000), -3} /* -3.5 */};
  for (const Case& c : cases) {
    const std::string idx = std::string("MMIDIDX\0\0", 9) + le64(1) + std::string(1, static_cast<char>(c.code)) +
                            le64(1) + le64(2) + le32(1) + le64(0) + le64(0) + le64(1);
    test::write_file(d / "w.idx", idx);
    test::write_file(d / "w.bin", c.bin);
    const MappedIndexedDataset m(d / "w");
    EXPECT_EQ(static_cast<int>(m.header().dtype), c.code);
    EXPECT_EQ(m.token_at(0), c.want) << "dtype code " << int{c.code};
  }
}

TEST(IndexedDataset, HeaderReaderRejectsDamagedIndexesNamingTheFile) {
  TempDir d;
  const std::string ok = std::string("MMIDIDX\0\0", 9) + le64(1) + std::string(1, '\x08') + le64(0) + le64(1) + le64(0);
  auto expect_error = [&](const std::string& idx, const std::string& what) {
    test::write_file(d / "h.idx", idx);
    test::write_file(d / "h.bin", "");
    for (int reader = 0; reader < 2; ++reader) {
      try {
        if (reader == 0) read_index_header(d / "h");
        else MappedIndexedDataset m(d / "h");
        ADD_FAILURE() << what << " accepted";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("h.idx"), std::string::npos) << e.what();
      }
    }
  };
  test::write_file(d / "h.idx", ok);
  test::write_file(d / "h.bin", "");
  EXPECT_EQ(read_index_header(d / "h").documents(), 0u);
  EXPECT_EQ(MappedIndexedDataset(d / "h").bin().size(), 0u);
  expect_error("", "bad magic");
  expect_error(ok.substr(0, 20), "bad magic");
  expect_error("NOTMMIDX\0" + ok.substr(9), "bad magic");
  expect_error(ok.substr(0, 9) + le64(2) + ok.substr(17), "version 2");
  expect_error(ok.substr(0, 17) + std::string(1, '\x09') + ok.substr(18), "dtype code 9");
  expect_error(ok + "x", "does not match its counts");
  expect_error(ok.substr(0, 18) + le64(uint64_t{1} << 62) + le64(0), "does not match its counts");
}

TEST(IndexedDataset, DatasetPathsExpandLikeMegatronsMerge) {
  TempDir d;
  make_dirs(d / "dir");
  make_dirs(d / "dir/sub");
  for (const char* p : {"dir/a.b", "dir/a", "dir/B", "dir/sub/c", "one"}) {
    test::write_file(d / (std::string(p) + ".bin"), "");
    test::write_file(d / (std::string(p) + ".idx"), "");
  }
  test::write_file(d / "dir/a.jsonl_text_document.record.json", "{}");  // skipped
  test::write_file(d / "dir/a.bin.tmp-123", "");                       // skipped
  // Megatron sorts prefixes byte-wise: "B" < "a" < "a.b" (though "a.b.bin" < "a.bin").
  const std::vector<std::string> want = {d / "dir/B", d / "dir/a", d / "dir/a.b", d / "one", d / "one", d / "one"};
  EXPECT_EQ(expand_dataset_paths({d / "dir", d / "one", d / "one.bin", d / "one.idx"}), want);
  const std::vector<std::string> deep = {d / "dir/B", d / "dir/a", d / "dir/a.b", d / "dir/sub/c"};
  EXPECT_EQ(expand_dataset_paths({d / "dir"}, /*recursive=*/true), deep);

  auto error_of = [&](const std::vector<std::string>& paths) -> std::string {
    try {
      expand_dataset_paths(paths);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(error_of({d / "nothing"}).find("no dataset at"), std::string::npos);
  make_dirs(d / "empty");
  EXPECT_NE(error_of({d / "empty"}).find("holds no .bin/.idx dataset"), std::string::npos);
  test::write_file(d / "dir/lonely.idx", "");
  EXPECT_NE(error_of({d / "dir"}).find("lonely.idx' has no .bin"), std::string::npos) << error_of({d / "dir"});
  test::write_file(d / "half.bin", "");
  EXPECT_NE(error_of({d / "half"}).find("half.bin' has no .idx"), std::string::npos) << error_of({d / "half"});
}

}  // namespace
}  // namespace sp
