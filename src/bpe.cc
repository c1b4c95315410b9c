// GPT-2 byte-level BPE. The merge rule (GPT-2's encoder.py): split a pre-token
// into single bytes, then repeatedly merge the adjacent pair with the lowest
// merge rank, the leftmost one on ties, until no adjacent pair has a rank.
//
// Three ways to get there, cheapest first, behind a per-thread front cache
// of recent pieces of up to 15 bytes and 11 ids (BpeCache::Front), which
// answers about nine pieces in ten of real text with one probe:
//   1. the piece is itself a vocabulary token: for GPT-2 every token merges
//      back to itself (load_gpt2 checks this), so emit it; about 70% of the
//      multi-byte pieces of real text, so the memo never stores them;
//   2. the per-thread memo (BpeCache) already holds the piece's ids; a full
//      memo keeps the pieces that were reused and drops the rest;
//   3. the merge loop: a rank scan over a small stack array for short pieces;
//      for long ones, BPE on (id, count) runs when the piece is a few runs of
//      equal bytes (a megabyte of one letter, digit, space or punctuation costs
//      a few dozen rounds over a handful of runs), else a linked list +
//      per-rank buckets, O(n log n) whatever the piece.
// The memo and the vocabulary are plain open-addressing tables (linear
// probing) with keys that compare in a couple of integer compares: a piece of
// up to 15 bytes is exactly two 64-bit words, its length included
// (PieceKey). The merges are found by left token, then a binary search of its
// few right partners (find_rank). encode() pre-tokenizes 64 bytes at a time
// (gpt2_pretoken_window), prefetches the table slots of a batch of pieces
// before emitting them, and writes ids to a per-cache scratch buffer sized
// for one id per byte.
#include "sp/bpe.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <simdjson.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <sys/stat.h>

#include "sp/error.h"
#include "sp/io.h"
#include "sp/pretokenizer.h"
#include "sp/unicode.h"

namespace sp {

namespace {

// Pieces up to this many bytes use the quadratic scan: for them it beats the
// buckets' bookkeeping, and nearly every pre-token of real text is this short.
constexpr size_t kShortPieceBytes = 64;

// Long pieces with at most one run of equal bytes per this many bytes take
// merge_runs; the rest merge_long.
constexpr size_t kBytesPerRun = 16;

// emit_piece may write this many ids past a piece's own room of one id per
// byte (the cache hits copy a fixed number of ids), so its callers add it.
constexpr size_t kIdSlack = BpeCache::kFrontIds;

// The whole file followed by simdjson's padding (one copy of a megabyte:
// nothing next to parsing it).
simdjson::padded_string read_whole_file(const std::string& path) { return simdjson::padded_string(read_file(path)); }

// Inverse of gpt2_byte_to_codepoint over the 324 code points it uses; -1 for
// code points that stand for no byte.
struct UnicodeToByte {
  int16_t byte_of[324];
  UnicodeToByte() {
    std::fill(std::begin(byte_of), std::end(byte_of), int16_t{-1});
    for (int b = 0; b < 256; ++b) byte_of[gpt2_byte_to_codepoint(static_cast<uint8_t>(b))] = int16_t(b);
  }
};

// Maps one unicode-ized vocab.json / merges.txt string back to raw bytes.
// Returns false when it is not valid UTF-8 of bytes_to_unicode code points.
bool unicode_to_bytes(std::string_view s, std::string& out) {
  static const UnicodeToByte table;
  out.clear();
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence_length(s, i);
    if (len == 0 || len > 2) return false;  // every bytes_to_unicode code point is < U+0800
    size_t decoded;
    const char32_t cp = decode_utf8(s.data() + i, &decoded);
    i += len;
    if (cp >= 324 || table.byte_of[cp] < 0) return false;
    out.push_back(static_cast<char>(table.byte_of[cp]));
  }
  return true;
}

inline uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// 64 x 64 -> 128-bit product, halves folded: a cheap mixer whose low bits
// depend on all input bits.
inline uint64_t mix(uint64_t a, uint64_t b) {
  __extension__ using u128 = unsigned __int128;
  const u128 m = u128{a} * b;
  return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
}

// Whether the bytes between the first and last 8 of two equally long pieces
// match; the only check a PieceKey leaves for pieces over 16 bytes.
inline bool same_middle(const char* a, const char* b, size_t len) {
  return len <= 16 || std::memcmp(a + 8, b + 8, len - 16) == 0;
}

}  // namespace

