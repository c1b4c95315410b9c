// GPT-2's byte-level BPE: the vocabulary and merge table, the encoder (text ->
// token ids, identical to GPT-2's encoder.py, Megatron's GPT2BPETokenizer and
// tiktoken's gpt2 encode_ordinary) and the decoder (token ids -> bytes).
//
// Everything is held as raw bytes: the "unicode-ized" strings of vocab.json
// (GPT-2's bytes_to_unicode trick) are mapped back to bytes once, at load.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

namespace sp {

// Per-thread memo of pre-token -> token ids plus scratch space for the merge
// loop, so frequent pieces (" the", ",", " of") cost one hash lookup and no
// piece costs an allocation once the buffers have grown. Not thread-safe:
// create one per worker thread. Memory is bounded: when max_entries pieces are
// stored the whole memo is cleared (cheap, and the working set of common
// pieces refills within a few kilobytes of text). max_entries = 0 disables it.
class BpeCache {
 public:
  static constexpr size_t kDefaultEntries = size_t{1} << 16;
  // Pieces longer than this are never memoized: they are rare, and a single
  // 1 MB run of one letter must not pin a megabyte of ids.
  static constexpr size_t kMaxPieceBytes = 64;

  explicit BpeCache(size_t max_entries = kDefaultEntries) : max_entries_(max_entries) {}
  size_t size() const { return memo_.size(); }
  void clear();

 private:
  friend class BpeModel;
  struct Span {
    uint32_t offset;  // into ids_
    uint32_t count;
  };
  size_t max_entries_;
  absl::flat_hash_map<std::string, Span> memo_;
  std::vector<uint32_t> ids_;  // the memoized ids, back to back

  // Scratch for long pieces (see BpeModel::merge_long in bpe.cc).
  std::vector<uint32_t> part_ids, part_next, part_prev;
  std::vector<uint32_t> rank_heap;                   // ranks that have a bucket
  absl::flat_hash_map<uint32_t, uint32_t> bucket_of; // rank -> index in buckets
  std::vector<std::vector<uint32_t>> buckets;        // offsets of pairs, per rank
  std::vector<uint32_t> current;                     // the bucket being merged
  std::vector<uint32_t> changed;                     // parts whose right pair changed
};

class BpeModel {
 public:
  // Reads GPT-2's vocab.json (unicode-ized token -> id) and merges.txt
  // ("#version" line, then "A B" per line; rank = line order). Throws
  // sp::Error naming the file and the reason: missing/unreadable file, bad
  // JSON, a token that is not bytes_to_unicode text, duplicate token or id,
  // ids with gaps, a merge naming an unknown token or producing one that is
  // not in the vocabulary, a duplicate merge.
  static BpeModel load_gpt2(const std::string& vocab_json_path, const std::string& merges_txt_path);

  uint32_t vocab_size() const { return static_cast<uint32_t>(token_offsets_.size() - 1); }
  // Id of "<|endoftext|>" (50256 for GPT-2): the document separator that the
  // pipeline appends; encode() never produces it from text.
  uint32_t eod_id() const { return eod_id_; }
  size_t merge_count() const { return merges_.size(); }
  // Whether encode_piece may emit a piece that is a token without merging
  // (see tokens_merge_to_themselves_); exposed for tests.
  bool uses_whole_token_shortcut() const { return tokens_merge_to_themselves_; }

  // Appends the ids of `text` (valid UTF-8): GPT-2 pre-tokenization, then
  // BPE of each pre-token. "<|endoftext|>" in text is ordinary text.
  void encode(std::string_view text, std::vector<uint32_t>& out, BpeCache& cache) const;
  // Appends the BPE ids of one pre-token (any bytes, not empty).
  void encode_piece(std::string_view piece, std::vector<uint32_t>& out, BpeCache& cache) const;

  // Concatenated bytes of the tokens; throws sp::Error on an id >= vocab_size().
  std::string decode(std::span<const uint32_t> ids) const;
  // Raw bytes of one token; requires id < vocab_size().
  std::string_view token_bytes(uint32_t id) const {
    return std::string_view(token_blob_).substr(token_offsets_[id],
                                                token_offsets_[id + 1] - token_offsets_[id]);
  }
  // Id of a token given by its raw bytes, or -1.
  int64_t token_id(std::string_view bytes) const;

 private:
  struct Merge {
    uint32_t rank;    // line order in merges.txt: lower merges first
    uint32_t merged;  // id of the token the pair becomes
  };
  struct MergeRule {
    uint32_t left, right, merged;
  };
  static uint64_t pair_key(uint32_t left, uint32_t right) {
    return (uint64_t{left} << 32) | right;
  }
  static constexpr uint32_t kNoRank = UINT32_MAX;
  // Rank and result of merging two adjacent tokens; rank kNoRank if none.
  Merge find_merge(uint32_t left, uint32_t right) const {
    auto it = merges_.find(pair_key(left, right));
    return it == merges_.end() ? Merge{kNoRank, 0} : it->second;
  }
  void merge_short(std::string_view piece, std::vector<uint32_t>& out, BpeCache& cache) const;
  void merge_long(std::string_view piece, std::vector<uint32_t>& out, BpeCache& cache) const;

  std::string token_blob_;              // all token bytes, id order
  std::vector<uint32_t> token_offsets_; // vocab_size + 1 offsets into token_blob_
  absl::flat_hash_map<std::string, uint32_t> ids_by_bytes_;
  absl::flat_hash_map<uint64_t, Merge> merges_;  // pair_key(left, right) -> merge
  std::vector<MergeRule> rules_;                 // the same merges, by rank
  uint32_t byte_ids_[256] = {};         // id of each single-byte token
  // True when every token's own bytes merge back to exactly that token, which
  // makes "the piece is a token" a valid shortcut (true for GPT-2; checked at
  // load so another vocabulary can never get wrong ids from it).
  bool tokens_merge_to_themselves_ = false;
  uint32_t eod_id_ = 0;
};

// GPT-2's bytes_to_unicode: the code point that stands for byte b in
// vocab.json / merges.txt. Printable Latin-1 bytes stand for themselves; the
// other 68 take U+0100.. in byte order.
char32_t gpt2_byte_to_codepoint(uint8_t b);

}  // namespace sp
