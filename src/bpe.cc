// The BPE encoder, the hot path of every BPE family. The merge rule (GPT-2's
// encoder.py, HF tokenizers, tiktoken): split a pre-token into its initial
// symbols (bytes, or characters for SentencePiece-style vocabularies), then
// repeatedly merge the adjacent pair with the lowest merge rank, the leftmost
// one on ties, until no adjacent pair has a rank.
//
// Three ways to get there, cheapest first, behind a per-thread front cache
// of recent pieces of up to 15 bytes and 4 ids (BpeScratch::Front), which
// answers about nine pieces in ten of real text with one probe:
//   1. the piece is itself a vocabulary token that may be emitted whole:
//      under ignore_merges (HF) or tiktoken's rule every token, else those
//      whose bytes merge back to themselves (all of GPT-2's; checked at
//      build); about 70% of the multi-byte pieces of real text, so the memo
//      never stores them;
//   2. the per-thread memo (BpeCache) already holds the piece's ids; a full
//      memo keeps the pieces that were reused and drops the rest;
//   2b. the memo shared by every thread of the model (BpeSharedMemo),
//      probed when the thread's memo misses, so a piece one worker merged
//      is not merged again by the others (by Heaps' law 16 workers that each
//      see a sixteenth of the text merge ~3x the distinct pieces one would).
//      Insert-only and lock-free: claim a slot by CAS (after a plain load:
//      a failed CAS still takes the line), write, release the state word;
//      readers acquire it. 2^18 slots (8 MB) and an 8 MB arena taken by each
//      thread 1024 words at a time; a piece stays within 8 slots of its
//      home or is not kept, so no counter is shared. A piece it answers also
//      goes into the thread's memo, and each batch prefetches its slots.
//      It is used once kMinUsers (8) threads (BpeScratches) have used it:
//      a few workers would mostly probe for their own pieces.
//      Measured on the 2-core VM (GPT-2, 100 MB of mixed text, whole
//      process): cold merges 776k at 1 worker, 829k at 2, so most come from
//      the thread memo's compactions, not from other threads (at least 154k
//      of the 776k the thread had merged before); at 2 workers the shared
//      memo answers 195k (24%), yet CPU is +6.9% (wall +5.3%; 1 worker
//      unchanged): a probe is a cache miss on every cold piece, and a short
//      merge (~0.6 us, perf) is not much dearer. On the 16-core box (same
//      text x 10, 6 alternating pairs): 8 workers 1.03x, 16 workers 1.08x;
//   3. the merge loop: a rank scan over a small stack array for short pieces;
//      for long ones, BPE on (id, count) runs when the piece is a few runs of
//      equal bytes (a megabyte of one letter, digit, space or punctuation costs
//      a few dozen rounds over a handful of runs), else a linked list +
//      per-rank buckets, O(n log n) whatever the piece; vocabularies whose
//      merges can create a pair that outranks the current one (no real one
//      seen yet, but nothing forbids it) take a heap of (rank, position).
// The memo and the vocabulary are plain open-addressing tables (linear
// probing) with keys that compare in a couple of integer compares: a piece of
// up to 15 bytes is exactly two 64-bit words, its length included
// (PieceKey). The merges are found by left token, then a binary search of its
// few right partners (find_rank). encode() pre-tokenizes 64 bytes at a time
// (gpt2_pretoken_window, or the pattern's window: for_each_pretoken),
// prefetches the table slots of a batch of pieces before emitting them, and
// writes ids to a per-cache scratch buffer sized for one id per byte.
#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>

#include "bpe_engine.h"
#include "sp/error.h"
#include "sp/pretokenizer.h"
#include "sp/unicode.h"