char32_t gpt2_byte_to_codepoint(uint8_t b) {
  // Printable bytes: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF keep their value;
  // the rest (controls, space, DEL, U+0080..U+00A0, soft hyphen) are numbered
  // from U+0100 in byte order.
  auto printable = [](int x) { return (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE; };
  if (printable(b)) return b;
  char32_t n = 0;
  for (int x = 0; x < b; ++x) n += !printable(x);
  return 0x100 + n;
}

// A piece's identity as two words, plus a hash. Pieces of up to kExactBytes
// (15) bytes are spelled out exactly: head = bytes 0..7 and tail = bytes
// 8..14, zero-padded, with the length in tail's top byte, so two such pieces
// are equal exactly when their words are (and no piece's words are both 0).
// Longer pieces keep their first and last 8 bytes, and their middle goes into
// the hash only; the tables that hold them compare length and middle too.
struct BpeModel::PieceKey {
  static constexpr size_t kExactBytes = 15;
  uint64_t head = 0, tail = 0, hash = 0;
  PieceKey() = default;
  explicit PieceKey(std::string_view s) {
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
  // The key of the n <= kExactBytes bytes at p, when 16 bytes at p are
  // readable: no branch and no copy, which the encoder's window relies on.
  static PieceKey exact(const char* p, size_t n) {
    PieceKey k;
    const size_t high = n > 8 ? n - 8 : 0, low = n - high;  // bytes in tail, in head
    k.head = low ? load64(p) & (~uint64_t{0} >> (64 - 8 * low)) : 0;
    k.tail = (load64(p + 8) & ((uint64_t{1} << (8 * high)) - 1)) | (uint64_t{n} << 56);
    k.hash = mix(k.head ^ 0x243F6A8885A308D3ull, k.tail ^ 0x13198A2E03707344ull);
    return k;
  }
};

BpeCache::BpeCache(size_t max_entries)
    : max_entries_(max_entries), slots_(max_entries ? std::bit_ceil(max_entries + (max_entries + 2) / 3) : 1) {
  if (max_entries > 0) {
    front_.assign_zero(std::min(kFrontEntries, std::bit_ceil(max_entries)));
  }
}

void BpeCache::clear() {
  front_.fill_zero();
  clear_memo();
}

void BpeCache::clear_memo() {
  slots_.fill_zero();
  size_ = 0;
  keys_.clear();
  ids_.clear();
}

bool BpeModel::add_token(std::string_view bytes, uint32_t id) {
  if (bytes.empty()) return true;  // unreachable from text: every piece has a byte
  const PieceKey key(bytes);
  const size_t mask = token_slots_.size() - 1;
  for (size_t i = key.hash & mask;; i = (i + 1) & mask) {
    TokenSlot& s = token_slots_[i];
    if (s.len == 0) {
      s = TokenSlot{key.head, key.tail, static_cast<uint32_t>(bytes.size()), id};
      return true;
    }
    if (s.head == key.head && s.tail == key.tail && s.len == bytes.size() && token_bytes(s.id) == bytes) return false;
  }
}

int64_t BpeModel::find_token(std::string_view bytes, const PieceKey& key) const {
  const size_t mask = token_slots_.size() - 1;
  for (size_t i = key.hash & mask;; i = (i + 1) & mask) {
    const TokenSlot& s = token_slots_[i];
    if (s.len == 0) return -1;
    if (s.head == key.head && s.tail == key.tail && s.len == bytes.size() &&
        same_middle(token_blob_.data() + token_offsets_[s.id], bytes.data(), bytes.size()))
      return s.id;
  }
}

bool BpeModel::add_merge(uint32_t left, uint32_t right, uint32_t rank) {
  const uint64_t pair = (uint64_t{left} << kIdBits) | right;
  for (size_t i = (pair * 0x9E3779B97F4A7C15ull) >> pair_shift_;; i = (i + 1) & (pair_slots_.size() - 1)) {
    uint64_t& s = pair_slots_[i];
    if ((s >> kRankBits) == pair) return false;
    if (s == kEmptyPair) {
      s = (pair << kRankBits) | rank;
      return true;
    }
  }
}

BpeModel BpeModel::load_gpt2(const std::string& vocab_json_path, const std::string& merges_txt_path) {
  BpeModel m;

  // vocab.json: {"unicode-ized token": id, ...}
  {
    const std::string& path = vocab_json_path;
    const simdjson::padded_string json = read_whole_file(path);
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (auto err = parser.parse(json).get_object().get(obj))
      throw InputError(path, 0, std::string("not a JSON object of token -> id: ") + simdjson::error_message(err));
    // Each token's raw bytes go into one blob as they come (no string per
    // token: a fresh process pays for every page it touches); entries[id]
    // says where, and keeps the vocab.json key for error messages.
    constexpr uint32_t kUnseen = UINT32_MAX;
    constexpr int64_t kMaxTokens = (int64_t{1} << kIdBits) - 2;
    struct Entry {
      uint32_t offset = 0, length = kUnseen;
      std::string_view name;
    };
    std::vector<Entry> entries;
    entries.reserve(obj.size());
    std::string blob, bytes;
    for (auto field : obj) {
      int64_t id;
      if (field.value.get_int64().get(id) || id < 0)
        throw InputError(path, 0, "token " + std::string(field.key) + " has no valid integer id");
      if (id >= kMaxTokens)
        throw InputError(path, 0, "token " + std::string(field.key) + " has id " + std::to_string(id) +
                                      ": more than " + std::to_string(kMaxTokens) + " tokens are not supported");
      if (!unicode_to_bytes(field.key, bytes))
        throw InputError(path, 0, "token " + std::string(field.key) + " is not GPT-2 byte-level text");
      const auto uid = static_cast<size_t>(id);
      if (uid >= entries.size()) entries.resize(uid + 1);
      if (entries[uid].length != kUnseen) throw InputError(path, 0, "id " + std::to_string(id) + " used twice");
      entries[uid] = {static_cast<uint32_t>(blob.size()), static_cast<uint32_t>(bytes.size()), field.key};
      blob += bytes;
      if (field.key == "<|endoftext|>") m.eod_id_ = static_cast<uint32_t>(id);
    }
    for (size_t id = 0; id < entries.size(); ++id)
      if (entries[id].length == kUnseen)
        throw InputError(path, 0, "ids are not contiguous: id " + std::to_string(id) + " is missing");
    auto token = [&](size_t id) { return std::string_view(blob).substr(entries[id].offset, entries[id].length); };
    if (entries.empty() || token(m.eod_id_) != "<|endoftext|>") throw InputError(path, 0, "no \"<|endoftext|>\" token");
    m.token_offsets_.reserve(entries.size() + 1);
    m.token_offsets_.push_back(0);
    m.token_blob_.reserve(blob.size());
    for (size_t id = 0; id < entries.size(); ++id) {
      m.token_blob_ += token(id);
      m.token_offsets_.push_back(static_cast<uint32_t>(m.token_blob_.size()));
    }
    m.token_slots_.assign_zero(2 * std::bit_ceil(entries.size()));
    for (uint32_t id = 0; id < entries.size(); ++id)
      if (id != m.eod_id_ && !m.add_token(m.token_bytes(id), id))
        throw InputError(path, 0, "token " + std::string(entries[id].name) + " appears twice");
    for (int b = 0; b < 256; ++b) {
      const int64_t id = m.token_id(std::string(1, static_cast<char>(b)));
      if (id < 0) throw InputError(path, 0, "no token for byte " + std::to_string(b));
      m.byte_ids_[b] = static_cast<uint32_t>(id);
      const char byte = static_cast<char>(b);
      const PieceKey key(std::string_view(&byte, 1));
      m.byte_front_[b] = BpeCache::Front{key.head, key.tail, {static_cast<uint32_t>(id), 0, 0}, 1};
    }
  }

  // merges.txt: "#version: 0.2" then "A B" per line; the line order is the rank.
  {
    const std::string& path = merges_txt_path;
    const simdjson::padded_string file = read_whole_file(path);
    const std::string_view text(file.data(), file.size());
    std::string left, right, joined;
    uint64_t line_no = 0;
    uint32_t rank = 0;
    // First rank at which each token exists: 0 for bytes, r + 1 for the
    // result of the merge of rank r, kNoRank for tokens no merge makes.
    std::vector<uint32_t> created_at(m.vocab_size(), kNoRank);
    const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    if (lines >= (size_t{1} << kRankBits) - 1)
      throw InputError(path, 0, "more than " + std::to_string((1 << kRankBits) - 2) + " merges");
    m.pair_slots_.assign(2 * std::bit_ceil(lines), kEmptyPair);
    m.pair_shift_ = 64 - std::countr_zero(m.pair_slots_.size());
    for (uint32_t id : m.byte_ids_) created_at[id] = 0;
    for (size_t pos = 0; pos < text.size();) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      std::string_view line(text.data() + pos, eol - pos);
      pos = eol + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() || (line_no == 1 && line.starts_with("#"))) continue;
      size_t space = line.find(' ');
      if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
        throw InputError(path, line_no, "expected two tokens separated by one space");
      std::string_view a = line.substr(0, space), b = line.substr(space + 1);
      if (!unicode_to_bytes(a, left) || !unicode_to_bytes(b, right) || left.empty() || right.empty())
        throw InputError(path, line_no, "not GPT-2 byte-level text");
      joined.assign(left).append(right);
      int64_t l = m.token_id(left), r = m.token_id(right), merged = m.token_id(joined);
      if (l < 0 || r < 0)
        throw InputError(path, line_no, "merge of unknown token " + std::string(l < 0 ? a : b));
      if (merged < 0)
        throw InputError(path, line_no, "merge result " + std::string(a) + std::string(b) + " is not in the vocabulary");
      // merge_long relies on this: a merge only uses tokens that earlier
      // merges made, so merging never creates a pair that outranks itself.
      for (int64_t part : {l, r})
        if (created_at[size_t(part)] > rank)
          throw InputError(path, line_no, "merge uses token " + std::string(part == l ? a : b) +
                                              " before any earlier merge makes it");
      if (created_at[size_t(merged)] == kNoRank) created_at[size_t(merged)] = rank + 1;
      if (!m.add_merge(uint32_t(l), uint32_t(r), rank++))
        throw InputError(path, line_no, "duplicate merge " + std::string(line));
      m.rules_.push_back({uint32_t(l), uint32_t(r), uint32_t(merged)});
    }
    if (m.rules_.empty()) throw InputError(path, 0, "no merges");
  }
  // The merges grouped by left token, each group sorted by right token (find_rank).
  m.pair_begin_.assign(m.vocab_size() + 1, 0);
  for (const MergeRule& r : m.rules_) ++m.pair_begin_[r.left + 1];
  for (uint32_t t = 0; t < m.vocab_size(); ++t) m.pair_begin_[t + 1] += m.pair_begin_[t];
  m.partners_.resize(m.rules_.size());
  {
    std::vector<uint32_t> fill(m.pair_begin_.begin(), m.pair_begin_.end() - 1);
    for (uint32_t rank = 0; rank < m.rules_.size(); ++rank)
      m.partners_[fill[m.rules_[rank].left]++] = {m.rules_[rank].right, rank};
  }
  for (uint32_t t = 0; t < m.vocab_size(); ++t)
    std::sort(m.partners_.begin() + m.pair_begin_[t], m.partners_.begin() + m.pair_begin_[t + 1],
              [](const Partner& a, const Partner& b) { return a.right < b.right; });
  std::vector<uint64_t>().swap(m.pair_slots_);  // only load_gpt2's duplicate check needs it
  m.byte_pair_rank_.resize(256 * 256);
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) m.byte_pair_rank_[a << 8 | b] = m.find_rank(m.byte_ids_[a], m.byte_ids_[b]);
  const uint32_t offset = m.rules_[0].merged;  // rank 0
  bool rank_plus = true;
  for (uint32_t r = 0; r < m.rules_.size() && rank_plus; ++r) rank_plus = m.rules_[r].merged == offset + r;
  if (rank_plus) m.merged_is_rank_plus_ = offset;

  // Decide whether the whole-piece shortcut is exact for this vocabulary:
  // 50,000 short merges, about 10 ms on one core, so spread over the
  // threads the process may use (startup is serial time for every worker).
  std::atomic<bool> all_self{true};
  tbb::parallel_for(tbb::blocked_range<uint32_t>(0, m.vocab_size(), 2048), [&](const tbb::blocked_range<uint32_t>& r) {
    BpeCache scratch(0);
    std::vector<uint32_t> ids;
    for (uint32_t id = r.begin(); id != r.end() && all_self.load(std::memory_order_relaxed); ++id) {
      if (id == m.eod_id_) continue;
      ids.clear();
      m.encode_piece(m.token_bytes(id), ids, scratch);
      if (ids.size() != 1 || ids[0] != id) all_self = false;
    }
  });
  m.tokens_merge_to_themselves_ = all_self;
  return m;
}

