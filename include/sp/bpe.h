// GPT-2's byte-level BPE: the vocabulary and merge table, the encoder (text ->
// token ids, identical to GPT-2's encoder.py, Megatron's GPT2BPETokenizer and
// tiktoken's gpt2 encode_ordinary) and the decoder (token ids -> bytes).
//
// Everything is held as raw bytes: the "unicode-ized" strings of vocab.json
// (GPT-2's bytes_to_unicode trick) are mapped back to bytes once, at load.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sp/large_table.h"

namespace sp {

// Per-thread memo of pre-token -> token ids plus scratch space for the merge
// loop, so frequent pieces that need merging cost one hash probe and no piece
// costs an allocation once the buffers have grown. Pieces that are themselves
// tokens (" the", " of") are found in the vocabulary and never stored here. Not thread-safe:
// create one per worker thread. Memory is bounded: when max_entries pieces are
// stored the memo is compacted: the pieces looked up again since they were
// stored stay (up to half of it), the rest go, mostly pieces seen once.
// max_entries = 0 disables it and the front cache.
class BpeCache {
 public:
  // 196,608 pieces in a table of 2^18 slots (8 MB): on mixed text half as
  // many entries re-merges a quarter more pieces after clears (measured:
  // 9% slower overall), and 4x as many gains under 2% more.
  static constexpr size_t kDefaultEntries = size_t{3} << 16;
  // Pieces longer than this are never memoized: they are rare, and a single
  // 1 MB run of one letter must not pin a megabyte of ids.
  static constexpr size_t kMaxPieceBytes = 64;

  // Entries of the front cache (see Front); one 64-byte cache line each, so
  // 2 MB. Eleven ids cover nearly every piece of up to 15 bytes, non-Latin
  // words included (they split into 4-8 tokens): with 3 ids, as in a
  // 32-byte entry, 40% more pieces missed on mixed text, half of them
  // Cyrillic, Greek or CJK words, and a miss costs a probe of the memo.
  static constexpr size_t kFrontEntries = size_t{1} << 15;
  static constexpr size_t kFrontPieceBytes = 15;  // longer pieces skip it
  static constexpr size_t kFrontIds = 11;         // pieces with more ids skip it

  explicit BpeCache(size_t max_entries = kDefaultEntries);
  size_t size() const { return size_; }
  void clear();

 private:
  friend class BpeModel;
  // The front cache: a direct-mapped table of the most recent pieces of 2 to
  // kFrontPieceBytes bytes, tokens and merged pieces alike, each with its at
  // most kFrontIds ids. Natural text is Zipfian, so most pieces hit here and
  // skip the vocabulary and memo tables, whose random probes miss L2. A new
  // piece overwrites whatever held its slot. head and tail are the whole
  // piece, length included (PieceKey), so a match is exact; both 0 = empty.
  struct alignas(64) Front {
    uint64_t head, tail;
    uint32_t ids[kFrontIds];
    uint8_t count;  // number of ids
  };
  LargeTable<Front> front_;  // power-of-two size, min(kFrontEntries, max_entries); empty = off
  void clear_memo();
  // One memoized piece in an open-addressing table (linear probing). head and
  // tail are the piece's first and last bytes as BpeModel's PieceKey packs
  // them; with len they are the whole piece when it is at most 16 bytes long.
  struct Slot {
    uint64_t head, tail;
    uint32_t ids[2];  // the ids when count <= 2, else ids[0] = their offset in ids_
    uint32_t key;     // offset of the piece's bytes in keys_ (pieces over 16 bytes)
    uint8_t len;      // piece bytes, 1..kMaxPieceBytes; 0 = empty slot
    uint8_t count;    // number of ids
    uint8_t reused;   // looked up again since stored or since the last compaction
  };  // 32 bytes: two per cache line
  size_t max_entries_;
  size_t size_ = 0;
  LargeTable<Slot> slots_;    // power-of-two size, at least 4/3 of max_entries_: at most 3/4 full
  std::string keys_;           // bytes of the memoized pieces over 16 bytes
  std::vector<uint32_t> ids_;  // ids of the memoized pieces with over 2 ids

