// The memo that all threads encoding with one BPE model share: exact answers
// for what was published (pieces that differ only in their middle bytes or
// length included), bounded when full, and - through the GPT-2 model - many
// threads encoding overlapping text give the ids of one thread without any
// cache, with a memo of the default size and with one that fills at once.
#include "bpe_shared_memo.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bpe_engine.h"
#include "sp/bpe.h"
#include "sp/pretokenizer.h"
#include "test_support.h"

namespace sp {
namespace {

std::vector<uint32_t> found(const BpeSharedMemo& memo, std::string_view piece) {
  std::vector<uint32_t> ids(BpeSharedMemo::kMaxIds + 2);
  const uint32_t* end = memo.find(piece, PieceKey(piece), ids.data());
  if (end == nullptr) return {UINT32_MAX};  // "not held", distinct from any id list
  ids.resize(static_cast<size_t>(end - ids.data()));
  return ids;
}

// Each thread publishes from its own arena chunk, as each encoding thread's
// BpeScratch does.
void publish(BpeSharedMemo& memo, std::string_view piece, const std::vector<uint32_t>& ids) {
  thread_local BpeSharedMemo::ArenaChunk chunk;
  memo.publish(piece, PieceKey(piece), ids.data(), ids.size(), chunk);
}

const std::vector<uint32_t> kMissing = {UINT32_MAX};

TEST(BpeSharedMemo, FindsExactlyWhatWasPublished) {
  BpeSharedMemo memo(64, 1024);
  const std::string long_a = "abcdefgh" + std::string(20, 'x') + "12345678";
  const std::string long_b = "abcdefgh" + std::string(19, 'x') + "y12345678";  // same ends, length, other middle
  const std::string long_c = "abcdefgh" + std::string(21, 'x') + "12345678";   // same ends, longer
  std::vector<uint32_t> many(200);
  for (uint32_t i = 0; i < many.size(); ++i) many[i] = 7 * i + 1;
  publish(memo, "ab", {5});
  publish(memo, "0123456789abcdef", {1, 2});  // 16 bytes: head and tail are the whole piece
  publish(memo, long_a, {3, 4, 5});
  publish(memo, long_c, many);
  EXPECT_EQ(found(memo, "ab"), std::vector<uint32_t>{5});
  EXPECT_EQ(found(memo, "0123456789abcdef"), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(found(memo, long_a), (std::vector<uint32_t>{3, 4, 5}));
  EXPECT_EQ(found(memo, long_c), many);
  EXPECT_EQ(found(memo, long_b), kMissing);
  EXPECT_EQ(found(memo, "abc"), kMissing);
  EXPECT_EQ(found(memo, "0123456789abcdeg"), kMissing);
  // A second publication of a piece is not taken: the first one stays.
  publish(memo, "ab", {6});
  EXPECT_EQ(found(memo, "ab"), std::vector<uint32_t>{5});
  // Too long for the length byte, or too many ids for the count byte: not taken.
  const std::string too_long(BpeSharedMemo::kMaxPieceBytes + 1, 'q');
  publish(memo, too_long, {1});
  EXPECT_EQ(found(memo, too_long), kMissing);
  publish(memo, "toomany", std::vector<uint32_t>(BpeSharedMemo::kMaxIds + 1, 9));
  EXPECT_EQ(found(memo, "toomany"), kMissing);
}

TEST(BpeSharedMemo, FullMemoStopsTakingPiecesAndKeepsExactAnswers) {
  BpeSharedMemo memo(16, 16);  // 16 slots; 16 arena words
  std::vector<std::string> pieces;
  for (int i = 0; i < 100; ++i) pieces.push_back(std::to_string(i) + "p");
  for (size_t i = 0; i < pieces.size(); ++i) publish(memo, pieces[i], {static_cast<uint32_t>(i)});
  EXPECT_EQ(memo.entries(), 16u);
  size_t held = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::vector<uint32_t> ids = found(memo, pieces[i]);
    if (ids == kMissing) continue;
    EXPECT_EQ(ids, std::vector<uint32_t>{static_cast<uint32_t>(i)}) << pieces[i];
    ++held;
  }
  EXPECT_EQ(held, 16u);  // every slot, none lost or overwritten

  // A full arena refuses the pieces that need it and still takes the others.
  BpeSharedMemo small_arena(64, 8);  // one chunk of 8 words
  publish(small_arena, "first", {1, 2, 3, 4, 5, 6});  // 6 words
  publish(small_arena, "second", {1, 2, 3});          // would pass 8
  publish(small_arena, "third", {9});
  EXPECT_EQ(found(small_arena, "first"), (std::vector<uint32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(found(small_arena, "second"), kMissing);
  EXPECT_EQ(found(small_arena, "third"), std::vector<uint32_t>{9});
}

TEST(BpeSharedMemo, ThreadsPublishingTheSamePiecesReadOnlyWholeEntries) {
  // Every thread publishes and looks up the same pieces at once; a piece's
  // ids are a function of the piece, so any answer but those is a torn read.
  BpeSharedMemo memo(1 << 12, 1 << 16);
  auto ids_of = [](uint32_t i) {
    std::vector<uint32_t> ids(1 + i % 5);
    for (uint32_t j = 0; j < ids.size(); ++j) ids[j] = i * 31 + j;
    return ids;
  };
  auto piece_of = [](uint32_t i) { return "piece-" + std::to_string(i) + std::string(i % 40, '~'); };
  std::vector<std::thread> threads;
  std::vector<int> wrong(8, 0), hits(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int k = 0; k < 20000; ++k) {
        const uint32_t i = rng() % 2000;
        const std::string piece = piece_of(i);
        const std::vector<uint32_t> ids = found(memo, piece);
        if (ids == kMissing) {
          publish(memo, piece, ids_of(i));
        } else {
          ++hits[t];
          wrong[t] += ids != ids_of(i);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(wrong[t], 0) << t;
    EXPECT_GT(hits[t], 0) << t;
  }
  for (uint32_t i = 0; i < 2000; ++i) {
    const std::vector<uint32_t> ids = found(memo, piece_of(i));
    if (ids != kMissing) {
      EXPECT_EQ(ids, ids_of(i)) << i;
    }
  }
}

// ------------------------------------------------------------------ through GPT-2

// Documents of words drawn from one pool, so threads meet the same new
// pieces: lowercase nonsense, capitalized, digits, Cyrillic and CJK, which
// mostly are not tokens and take the merge loop or a memo.
std::vector<std::string> documents(size_t count, size_t words, uint32_t seed) {
  std::mt19937 pool_rng(12345);  // the same pool for every seed
  std::vector<std::string> pool;
  const char* const cyrillic[] = {"\xD0\xB0", "\xD0\xB1", "\xD0\xB2", "\xD0\xBA", "\xD0\xBE", "\xD1\x80", "\xD1\x8F"};
  const char* const cjk[] = {"\xE4\xB8\x80", "\xE4\xBA\xBA", "\xE5\xA4\xA7", "\xE6\x97\xA5", "\xE8\xAA\x9E"};
  for (int i = 0; i < 6000; ++i) {
    std::string w = pool_rng() % 2 ? " " : "";
    const size_t n = 2 + pool_rng() % 14;
    switch (pool_rng() % 5) {
      case 0:
      case 1:
        for (size_t j = 0; j < n; ++j) w += static_cast<char>('a' + pool_rng() % 26);
        break;
      case 2:
        w += static_cast<char>('A' + pool_rng() % 26);
        for (size_t j = 1; j < n; ++j) w += static_cast<char>('a' + pool_rng() % 26);
        break;
      case 3:
        for (size_t j = 0; j < n / 2 + 1; ++j) w += cyrillic[pool_rng() % 7];
        break;
      default:
        for (size_t j = 0; j < n / 3 + 1; ++j) w += cjk[pool_rng() % 5];
    }
    pool.push_back(w);
  }
  std::mt19937 rng(seed);
  std::vector<std::string> docs(count);
  for (std::string& d : docs)
    for (size_t k = 0; k < words; ++k) d += pool[rng() % pool.size()];
  return docs;
}

class Gpt2SharedMemo : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = test::gpt2_dir();
    SP_REQUIRE_FIXTURE(!dir.empty(), "GPT-2 vocab not found; run third_party/gpt2/fetch_vocab.sh");
    model_ = std::make_unique<BpeModel>(BpeModel::load_gpt2(dir + "/vocab.json", dir + "/merges.txt"));
  }
  // The model's memo, which a test may replace before encoding: the engine
  // was built mutable (BpeModel::build) and only reads it through const.
  std::unique_ptr<BpeSharedMemo>& shared_memo() {
    return const_cast<BpeEngine&>(model_->engine()).shared_memo_;
  }
  // Each thread encodes its own documents, with its own small cache so that
  // most of its new pieces reach the shared memo, and compares every
  // document's ids with one thread's without any cache (BpeCache(0) skips
  // both memos). Returns the mismatches.
  int mismatches_over_threads(int threads, size_t thread_cache_entries) {
    std::vector<std::vector<std::string>> docs(threads);
    std::vector<std::vector<std::vector<uint32_t>>> want(threads);
    BpeCache off(0);
    for (int t = 0; t < threads; ++t) {
      docs[t] = documents(40, 300, static_cast<uint32_t>(t + 1));
      for (const std::string& d : docs[t]) {
        want[t].emplace_back();
        model_->encode(d, want[t].back(), off);
      }
    }
    std::vector<int> wrong(threads, 0);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        BpeCache cache(thread_cache_entries);
        for (int round = 0; round < 2; ++round)
          for (size_t i = 0; i < docs[t].size(); ++i) {
            std::vector<uint32_t> ids;
            model_->encode(docs[t][i], ids, cache);
            wrong[t] += ids != want[t][i];
          }
      });
    }
    for (auto& th : pool) th.join();
    int total = 0;
    for (int w : wrong) total += w;
    return total;
  }
  std::unique_ptr<BpeModel> model_;
};