int64_t BpeModel::token_id(std::string_view bytes) const { return find_token(bytes, PieceKey(bytes)); }

void BpeModel::encode(std::string_view text, std::vector<uint32_t>& out, BpeCache& cache) const {
  const std::span<const uint32_t> ids = encode_span(text, cache);
  out.insert(out.end(), ids.begin(), ids.end());
}

std::span<const uint32_t> BpeModel::encode_span(std::string_view text, BpeCache& cache) const {
  // Room for the worst case, one id per byte, plus emit_piece's slack. A
  // megabyte-sized buffer left by an unusually long text is given back
  // first, so one huge document does not pin it for the thread's life.
  const size_t need = text.size() + kIdSlack;
  if (cache.encode_ids_size_ < need || (cache.encode_ids_size_ > (size_t{1} << 20) && need <= (size_t{1} << 20))) {
    cache.encode_ids_size_ = cache.encode_ids_size_ < need ? std::max(need, 2 * cache.encode_ids_size_) : need;
    cache.encode_ids_.reset(new uint32_t[cache.encode_ids_size_]);
  }
  uint32_t* const begin = cache.encode_ids_.get();
  uint32_t* end = begin;
  if (cache.front_.empty()) {  // caches off (tests of the merge loop): one piece at a time
    for (size_t pos = 0; pos < text.size();) {
      const size_t next = gpt2_pretoken_end(text, pos);
      const std::string_view piece = text.substr(pos, next - pos);
      end = emit_piece(piece, PieceKey(piece), end, cache);
      pos = next;
    }
  } else {
    end = encode_batched(text, end, cache);
  }
  return {begin, end};
}

