// The shared memo's probe and publish (bpe_shared_memo.h says the protocol).
#include "bpe_shared_memo.h"

#include <algorithm>
#include <cstring>

#include "bpe_engine.h"

namespace sp {

namespace {

// Arena words that hold n bytes.
constexpr size_t words_of(size_t n) { return (n + 3) / 4; }

std::atomic<uint64_t> memo_serials{0};  // the last serial_ given

}  // namespace

BpeSharedMemo::BpeSharedMemo(size_t slots, size_t arena_words, size_t min_users)
    : slots_(slots),
      arena_(arena_words),
      chunk_words_(std::min(kChunkWords, arena_words)),
      min_users_(min_users),
      serial_(memo_serials.fetch_add(1, std::memory_order_relaxed) + 1) {}

size_t BpeSharedMemo::entries() const {
  size_t n = 0;
  for (size_t i = 0; i < slots_.size(); ++i)
    n += std::atomic_ref<uint32_t>(const_cast<uint32_t&>(slots_[i].state)).load(std::memory_order_acquire) & kReady
             ? 1
             : 0;
  return n;
}

uint32_t* BpeSharedMemo::find(std::string_view piece, const PieceKey& key, uint32_t* out) const {
  const size_t n = piece.size();
  if (n > kMaxPieceBytes) return nullptr;
  const size_t mask = slots_.size() - 1;
  const uint32_t length_bits = static_cast<uint32_t>(n) << 8;
  for (size_t probe = 0, i = key.hash & mask; probe < kMaxProbe; ++probe, i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    // atomic_ref of a const object is C++26; the table itself is writable.
    const uint32_t state = std::atomic_ref<uint32_t>(const_cast<uint32_t&>(s.state)).load(std::memory_order_acquire);
    if (state == kEmpty) return nullptr;
    if (!(state & kReady) || (state & 0xFF00) != length_bits || s.head != key.head || s.tail != key.tail) continue;
    if (n > 16 && std::memcmp(arena_.data() + s.bytes, piece.data(), n) != 0) continue;
    const uint32_t count = state & 0xFF;
    if (count <= 2) {  // both inline ids, whatever the count (the caller's room holds two)
      std::memcpy(out, s.ids, sizeof s.ids);
      return out + count;
    }
    std::memcpy(out, arena_.data() + s.ids[0], count * sizeof(uint32_t));
    return out + count;
  }
  return nullptr;
}

void BpeSharedMemo::publish(std::string_view piece, const PieceKey& key, const uint32_t* ids, size_t count,
                            ArenaChunk& chunk) {
  const size_t n = piece.size();
  if (n > kMaxPieceBytes || count > kMaxIds || count == 0) return;
  // Room in the thread's chunk first, so a claimed slot is always written.
  const size_t byte_words = n > 16 ? words_of(n) : 0, words = byte_words + (count > 2 ? count : 0);
  if (words > 0 && (chunk.memo != serial_ || chunk.end - chunk.at < words)) {
    // Once the arena is used up only pieces that need none of it are kept;
    // the plain load keeps those threads off the counter's cache line.
    if (words > chunk_words_ || arena_used_.load(std::memory_order_relaxed) + chunk_words_ > arena_.size()) return;
    const size_t at = arena_used_.fetch_add(chunk_words_, std::memory_order_relaxed);
    if (at + chunk_words_ > arena_.size()) return;
    chunk = ArenaChunk{serial_, at, at + chunk_words_};
  }
  const size_t mask = slots_.size() - 1;
  const uint32_t length_bits = static_cast<uint32_t>(n) << 8;
  for (size_t probe = 0, i = key.hash & mask; probe < kMaxProbe; ++probe, i = (i + 1) & mask) {
    Slot& s = slots_[i];
    std::atomic_ref<uint32_t> state_ref(s.state);
    // A plain load before the compare-and-swap: a CAS takes the cache line
    // for writing even when it fails, which on every taken slot passed made
    // publish cost as much as a probe (perf, 2 workers).
    uint32_t state = state_ref.load(std::memory_order_acquire);
    if (state == kEmpty && state_ref.compare_exchange_strong(state, kClaimed, std::memory_order_acquire)) {
      // Claimed: only this thread writes the slot until the release below.
      const size_t at = chunk.at;
      if (words > 0) {
        chunk.at += words;
        if (byte_words) std::memcpy(arena_.data() + at, piece.data(), n);
        if (count > 2) std::memcpy(arena_.data() + at + byte_words, ids, count * sizeof(uint32_t));
      }
      s.head = key.head, s.tail = key.tail;
      if (count <= 2) {
        s.ids[0] = ids[0], s.ids[1] = count == 2 ? ids[1] : 0;
      } else {
        s.ids[0] = static_cast<uint32_t>(at + byte_words), s.ids[1] = 0;
      }
      s.bytes = static_cast<uint32_t>(at);
      state_ref.store(ready_state(n, count), std::memory_order_release);
      return;
    }
    // Another thread may be writing this very piece: leave it to that one.
    if (state == kClaimed) return;
    if ((state & 0xFF00) == length_bits && s.head == key.head && s.tail == key.tail &&
        (n <= 16 || std::memcmp(arena_.data() + s.bytes, piece.data(), n) == 0))
      return;  // already there
  }
}

}  // namespace sp