  // encode() writes ids here, then appends them to the caller's vector in one
  // insert: sizing that vector for the worst case (one id per byte) up front
  // would zero-fill four bytes per input byte. Grows without initialization.
  std::unique_ptr<uint32_t[]> encode_ids_;
  size_t encode_ids_size_ = 0;

  // Scratch for long pieces (see BpeModel::merge_runs and merge_long in bpe.cc).
  struct Run {
    uint32_t id, count;
  };
  std::vector<Run> runs, next_runs;
  std::vector<uint32_t> part_ids, part_next, part_prev;
  std::vector<uint32_t> rank_heap;                   // ranks that have a bucket
  std::vector<uint32_t> bucket_of;                   // rank -> index in buckets, or UINT32_MAX
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
  // not in the vocabulary, a duplicate merge, over 2^21 - 2 tokens or
  // 2^22 - 2 merges (the packed merge table's limits).
  static BpeModel load_gpt2(const std::string& vocab_json_path, const std::string& merges_txt_path);

  uint32_t vocab_size() const { return static_cast<uint32_t>(token_offsets_.size() - 1); }
  // Id of "<|endoftext|>" (50256 for GPT-2): the document separator that the
  // pipeline appends; encode() never produces it from text.
  uint32_t eod_id() const { return eod_id_; }
  size_t merge_count() const { return rules_.size(); }
  // Whether encode_piece may emit a piece that is a token without merging
  // (see tokens_merge_to_themselves_); exposed for tests.
  bool uses_whole_token_shortcut() const { return tokens_merge_to_themselves_; }
  // Whether merged ids are computed as rank + a constant (see merged_id); for tests.
  bool uses_rank_plus_merged_ids() const { return merged_is_rank_plus_ != kNoRank; }

  // Appends the ids of `text` (valid UTF-8): GPT-2 pre-tokenization, then
  // BPE of each pre-token. "<|endoftext|>" in text is ordinary text.
  void encode(std::string_view text, std::vector<uint32_t>& out, BpeCache& cache) const;
  // The same ids in the cache's scratch buffer: valid until the cache's next
  // use, and no copy.
  std::span<const uint32_t> encode_span(std::string_view text, BpeCache& cache) const;
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
  struct MergeRule {
    uint32_t left, right, merged;
  };
  static uint64_t pair_key(uint32_t left, uint32_t right) {
    return (uint64_t{left} << 32) | right;
  }
  static constexpr uint32_t kNoRank = UINT32_MAX;
  // load_gpt2's duplicate-merge check: open addressing over one word per
  // merge, left id (kIdBits), right id (kIdBits), rank (kRankBits); at most
  // half full. All ones = empty: ids are below 2^kIdBits - 1 (load_gpt2
  // checks). Freed after loading; encoding looks merges up in partners_.
  static constexpr int kIdBits = 21, kRankBits = 22;
  static constexpr uint64_t kEmptyPair = UINT64_MAX;
  // The vocabulary by bytes: open addressing over PieceKey hashes (bpe.cc).
  // A slot holds the token's PieceKey words and length, so a lookup of a piece
  // of up to 16 bytes is decided in the slot; longer ones also compare the
  // middle bytes in token_blob_.
  struct TokenSlot {
    uint64_t head, tail;
    uint32_t len;  // 0 = empty
    uint32_t id;
  };
  struct PieceKey;