// The hot loop. Pieces go in batches: a batch is pre-tokenized 64 bytes at a
// time (for_each_pretoken), each piece's key is built from the window's
// padded copy without a branch, and its front cache slot is prefetched;
// then the slots of the pieces that missed the front cache get their
// vocabulary and memo slots prefetched, and only then are the pieces
// emitted, so the batch's cache misses overlap instead of each stalling its
// own piece. Single bytes go through the same code: their "front slot" is
// byte_front_, which always matches, so the hit test is the one
// well-predicted branch per piece on typical text.
uint32_t* BpeModel::encode_batched(std::string_view text, uint32_t* out, BpeCache& cache) const {
  // Pieces per batch: more misses in flight at once; 128 measured ~5%
  // faster than 32 on mixed text, the same on prose.
  constexpr size_t kBatch = 128;
  struct Pending {
    const char* data;
    size_t n;
    BpeCache::Front* front;
    PieceKey key;
  };
  Pending batch[kBatch];
  size_t count = 0;
  BpeCache::Front* const fronts = cache.front_.data();
  BpeCache::Front* const byte_fronts = const_cast<BpeCache::Front*>(byte_front_.data());  // never written: they always hit
  auto add = [&](const char* data, size_t n, const PieceKey& key) {
    Pending& p = batch[count++];
    p.data = data, p.n = n, p.key = key;
    p.front = n == 1 ? &byte_fronts[static_cast<uint8_t>(*data)] : &fronts[front_slot(key, cache)];
    __builtin_prefetch(p.front);
  };
  auto hit = [](const Pending& p) {
    return p.n <= BpeCache::kFrontPieceBytes && p.front->head == p.key.head && p.front->tail == p.key.tail;
  };
  auto flush = [&] {
    for (size_t i = 0; i < count; ++i) {
      if (hit(batch[i])) continue;
      __builtin_prefetch(&token_slots_[batch[i].key.hash & (token_slots_.size() - 1)]);
      __builtin_prefetch(&cache.slots_[batch[i].key.hash & (cache.slots_.size() - 1)]);
    }
    for (size_t i = 0; i < count; ++i) {
      const Pending& p = batch[i];
      // Re-tested: an earlier piece of the batch may have refilled the slot.
      if (hit(p)) {
        // Copy all kFrontIds ids whatever the count (kIdSlack makes room),
        // so the common one-id hit takes no loop.
        std::memcpy(out, p.front->ids, sizeof p.front->ids);
        out += p.front->count;
        continue;
      }
      uint32_t* const end = emit_uncached(std::string_view(p.data, p.n), p.key, out, cache);
      if (p.n <= BpeCache::kFrontPieceBytes) remember(*p.front, p.key, out, end);
      out = end;
    }
    count = 0;
  };
  // The key straight from the padded bytes when it can (no branch, no copy).
  for_each_pretoken(text, [&](size_t at, size_t n, const char* padded) {
    add(text.data() + at, n,
        n <= PieceKey::kExactBytes && padded ? PieceKey::exact(padded, n) : PieceKey(text.substr(at, n)));
    if (count == kBatch) flush();
  });
  flush();
  return out;
}

