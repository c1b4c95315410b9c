// The layout behind BpeModel and BpeCache (include/sp/bpe.h): private to the
// library, its tests and benchmarks. bpe.cc holds the encoder (the hot path
// and the notes on why each fast path exists), bpe_build.cc the indexing and
// self-checks of a vocabulary, gpt2_vocab.cc the parser of GPT-2's files.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpe_shared_memo.h"
#include "sp/bpe.h"
#include "sp/large_table.h"

namespace sp {

namespace bpe_detail {

inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// 64 x 64 -> 128-bit product, halves folded: a cheap mixer whose low bits
// depend on all input bits.
inline uint64_t mix(uint64_t a, uint64_t b) {
  __extension__ using u128 = unsigned __int128;
  // The low half as its own product (one multiply all the same): in the
  // encoder's large loops GCC 12 kept a 128-bit value in a stack slot, three
  // extra instructions and a store-to-load wait on every hash.
  return (a * b) ^ static_cast<uint64_t>((u128{a} * b) >> 64);
}

// PieceKey::exact's masks for a piece of n bytes: the bytes kept in head
// and tail, and the length word.
struct ExactMask {
  uint64_t head, tail, length;
};
constexpr ExactMask exact_mask(size_t n) {
  const size_t high = n > 8 ? n - 8 : 0, low = n - high;  // bytes in tail, in head
  return {low ? ~uint64_t{0} >> (64 - 8 * low) : 0, (uint64_t{1} << (8 * high)) - 1, uint64_t{n} << 56};
}
inline constexpr ExactMask kExactMasks[16] = {
    exact_mask(0),  exact_mask(1),  exact_mask(2),  exact_mask(3),  exact_mask(4),  exact_mask(5),
    exact_mask(6),  exact_mask(7),  exact_mask(8),  exact_mask(9),  exact_mask(10), exact_mask(11),
    exact_mask(12), exact_mask(13), exact_mask(14), exact_mask(15)};

}  // namespace bpe_detail

// A piece's identity as two words, plus a hash. Pieces of up to kExactBytes
// (15) bytes are spelled out exactly: head = bytes 0..7 and tail = bytes
// 8..14, zero-padded, with the length in tail's top byte, so two such pieces
// are equal exactly when their words are (and no piece's words are both 0).
// Longer pieces keep their first and last 8 bytes, and their middle goes into
// the hash only; the tables that hold them compare length and middle too.
struct PieceKey {
  static constexpr size_t kExactBytes = 15;
  uint64_t head = 0, tail = 0, hash = 0;
  PieceKey() = default;
  explicit PieceKey(std::string_view s) {
    using bpe_detail::load64, bpe_detail::mix;
    const char* p = s.data();
    const size_t n = s.size();
    if (n <= kExactBytes) {
      char padded[16] = {};
      if (n > 0) std::memcpy(padded, p, n);
      *this = exact(padded, n);
      return;
    }
    head = load64(p), tail = load64(p + n - 8);
    hash = mix(head ^ 0x243F6A8885A308D3ull, tail ^ 0x13198A2E03707344ull ^ n);
    for (size_t i = 8; i + 8 < n; i += 8) hash = mix(hash ^ load64(p + i), 0xA4093822299F31D1ull);
  }
  // The key of the 1 <= n <= kExactBytes bytes at p, when 16 bytes at p are
  // readable: no branch and no copy, which the encoder's window relies on.
  // The masks come from a 16-entry table (one L1 line pair) instead of
  // variable shifts, which cost ~20 instructions a piece in the hot loop.
  static PieceKey exact(const char* p, size_t n) {
    using bpe_detail::load64, bpe_detail::mix;
    const bpe_detail::ExactMask& m = bpe_detail::kExactMasks[n];
    PieceKey k;
    k.head = load64(p) & m.head;
    k.tail = (load64(p + 8) & m.tail) | m.length;
    k.hash = mix(k.head ^ 0x243F6A8885A308D3ull, k.tail ^ 0x13198A2E03707344ull);
    return k;
  }

};

// What a BpeCache holds: the memo of pre-token -> ids and the merge scratch.
struct BpeScratch {
  // Pieces longer than this are never memoized: they are rare, and a single
  // 1 MB run of one letter must not pin a megabyte of ids. Up to 255 (the
  // slot's length byte): code repeats pieces of 65-100 bytes (a line of 79
  // newlines, "//===----...") that vocabularies without ordered merges send
  // to the heap loop at ~500 instructions a byte, 6% of cl100k's encoding of
  // mixed text before they were memoized.
  static constexpr size_t kMaxPieceBytes = 255;
  // The memo's side arrays (bytes of pieces over 16 bytes, ids of pieces with
  // over 2 ids) are held under this many bytes: a full memo is compacted
  // when a piece would pass it, as when max_entries pieces are stored.
  static constexpr size_t kMaxMemoBytes = size_t{16} << 20;
  // Entries of the front cache (see Front), 32 bytes each, so 8 MB. Four
  // ids cover 97.7% of front hits on mixed text (GPT-2, bench100: 1 id 85%,
  // 2 8%, 3 3.4%, 4 1.8%); the rest are mostly non-Latin words, which the
  // memo answers. The entry was one 64-byte line with 11 ids: half as many
  // pieces in the same 2 MB, and slower on the 16-core box (1 worker: 77.6 ->
  // 91.5 MB/s median of 4; 8 workers 627 -> 681; 16 workers 1110 -> 1125,
  // alternating runs in one loan). Past L2, but a hit's entry is prefetched
  // when its piece is cut, a batch before it is read, and misses cost ~200
  // ns: bench100's GPT-2 pieces of 2-15 bytes miss 1.66 M times in 2^16
  // entries, 0.99 M in 2^18 (simulated). With the pair filter (find_rank),
  // 2^16 -> 2^18 on the 16-core box, 1 worker, medians of 5 and 7 in two
  // loans: GPT-2 1.20x and 1.18x, cl100k 1.09x and 1.05x, o200k 1.10x and
  // 1.26x, Llama-3 1.06x; GPT-2 at 16 workers 1.10x.
  static constexpr size_t kFrontEntries = size_t{1} << 18;
  static constexpr size_t kFrontPieceBytes = 15;  // longer pieces skip it
  static constexpr size_t kFrontIds = 4;          // pieces with more ids skip it
  // Front::ids[0] holds the entry's id count above its id: ids stay below
  // 2^kIdBits (21), so the top three bits are free, and a hit needs no
  // separate count byte, which kept the entry at 32 bytes.
  static constexpr int kFrontCountShift = 29;
  static constexpr uint32_t kFrontIdMask = (uint32_t{1} << kFrontCountShift) - 1;

