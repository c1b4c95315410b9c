// GPT-2 byte-level BPE. The merge rule (GPT-2's encoder.py): split a pre-token
// into single bytes, then repeatedly merge the adjacent pair with the lowest
// merge rank, the leftmost one on ties, until no adjacent pair has a rank.
//
// Three ways to get there, cheapest first:
//   1. the per-thread memo (BpeCache) already holds the piece's ids;
//   2. the piece is itself a vocabulary token: for GPT-2 every token merges
//      back to itself (load_gpt2 checks this), so emit it;
//   3. the merge loop: a rank scan over a small stack array for short pieces,
//      a linked list + per-rank buckets for long ones, so a megabyte-long
//      pre-token (one run of a letter, digit, space or punctuation) stays
//      O(n log n).
#include "sp/bpe.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <simdjson.h>

#include "sp/error.h"
#include "sp/pretokenizer.h"

namespace sp {

namespace {

// Pieces up to this many bytes use the quadratic scan: for them it beats the
// buckets' bookkeeping, and nearly every pre-token of real text is this short.
constexpr size_t kShortPieceBytes = 64;

std::string read_whole_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(errno_message("cannot open", path));
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) throw Error(errno_message("cannot read", path));
  return data;
}

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
    auto c = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size() && (s[i + 1] & 0xC0) == 0x80) {
      cp = ((c & 0x1Fu) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3Fu);
      i += 2;
    } else {
      return false;  // every bytes_to_unicode code point is < U+0800
    }
    if (cp >= 324 || table.byte_of[cp] < 0) return false;
    out.push_back(static_cast<char>(table.byte_of[cp]));
  }
  return true;
}

// Debian's Abseil has its own string_view type, which std::string_view does
// not convert to implicitly; heterogeneous lookups need it.
absl::string_view as_key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

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

void BpeCache::clear() {
  memo_.clear();
  ids_.clear();
}

BpeModel BpeModel::load_gpt2(const std::string& vocab_json_path, const std::string& merges_txt_path) {
  BpeModel m;

  // vocab.json: {"unicode-ized token": id, ...}
  {
    const std::string& path = vocab_json_path;
    simdjson::padded_string json(read_whole_file(path));
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (auto err = parser.parse(json).get_object().get(obj))
      throw InputError(path, 0, std::string("not a JSON object of token -> id: ") + simdjson::error_message(err));
    std::vector<std::string> tokens;
    std::vector<bool> seen;
    std::string bytes;
    for (auto field : obj) {
      int64_t id;
      if (field.value.get_int64().get(id) || id < 0 || id >= (int64_t{1} << 31))
        throw InputError(path, 0, "token " + std::string(field.key) + " has no valid integer id");
      if (!unicode_to_bytes(field.key, bytes))
        throw InputError(path, 0, "token " + std::string(field.key) + " is not GPT-2 byte-level text");
      auto uid = static_cast<size_t>(id);
      if (uid >= tokens.size()) tokens.resize(uid + 1), seen.resize(uid + 1);
      if (seen[uid]) throw InputError(path, 0, "id " + std::to_string(id) + " used twice");
      seen[uid] = true;
      if (field.key == "<|endoftext|>") {
        m.eod_id_ = static_cast<uint32_t>(id);
      } else if (!m.ids_by_bytes_.emplace(bytes, static_cast<uint32_t>(id)).second) {
        throw InputError(path, 0, "token " + std::string(field.key) + " appears twice");
      }
      tokens[uid] = bytes;
    }
    for (size_t id = 0; id < seen.size(); ++id)
      if (!seen[id]) throw InputError(path, 0, "ids are not contiguous: id " + std::to_string(id) + " is missing");
    if (tokens.empty() || tokens[m.eod_id_] != "<|endoftext|>")
      throw InputError(path, 0, "no \"<|endoftext|>\" token");
    for (int b = 0; b < 256; ++b) {
      auto it = m.ids_by_bytes_.find(std::string(1, static_cast<char>(b)));
      if (it == m.ids_by_bytes_.end())
        throw InputError(path, 0, "no token for byte " + std::to_string(b));
      m.byte_ids_[b] = it->second;
    }
    m.token_offsets_.reserve(tokens.size() + 1);
    m.token_offsets_.push_back(0);
    for (const auto& t : tokens) {
      m.token_blob_ += t;
      m.token_offsets_.push_back(static_cast<uint32_t>(m.token_blob_.size()));
    }
  }

  // merges.txt: "#version: 0.2" then "A B" per line; the line order is the rank.
  {
    const std::string& path = merges_txt_path;
    const std::string text = read_whole_file(path);
    std::string left, right;
    uint64_t line_no = 0;
    uint32_t rank = 0;
    // First rank at which each token exists: 0 for bytes, r + 1 for the
    // result of the merge of rank r, kNoRank for tokens no merge makes.
    std::vector<uint32_t> created_at(m.vocab_size(), kNoRank);
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
      int64_t l = m.token_id(left), r = m.token_id(right), merged = m.token_id(left + right);
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
      Merge merge{rank++, static_cast<uint32_t>(merged)};
      if (!m.merges_.emplace(pair_key(uint32_t(l), uint32_t(r)), merge).second)
        throw InputError(path, line_no, "duplicate merge " + std::string(line));
      m.rules_.push_back({uint32_t(l), uint32_t(r), uint32_t(merged)});
    }
    if (m.merges_.empty()) throw InputError(path, 0, "no merges");
  }

  // Decide whether the whole-piece shortcut is exact for this vocabulary
  // (a few milliseconds: 50,000 short merges).
  BpeCache scratch(0);
  std::vector<uint32_t> ids;
  bool all_self = true;
  for (uint32_t id = 0; id < m.vocab_size() && all_self; ++id) {
    if (id == m.eod_id_) continue;
    ids.clear();
    m.encode_piece(m.token_bytes(id), ids, scratch);
    all_self = ids.size() == 1 && ids[0] == id;
  }
  m.tokens_merge_to_themselves_ = all_self;
  return m;
}