void BpeModel::encode_piece(std::string_view piece, std::vector<uint32_t>& out, BpeCache& cache) const {
  const size_t base = out.size();
  out.resize(base + piece.size() + kIdSlack);
  out.resize(static_cast<size_t>(emit_piece(piece, PieceKey(piece), out.data() + base, cache) - out.data()));
}

uint32_t* BpeModel::emit_piece(std::string_view piece, const PieceKey& key, uint32_t* out, BpeCache& cache) const {
  const size_t n = piece.size();
  if (n == 1) {  // single bytes are their own token; no lookup at all
    *out = byte_ids_[static_cast<uint8_t>(piece[0])];
    return out + 1;
  }
  if (n == 0) return out;
  // Front cache first: a hit costs one probe of a table that stays in L2.
  BpeCache::Front* front = nullptr;
  if (n <= BpeCache::kFrontPieceBytes && !cache.front_.empty()) {
    front = &cache.front_[front_slot(key, cache)];
    if (front->head == key.head && front->tail == key.tail) {
      // Fast path: copy all kFrontIds slots whatever the count (the slack
      // makes room), so the common 1-id hit takes no loop branch.
      std::memcpy(out, front->ids, sizeof front->ids);
      return out + front->count;
    }
  }
  uint32_t* const end = emit_uncached(piece, key, out, cache);
  if (front) remember(*front, key, out, end);
  return end;
}

size_t BpeModel::front_slot(const PieceKey& key, const BpeCache& cache) {
  return (key.hash >> 32) & (cache.front_.size() - 1);
}

void BpeModel::remember(BpeCache::Front& front, const PieceKey& key, const uint32_t* ids, const uint32_t* end) {
  if (end - ids > static_cast<ptrdiff_t>(BpeCache::kFrontIds)) return;
  front.head = key.head, front.tail = key.tail;
  front.count = static_cast<uint8_t>(end - ids);
  std::copy(ids, end, front.ids);
}

