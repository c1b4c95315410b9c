// The memo of merged pieces that all threads encoding with one BPE model
// share (private to the library; bpe.cc's notes say where it sits and why).
// Insert-only and lock-free: a piece's entry is written once, by the thread
// that merged it first, and never changes or moves after it is published.
//
// Publishing: claim an empty slot (compare-and-swap of its state word from
// empty to claimed), write the payload (key words, ids, arena offsets; the
// bytes and ids that do not fit the slot go to the thread's arena chunk),
// then store the state word with release. Readers load the state word with
// acquire and read the payload only when it says ready, so they never see a
// half-written entry; a claimed slot reads as some other piece. A match
// compares the key words, the length and, for pieces over 16 bytes, every
// byte, so a hit is exact.
//
// Bounded: the slot table and the arena are allocated once (untouched pages
// cost nothing). A piece lives within kMaxProbe slots of its home slot, so a
// probe stops there, and where those slots are taken, or the arena is used
// up, the piece is not kept: the memo never counts its entries, so threads
// share no counter, only the slots they write.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sp/large_table.h"

namespace sp {

struct PieceKey;

class BpeSharedMemo {
 public:
  // 2^18 slots of 32 bytes, 8 MB, the size of one thread's memo table (16
  // workers' own tables take 16 times that): at the ~60% load where an
  // 8-slot probe still finds room it holds ~150,000 pieces, the ones met
  // first, which in Zipfian text are the ones met most. 2^20 slots (32 MB)
  // spent 3.8% of a 1-worker run zeroing pages and missed the cache on
  // nearly every probe.
  static constexpr size_t kSlots = size_t{1} << 18;
  // The arena holds the bytes of pieces over 16 bytes and the ids of pieces
  // with over 2 ids: 2^21 words, 8 MB, 13 words per piece the table holds
  // (GPT-2's merged pieces of real text average under 6).
  static constexpr size_t kArenaWords = size_t{1} << 21;
  // Slots a probe looks at, from the piece's home slot: four cache lines.
  static constexpr size_t kMaxProbe = 8;
  static constexpr size_t kMaxPieceBytes = 255;  // the state word's length byte
  static constexpr size_t kMaxIds = 255;         // the state word's count byte

  // Threads (BpeScratches) that must have used the model before the memo is
  // used. Measured, GPT-2, 100 MB of mixed text, whole process: 2 workers
  // +6.9% CPU on the 2-core VM (its probe is a cache miss on every cold
  // piece, and few of a thread's cold pieces come from the other thread);
  // on the 16-core box, 6 alternating pairs each, 8 workers 1.03x
  // (median MB/s 658 vs 637) and 16 workers 1.08x (1213 vs 1124).
  static constexpr size_t kMinUsers = 8;

  // slots: a power of two >= kMaxProbe.
  explicit BpeSharedMemo(size_t slots = kSlots, size_t arena_words = kArenaWords, size_t min_users = kMinUsers);

  // Writes the ids of `piece` (key = PieceKey(piece)) at out and returns
  // their end, or returns nullptr when the memo does not hold the piece. out
  // has room for max(count, 2) ids.
  uint32_t* find(std::string_view piece, const PieceKey& key, uint32_t* out) const;
  // A thread's share of the arena: words are taken from the memo kChunkWords
  // at a time and handed out from here, so threads do not all bump one
  // counter (with 2 workers on GPT-2 that counter was most of publish's cost).
  struct ArenaChunk {
    uint64_t memo = 0;  // serial_ of the memo whose arena `at` and `end` are in; 0 = none
    size_t at = 0, end = 0;
  };
  static constexpr size_t kChunkWords = 1024;  // or the whole arena when smaller
  // Offers the ids of a piece; taken unless the piece is too long or has too
  // many ids, its kMaxProbe slots are taken or the arena has no room for
  // it, or the piece is already there or being published by another thread.
  // `chunk` is the calling thread's own.
  void publish(std::string_view piece, const PieceKey& key, const uint32_t* ids, size_t count, ArenaChunk& chunk);
  // A thread's (a BpeScratch's) registration with the memo. Until min_users
  // have registered, the memo is neither probed nor filled: a few workers
  // find few of their pieces there, and each probe is a cache miss.
  struct User {
    uint64_t memo = 0;  // serial_ of the memo it registered with; 0 = none
  };
  // Registers `user` on its first call for this memo; whether min_users
  // have registered, i.e. whether to use the memo.
  bool shared(User& user) {
    if (user.memo != serial_) {
      user.memo = serial_;
      users_.fetch_add(1, std::memory_order_relaxed);
    }
    return users_.load(std::memory_order_relaxed) >= min_users_;
  }
  // Asks for the piece's first slot ahead of find or publish.
  void prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]); }

  size_t entries() const;  // pieces held, counted slot by slot: for tests

 private:
  struct Slot {
    uint64_t head, tail;  // PieceKey's words
    uint32_t ids[2];      // the ids when count <= 2, else ids[0] = their offset in the arena
    uint32_t bytes;       // offset of the piece's bytes in the arena (pieces over 16 bytes)
    uint32_t state;       // kEmpty, kClaimed, or kReady | len << 8 | count; atomic_ref only
  };  // 32 bytes: two per cache line
  static constexpr uint32_t kEmpty = 0, kClaimed = 1, kReady = uint32_t{1} << 31;
  static uint32_t ready_state(size_t len, size_t count) {
    return kReady | static_cast<uint32_t>(len) << 8 | static_cast<uint32_t>(count);
  }

  LargeTable<Slot> slots_;
  LargeTable<uint32_t> arena_;
  size_t chunk_words_;
  size_t min_users_;
  // Unique per memo in the process, never 0: a thread's chunk taken from a
  // memo since destroyed is not mistaken for one of a new memo at its address.
  uint64_t serial_;
  // Words of the arena handed out in chunks; may pass its size (that chunk
  // is then not given). On its own cache line, away from what probes read.
  alignas(64) std::atomic<size_t> arena_used_{0};
  alignas(64) std::atomic<size_t> users_{0};  // written once per user, read on each thread-memo miss
};

}  // namespace sp