int64_t BpeModel::token_id(std::string_view bytes) const {
  auto it = ids_by_bytes_.find(as_key(bytes));
  return it == ids_by_bytes_.end() ? -1 : int64_t{it->second};
}

void BpeModel::encode(std::string_view text, std::vector<uint32_t>& out, BpeCache& cache) const {
  for (size_t pos = 0; pos < text.size();) {
    size_t end = gpt2_pretoken_end(text, pos);
    encode_piece(text.substr(pos, end - pos), out, cache);
    pos = end;
  }
}

void BpeModel::encode_piece(std::string_view piece, std::vector<uint32_t>& out, BpeCache& cache) const {
  if (piece.size() == 1) {  // single bytes are their own token; no lookup at all
    out.push_back(byte_ids_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  if (piece.empty()) return;
  const bool memoize = cache.max_entries_ > 0 && piece.size() <= BpeCache::kMaxPieceBytes;
  if (memoize) {
    auto it = cache.memo_.find(as_key(piece));
    if (it != cache.memo_.end()) {
      const uint32_t* ids = cache.ids_.data() + it->second.offset;
      out.insert(out.end(), ids, ids + it->second.count);
      return;
    }
  }
  const size_t first = out.size();
  auto token = tokens_merge_to_themselves_ ? ids_by_bytes_.find(as_key(piece)) : ids_by_bytes_.end();
  if (token != ids_by_bytes_.end()) {
    out.push_back(token->second);  // whole piece is a token (see top of file)
  } else if (piece.size() <= kShortPieceBytes) {
    merge_short(piece, out, cache);
  } else {
    merge_long(piece, out, cache);
  }
  if (memoize) {
    if (cache.memo_.size() >= cache.max_entries_) cache.clear();
    auto count = static_cast<uint32_t>(out.size() - first);
    cache.memo_.emplace(std::string(piece), BpeCache::Span{static_cast<uint32_t>(cache.ids_.size()), count});
    cache.ids_.insert(cache.ids_.end(), out.begin() + static_cast<ptrdiff_t>(first), out.end());
  }
}

// Short pieces: parts in a stack array with the merge of each adjacent pair
// beside them; each round scans for the lowest rank, merges, shifts the tail
// left by one and re-looks-up only the two pairs that changed.
void BpeModel::merge_short(std::string_view piece, std::vector<uint32_t>& out, BpeCache&) const {
  uint32_t ids[kShortPieceBytes];
  Merge pair[kShortPieceBytes];  // pair[i]: merge of ids[i], ids[i + 1]
  size_t n = piece.size();
  for (size_t i = 0; i < n; ++i) ids[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
  for (size_t i = 0; i + 1 < n; ++i) pair[i] = find_merge(ids[i], ids[i + 1]);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (pair[i].rank < pair[best].rank) best = i;  // strict: leftmost wins ties
    if (pair[best].rank == kNoRank) break;
    ids[best] = pair[best].merged;
    std::memmove(ids + best + 1, ids + best + 2, (n - best - 2) * sizeof ids[0]);
    std::memmove(pair + best, pair + best + 1, (n - best - 2) * sizeof pair[0]);
    --n;
    if (best > 0) pair[best - 1] = find_merge(ids[best - 1], ids[best]);
    if (best + 1 < n) pair[best] = find_merge(ids[best], ids[best + 1]);
  }
  out.insert(out.end(), ids, ids + n);
}

// Long pieces: the parts form a doubly linked list indexed by their first
// byte's offset, and the pairs wait in one bucket of offsets per merge rank.
// Visiting the ranks in increasing order and each bucket's offsets left to
// right is exactly "lowest rank first, leftmost on ties", because a merge only
// creates pairs that rank after it (load_gpt2 checks that every merge's parts
// come from earlier merges). A bucket entry whose pair has changed since it was
// filed is skipped. Cost O(n log n) whatever the piece; a run of one letter
// sweeps a handful of big buckets sequentially.
void BpeModel::merge_long(std::string_view piece, std::vector<uint32_t>& out, BpeCache& cache) const {
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
  id.resize(n);
  next.resize(n);
  prev.resize(n);
  ranks.clear();
  bucket_of.clear();
  for (uint32_t i = 0; i < n; ++i) {
    id[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
    next[i] = i + 1;  // n = end of list
    prev[i] = i - 1;  // UINT32_MAX for the first part
  }
  const auto later = std::greater<uint32_t>();  // makes std::*_heap a min-heap
  size_t used = 0;
  // Long pieces are mostly runs that repeat one pair, so the last pair's
  // bucket is remembered and most filings skip both hash lookups.
  uint64_t last_key = UINT64_MAX;
  std::vector<uint32_t>* last_bucket = nullptr;  // nullptr: the last pair has no merge
  // Files the pair that starts at part `pos` (which has a right neighbour).
  auto file_pair = [&](uint32_t pos) {
    const uint64_t key = pair_key(id[pos], id[next[pos]]);
    if (key != last_key) {
      last_key = key;
      last_bucket = nullptr;
      auto merge = merges_.find(key);
      if (merge == merges_.end()) return;
      const uint32_t rank = merge->second.rank;
      auto [it, fresh] = bucket_of.try_emplace(rank, static_cast<uint32_t>(used));
      if (fresh) {
        if (used == buckets.size()) buckets.emplace_back();
        buckets[used++].clear();
        ranks.push_back(rank);
        std::push_heap(ranks.begin(), ranks.end(), later);
      }
      last_bucket = &buckets[it->second];
    }
    if (last_bucket) last_bucket->push_back(pos);
  };
  for (uint32_t i = 0; i + 1 < n; ++i) file_pair(i);
  while (!ranks.empty()) {
    std::pop_heap(ranks.begin(), ranks.end(), later);
    const uint32_t rank = ranks.back();
    ranks.pop_back();
    current.swap(buckets[bucket_of[rank]]);  // file_pair never adds to this rank again
    last_key = UINT64_MAX;                   // buckets may move when file_pair adds one
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
  for (uint32_t i = 0; i != n; i = next[i]) out.push_back(id[i]);
  if (n > (1u << 16)) {  // don't keep megabytes of scratch alive in a thread's cache
    std::vector<uint32_t>().swap(id), std::vector<uint32_t>().swap(next), std::vector<uint32_t>().swap(prev);
    std::vector<uint32_t>().swap(current), std::vector<uint32_t>().swap(changed);
    std::vector<std::vector<uint32_t>>().swap(buckets);
  }
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