TEST_F(Gpt2SharedMemo, ManyThreadsGiveTheIdsOfOneThreadWithoutCaches) {
  EXPECT_EQ(mismatches_over_threads(8, 16), 0);
  EXPECT_EQ(mismatches_over_threads(8, BpeCache::kDefaultEntries), 0);
  // The memo took the merged pieces, and answers them with their merged ids.
  ASSERT_GT(shared_memo()->entries(), 1000u);
  BpeCache off(0);
  size_t held = 0;
  for (const std::string& d : documents(1, 300, 1)) {
    for (size_t pos = 0; pos < d.size();) {
      const size_t next = gpt2_pretoken_end(d, pos);
      const std::string_view piece = std::string_view(d).substr(pos, next - pos);
      pos = next;
      std::vector<uint32_t> want;
      model_->encode_piece(piece, want, off);
      std::vector<uint32_t> ids(piece.size() + 2);
      if (const uint32_t* end = shared_memo()->find(piece, PieceKey(piece), ids.data())) {
        ids.resize(static_cast<size_t>(end - ids.data()));
        EXPECT_EQ(ids, want) << piece;
        ++held;
      }
    }
  }
  EXPECT_GT(held, 100u);
}

TEST_F(Gpt2SharedMemo, UsedOnceEnoughCachesHaveEncoded) {
  const std::vector<std::string> docs = documents(5, 300, 1);
  std::vector<std::unique_ptr<BpeCache>> caches;
  std::vector<uint32_t> alone;
  for (size_t k = 0; k + 1 < BpeSharedMemo::kMinUsers; ++k) {
    caches.push_back(std::make_unique<BpeCache>());
    std::vector<uint32_t> ids;
    for (const std::string& d : docs) model_->encode(d, ids, *caches.back());
    if (k == 0) alone = ids;
    EXPECT_EQ(ids, alone);
  }
  EXPECT_EQ(shared_memo()->entries(), 0u);  // fewer users than kMinUsers leave it untouched
  std::thread([&] {
    BpeCache last;
    std::vector<uint32_t> ids;
    for (const std::string& d : docs) model_->encode(d, ids, last);
    EXPECT_EQ(ids, alone);
  }).join();
  EXPECT_GT(shared_memo()->entries(), 100u);
  std::vector<uint32_t> again;
  BpeCache off(0);
  for (const std::string& d : docs) model_->encode(d, again, off);
  EXPECT_EQ(again, alone);
}

TEST_F(Gpt2SharedMemo, FullMemoKeepsGivingExactIds) {
  shared_memo() = std::make_unique<BpeSharedMemo>(64, 32);  // 64 pieces, a few with long bytes or many ids
  EXPECT_EQ(mismatches_over_threads(8, 16), 0);
  EXPECT_GT(shared_memo()->entries(), 32u);  // filled (slots whose arena ran out stay claimed, unread)
}

}  // namespace
}  // namespace sp