  explicit BpeScratch(size_t max_entries);
  void clear();
  void clear_memo();

  // The front cache: a direct-mapped table of the most recent pieces of 2 to
  // kFrontPieceBytes bytes, tokens and merged pieces alike, each with its at
  // most kFrontIds ids. Natural text is Zipfian, so most pieces hit here and
  // skip the vocabulary and memo tables, whose random probes miss L2. A new
  // piece overwrites whatever held its slot. head and tail are the whole
  // piece, length included (PieceKey), so a match is exact; both 0 = empty.
  struct alignas(32) Front {
    uint64_t head, tail;
    uint32_t ids[kFrontIds];  // ids[0] | count << kFrontCountShift, then the rest
    uint32_t count() const { return ids[0] >> kFrontCountShift; }
  };
  LargeTable<Front> front_;  // power-of-two size, min(kFrontEntries, max_entries); empty = off
  // One memoized piece in an open-addressing table (linear probing). head and
  // tail are the piece's first and last bytes as PieceKey packs them; with
  // len they are the whole piece when it is at most 16 bytes long.
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
  LargeTable<Slot> slots_;     // power-of-two size, at least 4/3 of max_entries_: at most 3/4 full
  std::string keys_;           // bytes of the memoized pieces over 16 bytes
  std::vector<uint32_t> ids_;  // ids of the memoized pieces with over 2 ids

  // This thread's words of the shared memo's arena (BpeSharedMemo::publish).
  BpeSharedMemo::ArenaChunk shared_arena_;
  BpeSharedMemo::User shared_user_;
  bool shared_on_ = false;  // the last BpeSharedMemo::shared answer: encode_batched prefetches its slots

  // encode_span() writes ids here: sizing a caller's vector for the worst
  // case (one id per byte) up front would zero-fill four bytes per input
  // byte. Grows without initialization.
  std::unique_ptr<uint32_t[]> encode_ids_;
  size_t encode_ids_size_ = 0;

