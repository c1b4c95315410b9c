// read_indexed_dataset on arbitrary .idx bytes (with a .bin whose size
// matches what the index claims, or a small arbitrary one): it throws
// sp::Error or returns a dataset that is consistent in every way the header
// promises, whose documents can all be read, and which IndexedDatasetWriter
// writes back to the very same bytes. (The other direction, writer then
// reader, is indexed_dataset_roundtrip_fuzz.cc.)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "sp/error.h"
#include "sp/indexed_dataset.h"

namespace {

constexpr size_t kHeaderSize = 9 + 8 + 1 + 8 + 8;

// The .bin size the index asks for, when it is small enough to write; else
// `fallback`. Deliberately lenient: the reader decides what is valid.
size_t bin_size_for(std::string_view idx, size_t fallback) {
  if (idx.size() < kHeaderSize) return fallback;
  uint64_t seqs;
  std::memcpy(&seqs, idx.data() + 18, 8);
  if (seqs > (idx.size() - kHeaderSize) / 4) return fallback;
  size_t item = 2;
  try {
    item = sp::dtype_size(static_cast<sp::TokenDtype>(static_cast<uint8_t>(idx[17])));
  } catch (const sp::Error&) {
  }
  uint64_t total = 0;
  for (uint64_t i = 0; i < seqs; ++i) {
    int32_t len;
    std::memcpy(&len, idx.data() + kHeaderSize + 4 * i, 4);
    if (len > 0) total += static_cast<uint64_t>(len) * item;
    if (total > (uint64_t{1} << 16)) return fallback;
  }
  return static_cast<size_t>(total);
}

void check_dataset(const sp::IndexedDataset& ds, const std::string& idx_bytes, const std::string& bin_bytes) {
  const size_t item = sp::dtype_size(ds.dtype);
  const size_t seqs = ds.sequence_count();
  FUZZ_CHECK(ds.sequence_pointers.size() == seqs, "%zu pointers for %zu sequences", ds.sequence_pointers.size(), seqs);
  FUZZ_CHECK(!ds.document_indices.empty() && ds.document_indices.front() == 0 &&
                 static_cast<size_t>(ds.document_indices.back()) == seqs,
             "document indices do not span the sequences");
  FUZZ_CHECK(std::is_sorted(ds.document_indices.begin(), ds.document_indices.end()), "document indices decrease");
  int64_t offset = 0;
  for (size_t i = 0; i < seqs; ++i) {
    FUZZ_CHECK(ds.sequence_lengths[i] >= 0 && ds.sequence_pointers[i] == offset, "sequence %zu", i);
    offset += ds.sequence_lengths[i] * static_cast<int64_t>(item);
  }
  FUZZ_CHECK(static_cast<size_t>(offset) == ds.bin.size() && ds.bin == bin_bytes, ".bin not as written");

  // Every document reads back as its sequences' tokens, in order, and the
  // tokens of all documents re-encode to the whole .bin.
  std::vector<uint32_t> all;
  for (size_t d = 0; d < ds.document_count(); ++d) {
    const auto doc = ds.document(d);
    size_t want = 0;
    for (auto s = ds.document_indices[d]; s < ds.document_indices[d + 1]; ++s)
      want += static_cast<size_t>(ds.sequence_lengths[static_cast<size_t>(s)]);
    FUZZ_CHECK(doc.size() == want, "document %zu has %zu tokens, want %zu", d, doc.size(), want);
    all.insert(all.end(), doc.begin(), doc.end());
  }
  sp::ByteBuffer encoded;
  sp::append_tokens(ds.dtype, all, encoded);
  FUZZ_CHECK(std::string_view(encoded.data(), encoded.size()) == ds.bin, "tokens do not re-encode to the .bin");

  // Writing the same documents again gives the same two files, byte for byte.
  const std::string prefix = sp::fuzz::scratch_dir() + "/rewrite";
  {
    sp::IndexedDatasetWriter w(prefix, ds.dtype);
    for (size_t d = 0; d < ds.document_count(); ++d) {
      const auto first = static_cast<size_t>(ds.document_indices[d]);
      const auto last = static_cast<size_t>(ds.document_indices[d + 1]);
      std::vector<int32_t> lengths(ds.sequence_lengths.begin() + first, ds.sequence_lengths.begin() + last);
      w.add_document(ds.document(d), lengths);
    }
    w.finish();
  }
  FUZZ_CHECK(sp::fuzz::read_bytes(sp::idx_path(prefix)) == idx_bytes, "rewritten .idx differs");
  FUZZ_CHECK(sp::fuzz::read_bytes(sp::bin_path(prefix)) == bin_bytes, "rewritten .bin differs");
}

void read_raw_index(uint8_t mode, std::string_view idx) {
  const std::string prefix = sp::fuzz::scratch_dir() + "/raw";
  const std::string idx_bytes(idx);
  std::string bin_bytes((mode & 1) ? bin_size_for(idx, mode >> 1) : mode >> 1, '\0');
  for (size_t i = 0; i < bin_bytes.size(); ++i) bin_bytes[i] = static_cast<char>(i * 31 + mode);
  sp::fuzz::write_bytes(sp::idx_path(prefix), idx_bytes);
  sp::fuzz::write_bytes(sp::bin_path(prefix), bin_bytes);
  sp::IndexedDataset ds;
  try {
    ds = sp::read_indexed_dataset(prefix);
  } catch (const sp::Error&) {
    return;  // rejected with a message: fine
  }
  check_dataset(ds, idx_bytes, bin_bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the .bin: bit 0 set, as the index asks (when that is
  // small), else the upper 7 bits give its size.
  const uint8_t mode = data[0];
  read_raw_index(mode, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