uint32_t* BpeModel::emit_uncached(std::string_view piece, const PieceKey& key, uint32_t* out,
                                  BpeCache& cache) const {
  const size_t n = piece.size();
  const size_t mask = cache.slots_.size() - 1;
  size_t slot = key.hash & mask;
  // Whole-token pieces (" the", "ing", most of prose) are found in the
  // vocabulary; the memo keeps only pieces that need merging. Its slot is
  // prefetched first, so a piece that is not a token waits for one cache
  // miss, not two in a row.
  __builtin_prefetch(&cache.slots_[slot]);
  if (tokens_merge_to_themselves_) {
    if (const int64_t token = find_token(piece, key); token >= 0) {
      *out = static_cast<uint32_t>(token);
      return out + 1;
    }
  }
  const bool memoize = cache.max_entries_ > 0 && n <= BpeCache::kMaxPieceBytes;
  if (memoize) {
    for (;; slot = (slot + 1) & mask) {
      BpeCache::Slot& s = cache.slots_[slot];
      if (s.len == 0) break;  // a miss; `slot` is where the piece goes
      if (s.head == key.head && s.tail == key.tail && s.len == n &&
          same_middle(cache.keys_.data() + s.key, piece.data(), n)) {
        s.reused = 1;
        if (s.count <= 2) {  // both inline ids, whatever the count (the slack makes room)
          std::memcpy(out, s.ids, sizeof s.ids);
          return out + s.count;
        }
        const uint32_t* ids = cache.ids_.data() + s.ids[0];
        for (uint32_t i = 0; i < s.count; ++i) out[i] = ids[i];
        return out + s.count;
      }
    }
  }
  uint32_t* end;
  if (n <= kShortPieceBytes) {
    end = merge_short(piece, out);
  } else {
    end = merge_runs(piece, out, cache);
    if (!end) end = merge_long(piece, out, cache);
  }
  if (memoize) {
    if (cache.size_ >= cache.max_entries_) {
      compact_memo(cache);
      for (slot = key.hash & mask; cache.slots_[slot].len != 0;) slot = (slot + 1) & mask;
    }
    const auto count = static_cast<uint32_t>(end - out);
    BpeCache::Slot& s = cache.slots_[slot];
    s = BpeCache::Slot{key.head, key.tail, {0, 0}, 0, static_cast<uint8_t>(n), static_cast<uint8_t>(count), 0};
    if (n > 16) {
      s.key = static_cast<uint32_t>(cache.keys_.size());
      cache.keys_.append(piece);
    }
    if (count <= 2) {
      std::copy(out, end, s.ids);
    } else {
      s.ids[0] = static_cast<uint32_t>(cache.ids_.size());
      cache.ids_.insert(cache.ids_.end(), out, end);
    }
    ++cache.size_;
  }
  return end;
}

void BpeModel::compact_memo(BpeCache& cache) {
  // Copies of the kept slots with their bytes and ids: the side arrays are
  // rebuilt too, so they never outgrow what the table holds.
  std::vector<BpeCache::Slot> kept;
  std::string keys;
  std::vector<uint32_t> ids;
  const size_t keep = cache.max_entries_ / 2;
  for (size_t i = 0; i < cache.slots_.size() && kept.size() < keep; ++i) {
    BpeCache::Slot s = cache.slots_[i];
    if (s.len == 0 || !s.reused) continue;
    s.reused = 0;
    if (s.len > 16) {
      const uint32_t at = static_cast<uint32_t>(keys.size());
      keys.append(cache.keys_, s.key, s.len);
      s.key = at;
    }
    if (s.count > 2) {
      const uint32_t at = static_cast<uint32_t>(ids.size());
      ids.insert(ids.end(), cache.ids_.begin() + s.ids[0], cache.ids_.begin() + s.ids[0] + s.count);
      s.ids[0] = at;
    }
    kept.push_back(s);
  }
  cache.clear_memo();
  cache.keys_ = std::move(keys);
  cache.ids_ = std::move(ids);
  const size_t mask = cache.slots_.size() - 1;
  for (const BpeCache::Slot& s : kept) {
    // The piece's bytes again, for its hash: up to 16 bytes they are the
    // key words themselves (PieceKey), longer ones are in keys_.
    char bytes[16];
    std::string_view piece;
    if (s.len > 16) {
      piece = std::string_view(cache.keys_).substr(s.key, s.len);
    } else {
      std::memcpy(bytes, &s.head, 8);
      if (s.len == 16) std::memcpy(bytes + 8, &s.tail, 8);
      else std::memcpy(bytes + 8, &s.tail, 7);
      piece = std::string_view(bytes, s.len);
    }
    size_t slot = PieceKey(piece).hash & mask;
    while (cache.slots_[slot].len != 0) slot = (slot + 1) & mask;
    cache.slots_[slot] = s;
    ++cache.size_;
  }
}