  // Scratch for long pieces (merge_runs, merge_long, merge_heap in bpe.cc)
  // and for the initial symbols of character-level pieces.
  struct Run {
    uint32_t id, count;
  };
  std::vector<Run> runs, next_runs;
  std::vector<uint32_t> symbols;
  std::vector<uint32_t> part_ids, part_next, part_prev;
  std::vector<uint32_t> rank_heap;             // ranks that have a bucket
  std::vector<uint32_t> bucket_of;             // rank -> index in buckets, or UINT32_MAX
  std::vector<std::vector<uint32_t>> buckets;  // offsets of pairs, per rank
  std::vector<uint32_t> current;               // the bucket being merged
  std::vector<uint32_t> changed;               // parts whose right pair changed
  std::vector<uint64_t> pair_heap;             // merge_heap: (rank << 32 | part), a min-heap
};

// An indexed vocabulary: everything encoding looks up, built once
// (bpe_build.cc) and then only read.
struct BpeEngine {
  using Units = BpeVocabulary::Units;
  static constexpr uint32_t kNoRank = UINT32_MAX;
  // Limits of the packed tables: ids below 2^kIdBits - 1, priorities below
  // 2^kRankBits - 1 (the duplicate-merge check packs both in one word).
  static constexpr int kIdBits = 21, kRankBits = 22;
  // A token's slot in the vocabulary table also says whether a piece equal
  // to the token may be emitted as it without merging (WholeToken).
  static constexpr uint32_t kWholeToken = uint32_t{1} << 31;

  struct MergeRule {
    uint32_t left, right, merged;
  };
  // The vocabulary by bytes: open addressing over PieceKey hashes. A slot
  // holds the token's PieceKey words and length, so a lookup of a piece of
  // up to 16 bytes is decided in the slot; longer ones also compare the
  // middle bytes in token_blob_.
  struct TokenSlot {
    uint64_t head, tail;
    uint32_t len;  // 0 = empty
    uint32_t id;   // | kWholeToken
  };
  // Rank (merge priority) of two adjacent tokens, or kNoRank if they do not
  // merge: an open-addressing table of words (left, right, rank), so a
  // lookup is a multiply and usually one load. It replaced a binary search
  // of the left token's partners, which for a byte or a short prefix (the
  // left side of most merges in the short loop) runs ten or more rounds.
  uint32_t find_rank(uint32_t left, uint32_t right) const {
    if (!((merge_lefts_[left >> 6] >> (left & 63)) & (merge_rights_[right >> 6] >> (right & 63)) & 1))
      return kNoRank;  // either side is in no merge on that side (merge_lefts_)
    const uint64_t key = uint64_t{left} << kIdBits | right;
    if (!maybe_pair(key)) return kNoRank;
    for (size_t i = pair_slot(key);; i = (i + 1) & (pair_table_.size() - 1)) {
      const uint64_t word = pair_table_[i];
      if (word >> kRankBits == key) return static_cast<uint32_t>(word & ((uint64_t{1} << kRankBits) - 1));
      if (word == kNoPair) return kNoRank;
    }
  }
  // The pair filter: two bits in one word per merge (a blocked Bloom filter,
  // at least kPairFilterBits bits a merge), so that most pairs that do not
  // merge are answered without the rank table. A miss there is the slowest
  // lookup: the table is up to 80% full and probing ends only at an empty
  // word, ~9 words on average. On bench100 (dev VM, GPT-2) find_rank probed
  // 33.3 M words for 6.7 M calls, 8.0 M with the filter, which lets 24 k of
  // the 2.1 M absent pairs through. GPT-2's filter is 128 KB.
  static constexpr size_t kPairFilterBits = 12;
  static uint64_t pair_filter_hash(uint64_t key) { return (key ^ key >> 29) * 0xBF58476D1CE4E5B9ull; }
  static uint64_t pair_filter_bits(uint64_t hash) {
    return uint64_t{1} << (hash & 63) | uint64_t{1} << (hash >> 6 & 63);
  }
  bool maybe_pair(uint64_t key) const {
    const uint64_t h = pair_filter_hash(key), bits = pair_filter_bits(h);
    return (pair_filter_[h >> pair_filter_shift_] & bits) == bits;
  }
  std::vector<uint64_t> pair_filter_;  // power-of-two size, indexed by the hash's top bits
  int pair_filter_shift_ = 64;
  static constexpr uint64_t kNoPair = ~uint64_t{0};  // an empty slot: ids never reach 2^kIdBits - 1
  // Probing starts at the first word of a cache line (a bucket of
  // kPairBucket words), so a pair is nearly always found in one line even
  // with the table three quarters full. Knowing a pair absent takes longer
  // (the pair filter answers most of those).
  static constexpr size_t kPairBucket = 8;
  size_t pair_slot(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> pair_shift_) * kPairBucket;
  }
  // Id of the token a merge of this rank makes: for GPT-2 that is 256 + rank
  // and for tiktoken the rank itself, which saves merge_short a random read
  // of rules_ per merge.
  uint32_t merged_id(uint32_t rank) const {
    return merged_is_rank_plus_ != kNoRank ? rank + merged_is_rank_plus_ : rules_[rank].merged;
  }
  uint32_t vocab_size() const { return static_cast<uint32_t>(token_offsets_.size() - 1); }
  std::string_view token_bytes(uint32_t id) const {
    return std::string_view(token_blob_).substr(token_offsets_[id], token_offsets_[id + 1] - token_offsets_[id]);
  }
  // The slot word (id | kWholeToken) of a non-special token, or -1.
  int64_t find_token(std::string_view bytes, const PieceKey& key) const;

