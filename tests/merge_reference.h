// The merge tests' independent reference: datasets made through
// IndexedDatasetWriter, read back with read_indexed_dataset, and the bytes
// Megatron-LM's merge_datasets.py (IndexedDatasetBuilder.add_index, then
// finalize) would write for them, serialized here without any of
// src/merge.cc: lengths concatenated, pointers recomputed as running byte
// offsets, document indices [0] + each input's indices after its first
// offset by the sequences before it, the .bins concatenated.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sp/indexed_dataset.h"

namespace sp::test {

// A document: its sequences' token ids (a document may have no sequence, a sequence no token).
using Document = std::vector<std::vector<uint32_t>>;

inline void write_dataset(const std::string& prefix, TokenDtype dtype, const std::vector<Document>& docs) {
  IndexedDatasetWriter w(prefix, dtype);
  for (const Document& d : docs) {
    std::vector<uint32_t> tokens;
    std::vector<int32_t> lengths;
    for (const auto& s : d) {
      tokens.insert(tokens.end(), s.begin(), s.end());
      lengths.push_back(static_cast<int32_t>(s.size()));
    }
    w.add_document(tokens, lengths);
  }
  w.finish();
}

// `count` documents of 0..3 sequences of 0..40 tokens below max_id, from `seed`.
inline std::vector<Document> random_documents(size_t count, uint32_t max_id, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Document> docs(count);
  for (Document& d : docs) {
    d.resize(rng() % 4);
    for (auto& s : d) {
      s.resize(rng() % 41);
      for (uint32_t& t : s) t = rng() % max_id;
    }
  }
  return docs;
}

struct MergedBytes {
  std::string idx, bin;
};

inline MergedBytes reference_merge(const std::vector<std::string>& prefixes) {
  std::vector<IndexedDataset> in;
  for (const auto& p : prefixes) in.push_back(read_indexed_dataset(p));
  const TokenDtype dtype = in.at(0).dtype;
  const int64_t item = static_cast<int64_t>(dtype_size(dtype));
  std::vector<int32_t> lengths;
  std::vector<int64_t> documents{0};
  MergedBytes out;
  for (const IndexedDataset& d : in) {
    const int64_t offset = static_cast<int64_t>(lengths.size());
    lengths.insert(lengths.end(), d.sequence_lengths.begin(), d.sequence_lengths.end());
    for (size_t j = 1; j < d.document_indices.size(); ++j) documents.push_back(offset + d.document_indices[j]);
    out.bin += d.bin;
  }
  const auto put = [&out](const auto v) { out.idx.append(reinterpret_cast<const char*>(&v), sizeof v); };
  out.idx.append("MMIDIDX\0\0", 9);
  put(uint64_t{1});
  put(static_cast<uint8_t>(dtype));
  put(static_cast<uint64_t>(lengths.size()));
  put(static_cast<uint64_t>(documents.size()));
  for (int32_t l : lengths) put(l);
  int64_t pointer = 0;
  for (int32_t l : lengths) {
    put(pointer);
    pointer += l * item;
  }
  for (int64_t d : documents) put(d);
  return out;
}

}  // namespace sp::test