// Short pieces: ids and the rank of merging each adjacent pair in two small
// arrays; each round scans for the lowest rank, merges, shifts the tail left
// by one and re-looks-up only the two pairs that changed. The scan is
// branch-free (conditional moves: which pair wins is unpredictable), and the
// arrays have kShift entries of slack so that a short tail moves as one
// fixed-size block instead of an unpredictable loop.
uint32_t* BpeModel::merge_short(std::string_view piece, uint32_t* out) const {
  constexpr size_t kShift = 16;
  uint32_t ids[kShortPieceBytes + kShift + 1];
  uint32_t rank[kShortPieceBytes + kShift + 1];  // rank[i]: of merging ids[i] and ids[i + 1]
  size_t n = piece.size();
  auto look_up = [&](size_t i) { rank[i] = find_rank(ids[i], ids[i + 1]); };
  // Moves a[from + 1 ..) one place left; `count` elements, usually few.
  auto shift = [](uint32_t* a, size_t from, size_t count) {
    if (count <= kShift) {
      uint32_t tmp[kShift];
      std::memcpy(tmp, a + from + 1, sizeof tmp);
      std::memcpy(a + from, tmp, sizeof tmp);
    } else {
      std::memmove(a + from, a + from + 1, count * sizeof *a);
    }
  };
  const auto* bytes = reinterpret_cast<const uint8_t*>(piece.data());
  for (size_t i = 0; i < n; ++i) ids[i] = byte_ids_[bytes[i]];
  for (size_t i = 0; i + 1 < n; ++i) rank[i] = byte_pair_rank_[bytes[i] << 8 | bytes[i + 1]];
  while (n > 1) {
    size_t best = 0;
    uint32_t best_rank = rank[0];
    for (size_t i = 1; i + 1 < n; ++i) {
      const bool lower = rank[i] < best_rank;  // strict: leftmost wins ties
      best = lower ? i : best;
      best_rank = lower ? rank[i] : best_rank;
    }
    if (best_rank == kNoRank) break;
    ids[best] = merged_id(best_rank);
    shift(ids, best + 1, n - best - 2);  // ids[best + 2 .. n) move left
    shift(rank, best, n - best - 2);     // rank[best + 1 .. n - 1) move left
    --n;
    if (best > 0) look_up(best - 1);
    if (best + 1 < n) look_up(best);
  }
  std::memcpy(out, ids, n * sizeof *ids);
  return out + n;
}

// Long pieces made of few runs of equal bytes (a megabyte of 'a', of '\n', of
// "!"): BPE on the run-length form, a list of (id, count) runs with different
// ids side by side. The lowest-rank pair is either (x, x) inside a run of at
// least two or (x, y) across a boundary, and merging every occurrence of it
// left to right is exact on runs: (L, L) turns a run (L, k) into (LL, k / 2)
// then (L, k % 2); (L, R) with L != R occurs once per boundary between a run of
// L and a run of R and turns (L, a), (R, b) into (L, a - 1), (LR, 1),
// (R, b - 1). Each round costs O(runs); returns nullptr (nothing written) if
// the piece has too many runs or the rounds outgrow a budget of one step per
// byte, so merge_long's O(n log n) bound still holds.
uint32_t* BpeModel::merge_runs(std::string_view piece, uint32_t* out, BpeCache& cache) const {
  const size_t n = piece.size();
  if (n >= UINT32_MAX) return nullptr;  // merge_long reports it
  const size_t max_runs = n / kBytesPerRun;
  auto& runs = cache.runs;
  auto& next = cache.next_runs;
  runs.clear();
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && piece[j] == piece[i]) ++j;
    if (runs.size() == max_runs) return nullptr;
    runs.push_back({byte_ids_[static_cast<uint8_t>(piece[i])], static_cast<uint32_t>(j - i)});
    i = j;
  }
  // Appends a run to `next`, joining it to the last one if the ids match.
  auto push = [&next](uint32_t id, uint32_t count) {
    if (count == 0) return;
    if (!next.empty() && next.back().id == id) next.back().count += count;
    else next.push_back({id, count});
  };
  size_t budget = n;
  for (;;) {
    if (runs.size() > budget) return nullptr;
    budget -= runs.size();
    uint32_t best = kNoRank;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].count >= 2) best = std::min(best, find_rank(runs[i].id, runs[i].id));
      if (i + 1 < runs.size()) best = std::min(best, find_rank(runs[i].id, runs[i + 1].id));
    }
    if (best == kNoRank) break;
    const MergeRule rule = rules_[best];
    next.clear();
    if (rule.left == rule.right) {
      for (const BpeCache::Run& r : runs) {
        if (r.id == rule.left) push(rule.merged, r.count / 2), push(r.id, r.count % 2);
        else push(r.id, r.count);
      }
    } else {
      uint32_t taken = 0;  // parts of this run that merged into the boundary on its left
      for (size_t i = 0; i < runs.size(); ++i) {
        const uint32_t count = runs[i].count - taken;
        taken = 0;
        if (runs[i].id == rule.left && i + 1 < runs.size() && runs[i + 1].id == rule.right) {
          push(rule.left, count - 1), push(rule.merged, 1);
          taken = 1;
        } else {
          push(runs[i].id, count);
        }
      }
    }
    runs.swap(next);
  }
  for (const BpeCache::Run& r : runs) out = std::fill_n(out, r.count, r.id);
  return out;
}