  // The encoders write ids at `out`, which has room for one id per byte of
  // the piece plus kIdSlack, and return the end of what they wrote.
  static constexpr size_t kIdSlack = BpeScratch::kFrontIds;
  std::span<const uint32_t> encode_with(std::string_view text, BpeModel::PretokenEnd pretoken_end,
                                        std::span<const std::string_view> pieces, BpeScratch& cache,
                                        BpeModel::StatefulPretokenEnd stateful_end = nullptr,
                                        const void* state = nullptr,
                                        PretokenPattern pattern = PretokenPattern::kGpt2,
                                        BpeModel::StatefulPretokenWindow stateful_window = nullptr) const;
  template <class ForEachPiece>
  uint32_t* encode_batched(ForEachPiece&& for_each_piece, uint32_t* out, BpeScratch& cache) const;
  uint32_t* emit_piece(std::string_view piece, const PieceKey& key, uint32_t* out, BpeScratch& cache) const;
  // Front cache slot of a piece of at most kFrontPieceBytes: bits 32 and up
  // of its hash, independent of the low bits that index the memo and vocabulary.
  static size_t front_slot(const PieceKey& key, const BpeScratch& cache) {
    return (key.hash >> 32) & (cache.front_.size() - 1);
  }
  // Makes room in a full memo: keeps the reused pieces, up to half of
  // max_entries, rehashed into a cleared table.
  static void compact_memo(BpeScratch& cache);
  static void remember(BpeScratch::Front& front, const PieceKey& key, const uint32_t* ids, const uint32_t* end);
  // emit_piece past the front cache: vocabulary, memo, then merge_piece.
  uint32_t* emit_uncached(std::string_view piece, const PieceKey& key, uint32_t* out, BpeScratch& cache) const;
  // BPE of one piece, no caches: initial symbols, then the merge loop that fits.
  uint32_t* merge_piece(std::string_view piece, uint32_t* out, BpeScratch& cache) const;
  // Character-level initial symbols (byte fallback, unknown tokens); returns their count.
  // With `classes` (room for a byte each), each symbol's character class
  // there: its ASCII character, kMetaspaceClass for ▁, kNoCharClass otherwise.
  size_t character_symbols(std::string_view piece, std::vector<uint32_t>& symbols,
                           uint8_t* classes = nullptr) const;
  uint32_t* merge_short_bytes(std::string_view piece, uint32_t* out) const;
  uint32_t* merge_short(const uint32_t* symbols, size_t n, uint32_t* out, const uint8_t* classes = nullptr) const;
  uint32_t* merge_short_ranked(uint32_t* ids, uint32_t* rank, size_t n, uint32_t* out) const;
  uint32_t* merge_runs(std::string_view piece, uint32_t* out, BpeScratch& cache) const;  // nullptr: not suitable
  uint32_t* merge_long(const uint32_t* symbols, size_t n, uint32_t* out, BpeScratch& cache) const;
  uint32_t* merge_heap(const uint32_t* symbols, size_t n, uint32_t* out, BpeScratch& cache) const;