  // Rank of the merge of two adjacent tokens, or kNoRank if there is none: a
  // branch-free binary search of the left token's partners (most have one).
  uint32_t find_rank(uint32_t left, uint32_t right) const {
    const Partner* p = partners_.data() + pair_begin_[left];
    size_t len = pair_begin_[left + 1] - pair_begin_[left];
    if (len == 0) return kNoRank;
    while (len > 1) {  // keep p at the last partner with p->right <= right, if any
      const size_t half = len / 2;
      p = p[half].right <= right ? p + half : p;
      len -= half;
    }
    return p->right == right ? p->rank : kNoRank;
  }
  // Id of the token a merge makes: for GPT-2 that is 256 + rank, which saves
  // merge_short a random read of rules_ per merge (load_gpt2 checks it).
  uint32_t merged_id(uint32_t rank) const {
    return merged_is_rank_plus_ != kNoRank ? rank + merged_is_rank_plus_ : rules_[rank].merged;
  }
  bool add_merge(uint32_t left, uint32_t right, uint32_t rank);  // false: a duplicate
  bool add_token(std::string_view bytes, uint32_t id);  // false: a duplicate
  int64_t find_token(std::string_view bytes, const PieceKey& key) const;
  // The encoders write ids at `out`, which has room for one id per byte of
  // the piece, and return the end of what they wrote; emit_piece also needs
  // kIdSlack (bpe.cc) more ids of room, which it may overwrite.
  uint32_t* emit_piece(std::string_view piece, const PieceKey& key, uint32_t* out, BpeCache& cache) const;
  // encode() with the caches on: window pre-tokenizer, batches, prefetching.
  uint32_t* encode_batched(std::string_view text, uint32_t* out, BpeCache& cache) const;
  // Front cache slot of a piece of at most kFrontPieceBytes: bits 32 and up
  // of its hash, independent of the low bits that index the memo and vocabulary.
  static size_t front_slot(const PieceKey& key, const BpeCache& cache);
  // Makes room in a full memo (see BpeCache): keeps the reused pieces, up
  // to half of max_entries, rehashed into a cleared table.
  static void compact_memo(BpeCache& cache);
  // Stores a piece's ids in its front slot if they fit.
  static void remember(BpeCache::Front& front, const PieceKey& key, const uint32_t* ids, const uint32_t* end);
  // emit_piece past the front cache: vocabulary, memo, then the merge loop.
  uint32_t* emit_uncached(std::string_view piece, const PieceKey& key, uint32_t* out, BpeCache& cache) const;
  uint32_t* merge_short(std::string_view piece, uint32_t* out) const;
  uint32_t* merge_runs(std::string_view piece, uint32_t* out, BpeCache& cache) const;  // nullptr: not suitable
  uint32_t* merge_long(std::string_view piece, uint32_t* out, BpeCache& cache) const;

  std::string token_blob_;              // all token bytes, id order
  std::vector<uint32_t> token_offsets_; // vocab_size + 1 offsets into token_blob_
  LargeTable<TokenSlot> token_slots_;  // power-of-two size, at most half full
  std::vector<uint64_t> pair_slots_;    // power-of-two size, at most half full; empty after load
  // The merges by left token (CSR): those of token t are partners_[pair_begin_[t] ..
  // pair_begin_[t + 1]), sorted by right token. 600 KB for GPT-2, and the
  // partners of a token share a cache line, where the hash spreads them over 1 MB.
  struct Partner {
    uint32_t right, rank;
  };
  std::vector<uint32_t> pair_begin_;    // vocab_size + 1 offsets
  std::vector<Partner> partners_;
  int pair_shift_ = 64;                 // 64 - log2(pair_slots_.size())
  std::vector<MergeRule> rules_;        // the merges, by rank
  uint32_t byte_ids_[256] = {};         // id of each single-byte token
  // A front cache entry per byte, always current: encode_batched looks
  // single bytes up here with the same test as every other piece.
  std::array<BpeCache::Front, 256> byte_front_{};
  // Rank of merging the tokens of bytes a and b at [a << 8 | b]: merge_short's
  // first round looks up every adjacent byte pair, and this small table keeps
  // those lookups off the big, cache-missing pair table.
  std::vector<uint32_t> byte_pair_rank_;
  // True when every token's own bytes merge back to exactly that token, which
  // makes "the piece is a token" a valid shortcut (true for GPT-2; checked at
  // load so another vocabulary can never get wrong ids from it).
  bool tokens_merge_to_themselves_ = false;
  // k when every merge's result id is its rank + k, else kNoRank (merged_id).
  uint32_t merged_is_rank_plus_ = kNoRank;
  uint32_t eod_id_ = 0;
};

// GPT-2's bytes_to_unicode: the code point that stands for byte b in
// vocab.json / merges.txt. Printable Latin-1 bytes stand for themselves; the
// other 68 take U+0100.. in byte order.
char32_t gpt2_byte_to_codepoint(uint8_t b);

}  // namespace sp