// Long pieces: the parts form a doubly linked list indexed by their first
// byte's offset, and the pairs wait in one bucket of offsets per merge rank.
// Visiting the ranks in increasing order and each bucket's offsets left to
// right is exactly "lowest rank first, leftmost on ties", because a merge only
// creates pairs that rank after it (load_gpt2 checks that every merge's parts
// come from earlier merges). A bucket entry whose pair has changed since it was
// filed is skipped. Cost O(n log n) whatever the piece; a run of one letter
// sweeps a handful of big buckets sequentially.
uint32_t* BpeModel::merge_long(std::string_view piece, uint32_t* out, BpeCache& cache) const {
  if (piece.size() >= UINT32_MAX) throw Error("BPE piece of 4 GiB or more");
  const auto n = static_cast<uint32_t>(piece.size());
  constexpr uint32_t kGone = UINT32_MAX;  // id of a part merged into its left neighbour
  auto& id = cache.part_ids;
  auto& next = cache.part_next;
  auto& prev = cache.part_prev;
  auto& ranks = cache.rank_heap;
  auto& bucket_of = cache.bucket_of;
  auto& buckets = cache.buckets;
  auto& current = cache.current;
  auto& changed = cache.changed;
  constexpr uint32_t kNoBucket = UINT32_MAX;
  id.resize(n);
  next.resize(n);
  prev.resize(n);
  ranks.clear();
  if (bucket_of.size() != rules_.size()) bucket_of.assign(rules_.size(), kNoBucket);  // reset as ranks pop
  for (uint32_t i = 0; i < n; ++i) {
    id[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
    next[i] = i + 1;  // n = end of list
    prev[i] = i - 1;  // UINT32_MAX for the first part
  }
  const auto later = std::greater<uint32_t>();  // makes std::*_heap a min-heap
  size_t used = 0;
  // Long pieces are mostly runs that repeat one pair, so the last pair's
  // bucket is remembered and most filings skip the merge lookup.
  uint64_t last_key = UINT64_MAX;
  std::vector<uint32_t>* last_bucket = nullptr;  // nullptr: the last pair has no merge
  // Files the pair that starts at part `pos` (which has a right neighbour).
  auto file_pair = [&](uint32_t pos) {
    const uint64_t key = pair_key(id[pos], id[next[pos]]);
    if (key != last_key) {
      last_key = key;
      last_bucket = nullptr;
      const uint32_t rank = find_rank(uint32_t(key >> 32), uint32_t(key));
      if (rank == kNoRank) return;
      if (bucket_of[rank] == kNoBucket) {
        bucket_of[rank] = static_cast<uint32_t>(used);
        if (used == buckets.size()) buckets.emplace_back();
        buckets[used++].clear();
        ranks.push_back(rank);
        std::push_heap(ranks.begin(), ranks.end(), later);
      }
      last_bucket = &buckets[bucket_of[rank]];
    }
    if (last_bucket) last_bucket->push_back(pos);
  };
  for (uint32_t i = 0; i + 1 < n; ++i) file_pair(i);
  while (!ranks.empty()) {
    std::pop_heap(ranks.begin(), ranks.end(), later);
    const uint32_t rank = ranks.back();
    ranks.pop_back();
    current.swap(buckets[bucket_of[rank]]);  // file_pair never adds to this rank again
    bucket_of[rank] = kNoBucket;
    last_key = UINT64_MAX;  // buckets may move when file_pair adds one
    if (!std::is_sorted(current.begin(), current.end())) std::sort(current.begin(), current.end());
    const MergeRule rule = rules_[rank];
    // The pairs a merge changes rank after this one, so they are filed after
    // the sweep, once each: in a run, (aa, a) would be superseded at once.
    // Merges go left to right, so `changed` is non-decreasing.
    changed.clear();
    for (uint32_t pos : current) {
      if (id[pos] != rule.left || next[pos] == n || id[next[pos]] != rule.right) continue;  // stale
      const uint32_t right = next[pos];
      id[pos] = rule.merged;
      id[right] = kGone;
      next[pos] = next[right];
      if (next[pos] != n) prev[next[pos]] = pos;
      if (prev[pos] != UINT32_MAX && (changed.empty() || changed.back() != prev[pos])) changed.push_back(prev[pos]);
      changed.push_back(pos);
    }
    for (uint32_t pos : changed)
      if (id[pos] != kGone && next[pos] != n) file_pair(pos);
    current.clear();
  }
  for (uint32_t i = 0; i != n; i = next[i]) *out++ = id[i];
  if (n > (1u << 16)) {  // don't keep megabytes of scratch alive in a thread's cache
    std::vector<uint32_t>().swap(id), std::vector<uint32_t>().swap(next), std::vector<uint32_t>().swap(prev);
    std::vector<uint32_t>().swap(current), std::vector<uint32_t>().swap(changed);
    std::vector<std::vector<uint32_t>>().swap(buckets);
  }
  return out;
}

std::string BpeModel::decode(std::span<const uint32_t> ids) const {
  std::string text;
  for (uint32_t id : ids) {
    if (id >= vocab_size())
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                  std::to_string(vocab_size()) + ")");
    text += token_bytes(id);
  }
  return text;
}

}  // namespace sp