  Units units_ = Units::kBytes;
  std::string token_blob_;               // all token bytes, id order
  std::vector<uint32_t> token_offsets_;  // vocab_size + 1 offsets into token_blob_
  LargeTable<TokenSlot> token_slots_;    // power-of-two size, at most half full; specials are not in it
  std::vector<uint32_t> specials_;       // sorted
  // The merges as (left << kIdBits | right) << kRankBits | rank words,
  // power-of-two size, 40% to 80% full, in cache-line buckets (find_rank).
  // The cold merge loop waits on these loads: a table that stays in L2
  // waits less. Llama-3's 280,147 merges took 8 MB at half full at most;
  // at 53% 4 MB, 7% faster end to end on the 16-core box. Lines of 8 words
  // let GPT-2's 50,000 merges take 512 KB (76% full) instead of 1 MB.
  LargeTable<uint64_t> pair_table_;  // page-aligned, so each bucket is one line
  int pair_shift_ = 64;              // 64 - log2(pair_table_.size() / kPairBucket)
  // Bit id: the token is the left (right) part of some merge. Most tokens
  // are neither - of GPT-2's 50,257, 9,443 are ever a left part and 6,812 a
  // right one - and the long tokens that merges make are nearly all leaves,
  // so most of the cold merge loop's lookups that find nothing are answered
  // here, from 2 x 6 KB that stay in L1, instead of a probe of the rank
  // table that waits on L2 or beyond. Dev VM, GPT-2, bench100: a cold merge
  // of a piece of up to 8 bytes 240 -> 205 ns, of 17-64 bytes -25%.
  std::vector<uint64_t> merge_lefts_, merge_rights_;
  size_t merge_count_ = 0;
  std::vector<MergeRule> rules_;  // by rank; left/right are those of one pair of that rank
  uint32_t byte_ids_[256] = {};   // kBytes: id of each single-byte token
  // A front cache entry per byte, always current: encode_batched looks
  // single bytes up here with the same test as every other piece.
  std::array<BpeScratch::Front, 256> byte_front_{};
  // kBytes: rank of merging the tokens of bytes a and b at [a << 8 | b]:
  // merge_short's first round looks up every adjacent byte pair, and this
  // small table keeps those lookups off the big, cache-missing partner table.
  std::vector<uint32_t> byte_pair_rank_;
  // Whether some token may be emitted whole (kWholeToken set anywhere).
  bool whole_tokens_ = false;
  // Every merge's parts are made by merges of lower rank (or are initial
  // symbols), so merging never creates a pair that outranks the current one:
  // merge_long and merge_runs rely on it; without it merge_heap.
  bool ranks_ordered_ = false;
  // Each rank belongs to one pair (merge lists; not tiktoken): merge_runs relies on it.
  bool one_pair_per_rank_ = false;
  // k when every merge's result id is its rank + k, else kNoRank (merged_id).
  uint32_t merged_is_rank_plus_ = kNoRank;
  // kCharacters: "<0xXX>" token of each byte, or kNoRank; the unknown token.
  uint32_t byte_fallback_ids_[256] = {};
  // kCharacters: the token of each ASCII character, or kNoRank, so that
  // character_symbols looks most characters up without hashing them.
  uint32_t ascii_tokens_[128] = {};
  // kCharacters: the token of each character of two or three bytes (U+0080 to
  // U+FFFF) by code point, or kNoRank; 256 KB, so that character_symbols
  // finds ▁ and the letters of most scripts without hashing them (a
  // vocabulary probe per character was ~100 instructions, 7% of
  // bpe_bytefallback.model's encoding of mixed text).
  std::vector<uint32_t> bmp_tokens_;
  // kCharacters: the rank of each pair of character classes (ASCII
  // characters that are tokens, and ▁), at [left * kCharClasses + right]:
  // the first ranks of a piece no cache answered are looked up here, as
  // byte_pair_rank_ does for bytes, instead of in the rank table (~450
  // instructions a piece of SentencePiece text, 6% of its encoding).
  static constexpr uint8_t kMetaspaceClass = 128, kCharClasses = 129, kNoCharClass = 255;
  std::vector<uint32_t> char_pair_rank_;
  // Code point of the well-formed UTF-8 character of len (2 or 3) bytes at p.
  static uint32_t bmp_code_point(const char* p, size_t len) {
    const auto* u = reinterpret_cast<const uint8_t*>(p);
    if (len == 2) return (u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu);
    return (u[0] & 0x0Fu) << 12 | (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu);
  }
  bool byte_fallback_ = false;
  uint32_t unk_id_ = kNoRank;
  bool fuse_unk_ = false;
  // The memo of merged pieces shared by every thread that encodes with this
  // model (bpe_shared_memo.h), probed when a thread's own memo misses.
  // Written while the engine is otherwise read-only: it is insert-only and
  // lock-free, and what it answers is what merging would give.
  std::unique_ptr<BpeSharedMemo> shared_memo_;
};

}  // namespace sp