namespace sp {

static_assert(BpeEngine::kIdBits <= BpeScratch::kFrontCountShift, "Front packs the count above the first id");
static_assert(sizeof(BpeScratch::Front) == 32);

namespace {

// Pieces up to this many symbols use the quadratic scan: for them it beats the
// buckets' bookkeeping, and nearly every pre-token of real text is this short.
constexpr size_t kShortPieceBytes = 64;

// Long pieces with at most one run of equal bytes per this many bytes take
// merge_runs; the rest merge_long.
constexpr size_t kBytesPerRun = 16;

// Whether the bytes between the first and last 8 of two equally long pieces
// match; the only check a PieceKey leaves for pieces over 16 bytes.
inline bool same_middle(const char* a, const char* b, size_t len) {
  return len <= 16 || std::memcmp(a + 8, b + 8, len - 16) == 0;
}

}  // namespace

BpeScratch::BpeScratch(size_t max_entries)
    : max_entries_(max_entries), slots_(max_entries ? std::bit_ceil(max_entries + (max_entries + 2) / 3) : 1) {
  if (max_entries > 0) front_.assign_zero(std::min(kFrontEntries, std::bit_ceil(max_entries)));
}

void BpeScratch::clear() {
  front_.fill_zero();
  clear_memo();
}

void BpeScratch::clear_memo() {
  slots_.fill_zero();
  size_ = 0;
  keys_.clear();
  ids_.clear();
}

BpeCache::BpeCache(size_t max_entries) : scratch_(std::make_unique<BpeScratch>(max_entries)) {}
BpeCache::~BpeCache() = default;
BpeCache::BpeCache(BpeCache&&) noexcept = default;
BpeCache& BpeCache::operator=(BpeCache&&) noexcept = default;
size_t BpeCache::size() const { return scratch_->size_; }
void BpeCache::clear() { scratch_->clear(); }

int64_t BpeEngine::find_token(std::string_view bytes, const PieceKey& key) const {
  const size_t mask = token_slots_.size() - 1;
  for (size_t i = key.hash & mask;; i = (i + 1) & mask) {
    const TokenSlot& s = token_slots_[i];
    if (s.len == 0) return -1;
    if (s.head == key.head && s.tail == key.tail && s.len == bytes.size() &&
        same_middle(token_blob_.data() + token_offsets_[s.id & ~kWholeToken], bytes.data(), bytes.size()))
      return s.id;
  }
}

uint32_t BpeModel::vocab_size() const { return engine_->vocab_size(); }
size_t BpeModel::merge_count() const { return engine_->merge_count_; }
std::string_view BpeModel::token_bytes(uint32_t id) const { return engine_->token_bytes(id); }

int64_t BpeModel::token_id(std::string_view bytes) const {
  if (const int64_t word = engine_->find_token(bytes, PieceKey(bytes)); word >= 0)
    return word & ~BpeEngine::kWholeToken;
  for (uint32_t id : engine_->specials_)
    if (engine_->token_bytes(id) == bytes) return id;
  return -1;
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

void BpeModel::encode(std::string_view text, std::vector<uint32_t>& out, BpeCache& cache) const {
  const std::span<const uint32_t> ids = encode_span(text, cache);
  out.insert(out.end(), ids.begin(), ids.end());
}

void BpeModel::encode_piece(std::string_view piece, std::vector<uint32_t>& out, BpeCache& cache) const {
  const std::string_view one[] = {piece};
  const std::span<const uint32_t> ids = encode_pieces(one, cache);
  out.insert(out.end(), ids.begin(), ids.end());
}

std::span<const uint32_t> BpeModel::encode_span(std::string_view text, BpeCache& cache) const {
  return engine_->encode_with(text, nullptr, {}, *cache.scratch_);
}

std::span<const uint32_t> BpeModel::encode_span(std::string_view text, PretokenEnd pretoken_end,
                                                BpeCache& cache) const {
  return engine_->encode_with(text, pretoken_end, {}, *cache.scratch_);
}

std::span<const uint32_t> BpeModel::encode_span(std::string_view text, PretokenPattern p, BpeCache& cache) const {
  return engine_->encode_with(text, nullptr, {}, *cache.scratch_, nullptr, nullptr, p);
}

std::span<const uint32_t> BpeModel::encode_span(std::string_view text, StatefulPretokenEnd pretoken_end,
                                                const void* state, BpeCache& cache) const {
  return engine_->encode_with(text, nullptr, {}, *cache.scratch_, pretoken_end, state);
}

std::span<const uint32_t> BpeModel::encode_span(std::string_view text, StatefulPretokenEnd pretoken_end,
                                                StatefulPretokenWindow window, const void* state,
                                                BpeCache& cache) const {
  return engine_->encode_with(text, nullptr, {}, *cache.scratch_, pretoken_end, state, PretokenPattern::kGpt2,
                              window);
}

std::span<const uint32_t> BpeModel::encode_pieces(std::span<const std::string_view> pieces, BpeCache& cache) const {
  return engine_->encode_with({}, nullptr, pieces, *cache.scratch_);
}

// One entry for the ways text arrives: a pattern's pre-tokenization (GPT-2's
// unless told; the window fast path where the pattern has one), another
// pre-tokenizer's end function (stateless or with its state), or pieces split
// by the caller. `text` is empty and both end functions null for the last;
// `pattern` counts only when both end functions are null, `stateful_window`
// only with stateful_end.
std::span<const uint32_t> BpeEngine::encode_with(std::string_view text, BpeModel::PretokenEnd pretoken_end,
                                                 std::span<const std::string_view> pieces, BpeScratch& cache,
                                                 BpeModel::StatefulPretokenEnd stateful_end, const void* state,
                                                 PretokenPattern pattern,
                                                 BpeModel::StatefulPretokenWindow stateful_window) const {
  // Room for the worst case, one id per byte, plus emit_piece's slack. A
  // megabyte-sized buffer left by an unusually long text is given back
  // first, so one huge document does not pin it for the thread's life.
  size_t bytes = text.size();
  for (std::string_view p : pieces) bytes += p.size();
  const size_t need = bytes + kIdSlack;
  if (cache.encode_ids_size_ < need || (cache.encode_ids_size_ > (size_t{1} << 20) && need <= (size_t{1} << 20))) {
    cache.encode_ids_size_ = cache.encode_ids_size_ < need ? std::max(need, 2 * cache.encode_ids_size_) : need;
    cache.encode_ids_.reset(new uint32_t[cache.encode_ids_size_]);
  }
  uint32_t* const begin = cache.encode_ids_.get();
  uint32_t* end = begin;
  const bool cached = !cache.front_.empty();
  auto emit = [&](std::string_view piece) { end = emit_piece(piece, PieceKey(piece), end, cache); };
  if (!pieces.empty()) {
    if (!cached) {
      for (std::string_view piece : pieces) emit(piece);
    } else {
      end = encode_batched(
          [&](auto&& on_piece) {
            for (std::string_view p : pieces) on_piece(p.data(), p.size(), nullptr);
          },
          end, cache);
    }
  } else if (stateful_end != nullptr && stateful_window != nullptr && cached) {
    end = encode_batched(
        [&](auto&& on_piece) {
          auto window = [&](std::string_view t, size_t pos, PretokenWindow& w) {
            return stateful_window(state, t, pos, w);
          };
          pretoken_detail::for_each_windowed(
              text, window, [&](std::string_view t, size_t pos) { return stateful_end(state, t, pos); },
              [&](size_t at, size_t n, const char* padded) { on_piece(text.data() + at, n, padded); });
        },
        end, cache);
  } else if (pretoken_end != nullptr || stateful_end != nullptr) {
    auto for_each = [&](auto&& on_piece) {
      for (size_t pos = 0; pos < text.size();) {
        const size_t next = stateful_end ? stateful_end(state, text, pos) : pretoken_end(text, pos);
        on_piece(text.data() + pos, next - pos, text.size() - pos >= 16 ? text.data() + pos : nullptr);
        pos = next;
      }
    };
    if (cached) end = encode_batched(for_each, end, cache);
    else for_each([&](const char* p, size_t n, const char*) { emit(std::string_view(p, n)); });
  } else if (!cached) {  // caches off (tests of the merge loop): one piece at a time
    const PretokenEndFunction piece_end = pretoken_end_function(pattern);
    for (size_t pos = 0; pos < text.size();) {
      const size_t next = piece_end(text, pos);
      emit(text.substr(pos, next - pos));
      pos = next;
    }
  } else if (pattern == PretokenPattern::kGpt2) {  // GPT-2's window and scanner called directly
    end = encode_batched(
        [&](auto&& on_piece) {
          for_each_pretoken(text,
                            [&](size_t at, size_t n, const char* padded) { on_piece(text.data() + at, n, padded); });
        },
        end, cache);
  } else {
    end = encode_batched(
        [&](auto&& on_piece) {
          for_each_pretoken(pattern, text,
                            [&](size_t at, size_t n, const char* padded) { on_piece(text.data() + at, n, padded); });
        },
        end, cache);
  }
  return {begin, end};
}

// The hot loop. Pieces go in batches: a batch is pre-tokenized (64 bytes at
// a time where the pattern has a window, for_each_pretoken), each piece's key is built from the
// window's padded copy without a branch, and its front cache slot is
// prefetched; then the slots of the pieces that missed the front cache get
// their vocabulary and memo slots prefetched, and only then are the pieces
// emitted, so the batch's cache misses overlap instead of each stalling its
// own piece. Single bytes go through the same code and the same table (a
// table of their own, byte_front_, cost a select per piece, ~3 instructions;
// a frequent byte's entry stays hot, and is overwritten about once per 15 MB
// of text by a piece with the same slot, then refilled by a vocabulary hit),
// so the hit test is the one well-predicted branch per piece on typical text.
template <class ForEachPiece>
uint32_t* BpeEngine::encode_batched(ForEachPiece&& for_each_piece, uint32_t* out, BpeScratch& cache) const {
  // Pieces per batch: more misses in flight at once; 128 measured ~5%
  // faster than 32 on mixed text, the same on prose.
  constexpr size_t kBatch = 128;
  struct Pending {
    const char* data;
    size_t n;
    BpeScratch::Front* front;
    PieceKey key;
  };
  Pending batch[kBatch];
  size_t count = 0;
  BpeScratch::Front* const fronts = cache.front_.data();
  const size_t front_mask = cache.front_.size() - 1;
  // Single bytes without a padded copy (rare): never written, they always hit.
  BpeScratch::Front* const byte_fronts = const_cast<BpeScratch::Front*>(byte_front_.data());
  // Pieces over kFrontPieceBytes look at this entry instead, which no key
  // matches: an exact key's tail holds its length (1..15) in the top byte,
  // and a long piece's compare word is set to 0 below. So the hit test is
  // the same two compares for every piece, with no length test.
  static constexpr BpeScratch::Front kNoFront{0, ~uint64_t{0}, {}};
  BpeScratch::Front* const no_front = const_cast<BpeScratch::Front*>(&kNoFront);
  auto hit = [](const Pending& p) { return p.front->head == p.key.head && p.front->tail == p.key.tail; };
  auto flush = [&] {
    for (size_t i = 0; i < count; ++i) {
      if (hit(batch[i])) continue;
      __builtin_prefetch(&token_slots_[batch[i].key.hash & (token_slots_.size() - 1)]);
      __builtin_prefetch(&cache.slots_[batch[i].key.hash & (cache.slots_.size() - 1)]);
      if (cache.shared_on_) shared_memo_->prefetch(batch[i].key.hash);
    }
    for (size_t i = 0; i < count; ++i) {
      Pending& p = batch[i];
      // Re-tested: an earlier piece of the batch may have refilled the slot.
      if (hit(p)) {
        // Copy all kFrontIds ids whatever the count (kIdSlack makes room),
        // so the common one-id hit takes no loop.
        const uint32_t first = p.front->ids[0];
        std::memcpy(out, p.front->ids, sizeof p.front->ids);
        out[0] = first & BpeScratch::kFrontIdMask;
        out += first >> BpeScratch::kFrontCountShift;
        continue;
      }
      if (p.front == no_front) p.key = PieceKey(std::string_view(p.data, p.n));  // the real tail word
      uint32_t* const end = emit_uncached(std::string_view(p.data, p.n), p.key, out, cache);
      if (p.front != no_front) remember(*p.front, p.key, out, end);
      out = end;
    }
    count = 0;
  };
  // The key straight from the padded bytes when it can (no branch, no copy).
  for_each_piece([&](const char* data, size_t n, const char* padded) {
    Pending& p = batch[count++];
    p.data = data, p.n = n;
    if (n <= PieceKey::kExactBytes && padded) [[likely]] {
      p.key = PieceKey::exact(padded, n);
      p.front = &fronts[(p.key.hash >> 32) & front_mask];
    } else if (n <= BpeScratch::kFrontPieceBytes) {
      p.key = PieceKey(std::string_view(data, n));
      p.front = n == 1 ? &byte_fronts[static_cast<uint8_t>(*data)] : &fronts[front_slot(p.key, cache)];
    } else {
      p.key = PieceKey(std::string_view(data, n));
      p.key.tail = 0;  // never matches kNoFront (restored before emitting)
      p.front = no_front;
    }
    __builtin_prefetch(p.front);
    if (count == kBatch) flush();
  });
  flush();
  return out;
}

uint32_t* BpeEngine::emit_piece(std::string_view piece, const PieceKey& key, uint32_t* out,
                                BpeScratch& cache) const {
  const size_t n = piece.size();
  if (n == 1) {  // single bytes: their ids are fixed at build, no lookup at all
    const BpeScratch::Front& f = byte_front_[static_cast<uint8_t>(piece[0])];
    *out = f.ids[0] & BpeScratch::kFrontIdMask;  // at most one symbol per byte
    return out + f.count();
  }
  if (n == 0) return out;
  // Front cache first: a hit costs one probe of a table that stays in L2.
  BpeScratch::Front* front = nullptr;
  if (n <= BpeScratch::kFrontPieceBytes && !cache.front_.empty()) {
    front = &cache.front_[front_slot(key, cache)];
    if (front->head == key.head && front->tail == key.tail) {
      // Copy all kFrontIds slots whatever the count (the slack makes room),
      // so the common 1-id hit takes no loop branch.
      std::memcpy(out, front->ids, sizeof front->ids);
      out[0] &= BpeScratch::kFrontIdMask;
      return out + front->count();
    }
  }
  uint32_t* const end = emit_uncached(piece, key, out, cache);
  if (front) remember(*front, key, out, end);
  return end;
}

void BpeEngine::remember(BpeScratch::Front& front, const PieceKey& key, const uint32_t* ids, const uint32_t* end) {
  const auto count = static_cast<size_t>(end - ids);
  if (count > BpeScratch::kFrontIds) return;
  front.head = key.head, front.tail = key.tail;
  std::copy(ids, end, front.ids);
  front.ids[0] |= static_cast<uint32_t>(count) << BpeScratch::kFrontCountShift;
}

uint32_t* BpeEngine::emit_uncached(std::string_view piece, const PieceKey& key, uint32_t* out,
                                   BpeScratch& cache) const {
  const size_t n = piece.size();
  const size_t mask = cache.slots_.size() - 1;
  size_t slot = key.hash & mask;
  // Whole-token pieces (" the", "ing", most of prose) are found in the
  // vocabulary; the memo keeps only pieces that need merging. Its slot is
  // prefetched first, so a piece that is not a token waits for one cache
  // miss, not two in a row.
  __builtin_prefetch(&cache.slots_[slot]);
  if (whole_tokens_) {
    if (const int64_t word = find_token(piece, key); word >= 0 && (word & kWholeToken)) {
      *out = static_cast<uint32_t>(word & ~kWholeToken);
      return out + 1;
    }
  }
  const bool memoize = cache.max_entries_ > 0 && n <= BpeScratch::kMaxPieceBytes;
  if (memoize) {
    for (;; slot = (slot + 1) & mask) {
      BpeScratch::Slot& s = cache.slots_[slot];
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
  // Missed by this thread's memo: the memo shared by all threads of this
  // model, then the merge loop, whose ids every thread may reuse.
  BpeSharedMemo* shared = nullptr;
  if (memoize && shared_memo_) {
    cache.shared_on_ = shared_memo_->shared(cache.shared_user_);
    if (cache.shared_on_) shared = shared_memo_.get();
  }
  uint32_t* end = shared ? shared->find(piece, key, out) : nullptr;
  if (end == nullptr) {
    end = merge_piece(piece, out, cache);
    if (shared) shared->publish(piece, key, out, static_cast<size_t>(end - out), cache.shared_arena_);
  }
  // Pieces with more ids than the memo's count field holds are not kept
  // (only character-level pieces with byte fallback can get there).
  if (memoize && end - out <= UINT8_MAX) {
    const size_t side_bytes = cache.keys_.size() + sizeof(uint32_t) * cache.ids_.size();
    const size_t piece_bytes = n + sizeof(uint32_t) * static_cast<size_t>(end - out);
    if (cache.size_ >= cache.max_entries_ || side_bytes + piece_bytes > BpeScratch::kMaxMemoBytes) {
      compact_memo(cache);
      for (slot = key.hash & mask; cache.slots_[slot].len != 0;) slot = (slot + 1) & mask;
    }
    const auto count = static_cast<uint32_t>(end - out);
    BpeScratch::Slot& s = cache.slots_[slot];
    s = BpeScratch::Slot{key.head, key.tail, {0, 0}, 0, static_cast<uint8_t>(n), static_cast<uint8_t>(count), 0};
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

uint32_t* BpeEngine::merge_piece(std::string_view piece, uint32_t* out, BpeScratch& cache) const {
  if (units_ == Units::kBytes) {
    if (piece.size() <= kShortPieceBytes) return merge_short_bytes(piece, out);
    if (ranks_ordered_ && one_pair_per_rank_)
      if (uint32_t* end = merge_runs(piece, out, cache)) return end;
    auto& symbols = cache.symbols;
    symbols.resize(piece.size());
    for (size_t i = 0; i < piece.size(); ++i) symbols[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
    uint32_t* const end = ranks_ordered_ ? merge_long(symbols.data(), symbols.size(), out, cache)
                                         : merge_heap(symbols.data(), symbols.size(), out, cache);
    if (symbols.size() > (size_t{1} << 16)) std::vector<uint32_t>().swap(symbols);  // see merge_long
    return end;
  }
  auto& symbols = cache.symbols;
  if (piece.size() <= kShortPieceBytes) {
    uint8_t classes[kShortPieceBytes];
    const size_t n = character_symbols(piece, symbols, classes);
    return merge_short(symbols.data(), n, out, classes);
  }
  const size_t n = character_symbols(piece, symbols);
  if (n <= kShortPieceBytes) return merge_short(symbols.data(), n, out);
  uint32_t* const end =
      ranks_ordered_ ? merge_long(symbols.data(), n, out, cache) : merge_heap(symbols.data(), n, out, cache);
  if (symbols.size() > (size_t{1} << 16)) std::vector<uint32_t>().swap(symbols);  // see merge_long
  return end;
}

// SentencePiece-style initial symbols, as HF tokenizers' BPE makes them: each
// character that is a token; else, with byte fallback, the "<0xXX>" tokens
// of its bytes when all of them exist; else the unknown token, consecutive
// unknowns fused into one when fuse_unk; else nothing. At most one symbol
// per byte, so the callers' room of one id per byte holds.
size_t BpeEngine::character_symbols(std::string_view piece, std::vector<uint32_t>& symbols,
                                     uint8_t* classes) const {
  symbols.resize(piece.size());
  size_t n = 0;
  bool last_unknown = false;
  // Marks the symbols from `first` on as of no class (byte fallback, unknown, other characters).
  auto no_class = [&](size_t first) {
    if (classes)
      for (size_t k = first; k < n; ++k) classes[k] = kNoCharClass;
  };
  for (size_t i = 0; i < piece.size();) {
    if (const auto c = static_cast<uint8_t>(piece[i]); c < 0x80 && ascii_tokens_[c] != kNoRank) {
      if (classes) classes[n] = c;
      symbols[n++] = ascii_tokens_[c];
      last_unknown = false;
      ++i;
      continue;
    }
    size_t len = utf8_sequence_length(piece, i);
    if (len == 0) len = 1;  // not UTF-8 (callers validate): a byte on its own
    const std::string_view ch = piece.substr(i, len);
    i += len;
    const size_t first = n;
    if (len == 2 || len == 3) {  // bmp_tokens_ holds every such token
      const uint32_t cp = bmp_code_point(ch.data(), len);
      if (const uint32_t id = bmp_tokens_[cp]; id != kNoRank) {
        if (classes) classes[n] = cp == 0x2581 ? kMetaspaceClass : kNoCharClass;
        symbols[n++] = id;
        last_unknown = false;
        continue;
      }
    } else if (const int64_t word = find_token(ch, PieceKey(ch)); word >= 0) {
      symbols[n++] = static_cast<uint32_t>(word & ~kWholeToken);
      no_class(first);
      last_unknown = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : ch) all = all && byte_fallback_ids_[static_cast<uint8_t>(c)] != kNoRank;
      if (all) {
        for (char c : ch) symbols[n++] = byte_fallback_ids_[static_cast<uint8_t>(c)];
        no_class(first);
        last_unknown = false;
        continue;
      }
    }
    if (unk_id_ == kNoRank) continue;
    if (!(fuse_unk_ && last_unknown)) symbols[n++] = unk_id_;
    no_class(first);
    last_unknown = true;
  }
  return n;
}

void BpeEngine::compact_memo(BpeScratch& cache) {
  // Copies of the kept slots with their bytes and ids: the side arrays are
  // rebuilt too, so they never outgrow what the table holds.
  std::vector<BpeScratch::Slot> kept;
  std::string keys;
  std::vector<uint32_t> ids;
  const size_t keep = cache.max_entries_ / 2;
  for (size_t i = 0; i < cache.slots_.size() && kept.size() < keep; ++i) {
    BpeScratch::Slot s = cache.slots_[i];
    if (s.len == 0 || !s.reused) continue;
    const size_t side_bytes = keys.size() + sizeof(uint32_t) * ids.size();
    if (side_bytes + s.len + sizeof(uint32_t) * s.count > BpeScratch::kMaxMemoBytes / 2)
      continue;  // half the side-array budget at most, as half the entries
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
  for (const BpeScratch::Slot& s : kept) {
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
// arrays; each round finds the lowest rank, merges, shifts the tail left by
// one and re-looks-up only the two pairs that changed. The search is
// branch-free (which pair wins is unpredictable; lowest_rank). The arrays
// have slack so that a short tail moves as one fixed-size block instead of
// an unpredictable loop, and the ranks past the last pair read as kNoRank
// for the block moves that pull them left. A rescan after every merge is
// exact for any vocabulary, ordered ranks or not. Misses of the caches land here: on text
// with many new words (non-Latin scripts, identifiers) this loop was a
// quarter of all encoding instructions.
namespace {
constexpr size_t kShift = 16;
constexpr size_t kShortRoom = kShortPieceBytes + kShift + 8;

// Index and value of the lowest of rank[0 .. pairs), the leftmost on ties,
// with conditional moves. Scalar on purpose: an SSE2 search of four ranks at
// a time read each rank block right after the round's 4-byte stores into it
// (the two re-looked-up pairs), and a wide load over a narrow store waits
// for the store to retire instead of taking its value. On the cold pieces of
// the bench corpus, merged alone (dev VM), this search made merge_short 15%
// faster for pieces of up to 8, 16 and 64 bytes alike (152 -> 128, 345 -> 295,
// 600 -> 540 ns a piece).
inline std::pair<size_t, uint32_t> lowest_rank(const uint32_t* rank, size_t pairs) {
  size_t best = 0;
  uint32_t best_rank = rank[0];
  for (size_t i = 1; i < pairs; ++i) {
    const bool lower = rank[i] < best_rank;  // strict: leftmost wins ties
    best = lower ? i : best;
    best_rank = lower ? rank[i] : best_rank;
  }
  return {best, best_rank};
}
}  // namespace

uint32_t* BpeEngine::merge_short_bytes(std::string_view piece, uint32_t* out) const {
  uint32_t ids[kShortRoom], rank[kShortRoom];
  const size_t n = piece.size();
  const auto* bytes = reinterpret_cast<const uint8_t*>(piece.data());
  for (size_t i = 0; i < n; ++i) ids[i] = byte_ids_[bytes[i]];
  for (size_t i = 0; i + 1 < n; ++i) rank[i] = byte_pair_rank_[bytes[i] << 8 | bytes[i + 1]];
  return merge_short_ranked(ids, rank, n, out);
}

uint32_t* BpeEngine::merge_short(const uint32_t* symbols, size_t n, uint32_t* out, const uint8_t* classes) const {
  uint32_t ids[kShortRoom], rank[kShortRoom];
  std::copy(symbols, symbols + n, ids);
  if (classes != nullptr && !char_pair_rank_.empty()) {
    for (size_t i = 0; i + 1 < n; ++i)
      rank[i] = classes[i] < kCharClasses && classes[i + 1] < kCharClasses
                    ? char_pair_rank_[classes[i] * kCharClasses + classes[i + 1]]
                    : find_rank(ids[i], ids[i + 1]);
  } else {
    for (size_t i = 0; i + 1 < n; ++i) rank[i] = find_rank(ids[i], ids[i + 1]);
  }
  return merge_short_ranked(ids, rank, n, out);
}

// ids and rank have kShortRoom entries; rank[i] is that of ids[i], ids[i + 1].
uint32_t* BpeEngine::merge_short_ranked(uint32_t* ids, uint32_t* rank, size_t n, uint32_t* out) const {
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
  // The ids out four at a time: a fixed-size copy inlines, where one of n
  // ids was a call to memcpy per piece. Writes at most 3 ids past n, which
  // the callers' kIdSlack holds.
  auto copy_out = [&] {
    for (size_t i = 0; i < n; i += 4) std::memcpy(out + i, ids + i, 4 * sizeof *ids);
    return out + n;
  };
  if (n <= 1) return copy_out();
  // Past the last pair: kNoRank for the block shifts that pull these slots
  // left. A fixed size, so the compiler stores it inline instead of calling
  // memset for each piece.
  static_assert(kNoRank == UINT32_MAX && kShortRoom >= kShortPieceBytes - 1 + kShift + 4);
  std::memset(rank + (n - 1), 0xFF, (kShift + 4) * sizeof *rank);
  while (n > 1) {
    const auto [best, best_rank] = lowest_rank(rank, n - 1);
    if (best_rank == kNoRank) break;
    ids[best] = merged_id(best_rank);
    shift(ids, best + 1, n - best - 2);  // ids[best + 2 .. n) move left
    shift(rank, best, n - best - 2);     // rank[best + 1 .. n - 1) move left
    --n;
    rank[n - 1] = kNoRank;  // memmove (long tails) leaves the old last rank there
    if (best > 0) look_up(best - 1);
    if (best + 1 < n) look_up(best);
  }
  return copy_out();
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
uint32_t* BpeEngine::merge_runs(std::string_view piece, uint32_t* out, BpeScratch& cache) const {
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
      for (const BpeScratch::Run& r : runs) {
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
  for (const BpeScratch::Run& r : runs) out = std::fill_n(out, r.count, r.id);
  return out;
}

// Long pieces: the parts form a doubly linked list indexed by their first
// byte's offset, and the pairs wait in one bucket of offsets per merge rank.
// Visiting the ranks in increasing order and each bucket's offsets left to
// right is exactly "lowest rank first, leftmost on ties", because a merge only
// creates pairs that rank after it (ranks_ordered_: every merge's parts come
// from earlier merges, checked at build). A bucket entry whose pair has changed since it was
// filed is skipped. Cost O(n log n) whatever the piece; a run of one letter
// sweeps a handful of big buckets sequentially.
uint32_t* BpeEngine::merge_long(const uint32_t* symbols, size_t count, uint32_t* out, BpeScratch& cache) const {
  if (count >= UINT32_MAX) throw Error("BPE piece of 4 GiB or more");
  const auto n = static_cast<uint32_t>(count);
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
    id[i] = symbols[i];
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
    const uint64_t key = uint64_t{id[pos]} << 32 | id[next[pos]];
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
    const uint32_t merged = merged_id(rank);
    // The pairs a merge changes rank after this one, so they are filed after
    // the sweep, once each: in a run, (aa, a) would be superseded at once.
    // Merges go left to right, so `changed` is non-decreasing.
    changed.clear();
    for (uint32_t pos : current) {
      // Stale entries: the part was merged away, or its pair changed. Several
      // pairs may share a rank (tiktoken), so the rank itself is compared.
      if (id[pos] == kGone || next[pos] == n || find_rank(id[pos], id[next[pos]]) != rank) continue;
      const uint32_t right = next[pos];
      id[pos] = merged;
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


// Long pieces of vocabularies whose merges are not ordered (a merge may use a
// token that only a later merge makes, so merging can create a pair that
// outranks the one just merged): the textbook form, a min-heap of (rank,
// part) over a linked list of parts, entries checked when popped. Exactly
// HF tokenizers' rule for every vocabulary, in O(n log n).
uint32_t* BpeEngine::merge_heap(const uint32_t* symbols, size_t count, uint32_t* out, BpeScratch& cache) const {
  if (count >= UINT32_MAX) throw Error("BPE piece of 4 GiB or more");
  const auto n = static_cast<uint32_t>(count);
  constexpr uint32_t kGone = UINT32_MAX;
  auto& id = cache.part_ids;
  auto& next = cache.part_next;
  auto& prev = cache.part_prev;
  auto& heap = cache.pair_heap;
  id.assign(symbols, symbols + n);
  next.resize(n);
  prev.resize(n);
  heap.clear();
  const auto later = std::greater<uint64_t>();
  auto file_pair = [&](uint32_t pos) {
    const uint32_t rank = find_rank(id[pos], id[next[pos]]);
    if (rank == kNoRank) return;
    heap.push_back(uint64_t{rank} << 32 | pos);  // equal ranks pop leftmost first
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (uint32_t i = 0; i < n; ++i) next[i] = i + 1, prev[i] = i - 1;
  for (uint32_t i = 0; i + 1 < n; ++i) file_pair(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const uint64_t top = heap.back();
    heap.pop_back();
    const auto rank = static_cast<uint32_t>(top >> 32), pos = static_cast<uint32_t>(top);
    if (id[pos] == kGone || next[pos] == n || find_rank(id[pos], id[next[pos]]) != rank) continue;  // stale
    const uint32_t right = next[pos];
    id[pos] = merged_id(rank);
    id[right] = kGone;
    next[pos] = next[right];
    if (next[pos] != n) prev[next[pos]] = pos;
    if (prev[pos] != UINT32_MAX) file_pair(prev[pos]);
    if (next[pos] != n) file_pair(pos);
  }
  for (uint32_t i = 0; i != n; i = next[i]) *out++ = id[i];
  if (n > (1u << 16)) {  // don't keep megabytes of scratch alive in a thread's cache
    std::vector<uint32_t>().swap(id), std::vector<uint32_t>().swap(next), std::vector<uint32_t>().swap(prev);
    std::vector<uint64_t>().swap(heap);
  }
  return out;
}

}  // namespace sp
