// IndexedDatasetWriter then read_indexed_dataset: documents derived from
// the input (any number of sequences, empty ones included), written whole or
// in two-step batches whose tokens are filled out of order, read back
// unchanged, in both token dtypes; the two files hold exactly the bytes
// computed here from the format (include/sp/indexed_dataset.h). A separate target from
// indexed_dataset_fuzz.cc because a writer costs about 40 ms under
// AddressSanitizer (finish() fills a few MB of fresh buffers) against well
// under 1 ms for reading an index: together, the reader would get few runs.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "sp/indexed_dataset.h"

namespace {

struct Document {
  std::vector<uint32_t> tokens;
  std::vector<int32_t> lengths;
};

// Documents from the input bytes: a byte below 32 ends a document (possibly
// one without sequences), any other byte adds a sequence of up to 7 tokens.
std::vector<Document> documents_from(std::string_view bytes, sp::TokenDtype dtype) {
  std::vector<Document> docs(1);
  uint32_t counter = 0;
  for (unsigned char b : bytes) {
    if (b < 32) {
      docs.emplace_back();
      continue;
    }
    const int32_t len = b % 8;
    docs.back().lengths.push_back(len);
    for (int32_t k = 0; k < len; ++k) {
      uint32_t id = ++counter * 2654435761u + b;
      if (dtype == sp::TokenDtype::kUint16) id &= 0xFFFF;
      docs.back().tokens.push_back(id);
    }
  }
  return docs;
}

template <class T>
void put(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);  // the format is little-endian, as is every machine we build for
  out.append(b, sizeof v);
}

// The .idx and .bin of `docs`, straight from the layout in the header.
std::pair<std::string, std::string> expected_files(const std::vector<Document>& docs, sp::TokenDtype dtype) {
  std::string lengths, pointers, doc_index, bin;
  uint64_t seqs = 0;
  int64_t offset = 0;
  put<int64_t>(doc_index, 0);
  for (const auto& d : docs) {
    for (int32_t len : d.lengths) {
      put<int32_t>(lengths, len);
      put<int64_t>(pointers, offset);
      offset += len * (dtype == sp::TokenDtype::kUint16 ? 2 : 4);
      ++seqs;
    }
    put<int64_t>(doc_index, static_cast<int64_t>(seqs));
    for (uint32_t id : d.tokens) {
      if (dtype == sp::TokenDtype::kUint16)
        put<uint16_t>(bin, static_cast<uint16_t>(id));
      else
        put<uint32_t>(bin, id);
    }
  }
  std::string idx("MMIDIDX\0\0", 9);
  put<uint64_t>(idx, 1);
  put<uint8_t>(idx, static_cast<uint8_t>(dtype));
  put<uint64_t>(idx, seqs);
  put<uint64_t>(idx, docs.size() + 1);
  return {idx + lengths + pointers + doc_index, bin};
}

void write_and_read_back(uint8_t mode, std::string_view bytes) {
  const auto dtype = (mode & 2) ? sp::TokenDtype::kInt32 : sp::TokenDtype::kUint16;
  const auto docs = documents_from(bytes, dtype);
  const std::string prefix = sp::fuzz::scratch_dir() + "/roundtrip";
  {
    sp::IndexedDatasetWriter w(prefix, dtype);
    if (mode & 4) {
      // Batches of up to three documents: indices in order, tokens filled
      // last batch first, as parallel workers may.
      std::vector<sp::DocumentBatch> batches;
      for (size_t d = 0; d < docs.size(); ++d) {
        if (d % 3 == 0) batches.emplace_back();
        auto& b = batches.back();
        sp::append_tokens(dtype, docs[d].tokens, b.token_bytes);
        b.sequence_lengths.insert(b.sequence_lengths.end(), docs[d].lengths.begin(), docs[d].lengths.end());
        b.sequences_per_document.push_back(static_cast<uint32_t>(docs[d].lengths.size()));
      }
      std::vector<uint64_t> offsets;
      for (const auto& b : batches) offsets.push_back(w.append_index(b));
      for (size_t i = batches.size(); i-- > 0;) w.write_tokens(offsets[i], batches[i]);
    } else {
      for (const auto& d : docs) w.add_document(d.tokens, d.lengths);
    }
    w.finish();
    FUZZ_CHECK(w.documents() == docs.size(), "writer counted %llu documents of %zu",
               static_cast<unsigned long long>(w.documents()), docs.size());
  }
  const auto [idx, bin] = expected_files(docs, dtype);
  FUZZ_CHECK(sp::fuzz::read_bytes(sp::idx_path(prefix)) == idx, ".idx is not the format's bytes");
  FUZZ_CHECK(sp::fuzz::read_bytes(sp::bin_path(prefix)) == bin, ".bin is not the tokens' bytes");
  const sp::IndexedDataset ds = sp::read_indexed_dataset(prefix);  // must not throw: we wrote it
  FUZZ_CHECK(ds.dtype == dtype && ds.document_count() == docs.size(), "read back %zu documents of %zu",
             ds.document_count(), docs.size());
  size_t seq = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    FUZZ_CHECK(ds.document(d) == docs[d].tokens, "document %zu changed", d);
    for (int32_t len : docs[d].lengths)
      FUZZ_CHECK(ds.sequence_lengths[seq++] == len, "sequence %zu of document %zu changed length", seq - 1, d);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the dtype (bit 1) and the writer path (bit 2).
  write_and_read_back(data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
