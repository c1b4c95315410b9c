// BpeModel::build on vocabularies of every shape the loaders produce: byte-
// and character-level symbols, byte fallback and unknown tokens, ignore_merges,
// equal priorities for pairs that make one token (tiktoken), merges that are
// not ordered, duplicate pairs; each checked against a naive, independent
// implementation of the merge rule on random vocabularies and random pieces
// long enough to take every merge loop (short scan, runs, buckets, heap),
// with caches off and on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "bpe_engine.h"
#include "sp/bpe.h"
#include "sp/error.h"

namespace sp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The merge rule spelled out: initial symbols, then merge the leftmost pair of
// lowest priority until none has one. Quadratic, obviously right.
std::vector<uint32_t> naive_bpe(const BpeVocabulary& v, std::string_view piece) {
  std::map<std::string, uint32_t> id_of;
  for (uint32_t id = 0; id < v.tokens.size(); ++id)
    if (std::find(v.specials.begin(), v.specials.end(), id) == v.specials.end()) id_of[v.tokens[id]] = id;
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> priority;
  for (const auto& m : v.merges) priority[{m.left, m.right}] = m.priority;  // the last one given wins
  if (v.ignore_merges && id_of.count(std::string(piece))) return {id_of[std::string(piece)]};
  std::vector<uint32_t> s;
  bool last_unknown = false;
  for (size_t i = 0; i < piece.size();) {
    size_t len = 1;
    if (v.units == BpeVocabulary::Units::kCharacters) {
      const auto c = static_cast<unsigned char>(piece[i]);
      len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    }
    const std::string ch(piece.substr(i, len));
    i += len;
    if (id_of.count(ch)) {
      s.push_back(id_of[ch]), last_unknown = false;
      continue;
    }
    if (v.byte_fallback) {
      std::vector<uint32_t> bytes;
      for (unsigned char c : ch) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", c);
        if (id_of.count(name)) bytes.push_back(id_of[name]);
      }
      if (bytes.size() == ch.size()) {
        s.insert(s.end(), bytes.begin(), bytes.end()), last_unknown = false;
        continue;
      }
    }
    if (!v.unk_id) continue;
    if (!(v.fuse_unk && last_unknown)) s.push_back(*v.unk_id);
    last_unknown = true;
  }
  for (;;) {
    size_t best = SIZE_MAX;
    uint32_t best_p = UINT32_MAX;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      auto it = priority.find({s[i], s[i + 1]});
      if (it != priority.end() && it->second < best_p) best = i, best_p = it->second;
    }
    if (best == SIZE_MAX) break;
    s[best] = id_of[v.tokens[s[best]] + v.tokens[s[best + 1]]];
    s.erase(s.begin() + best + 1);
  }
  return s;
}

std::vector<uint32_t> encode(const BpeModel& m, std::string_view piece, size_t cache_entries) {
  BpeCache cache(cache_entries);
  std::vector<uint32_t> ids;
  m.encode_piece(piece, ids, cache);
  m.encode_piece(piece, ids, cache);  // again: from the caches, when on
  ids.resize(ids.size() / 2);
  return ids;
}

// A byte-level vocabulary over the letters a..d (plus every byte as a token):
// random merges of existing tokens, in a random order of priorities when
// `ordered` is false.
BpeVocabulary random_vocabulary(std::mt19937& rng, bool ordered, bool tiktoken_priorities) {
  BpeVocabulary v;
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(1, static_cast<char>(b));
  std::map<std::string, uint32_t> id_of;
  for (uint32_t id = 0; id < 256; ++id) id_of[v.tokens[id]] = id;
  std::vector<uint32_t> pool = {'a', 'b', 'c', 'd'};
  for (int i = 0; i < 60; ++i) {
    const uint32_t l = pool[rng() % pool.size()], r = pool[rng() % pool.size()];
    const std::string joined = v.tokens[l] + v.tokens[r];
    if (joined.size() > 12) continue;
    uint32_t made;
    if (auto it = id_of.find(joined); it != id_of.end()) {
      made = it->second;
      if (!tiktoken_priorities) continue;  // merge lists make each token once
    } else {
      made = static_cast<uint32_t>(v.tokens.size());
      v.tokens.push_back(joined);
      id_of[joined] = made;
      pool.push_back(made);
    }
    v.merges.push_back({l, r, tiktoken_priorities ? made : static_cast<uint32_t>(v.merges.size())});
  }
  if (!ordered) {
    std::vector<uint32_t> p(v.merges.size());
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint32_t>(i);
    std::shuffle(p.begin(), p.end(), rng);
    for (size_t i = 0; i < p.size(); ++i) v.merges[i].priority = p[i];
  }
  return v;
}

std::string random_piece(std::mt19937& rng, size_t n) {
  std::string s;
  const int style = static_cast<int>(rng() % 3);
  for (size_t i = 0; i < n; ++i) {
    if (style == 0) s += static_cast<char>('a' + rng() % 4);
    else if (style == 1) s += static_cast<char>('a' + (i / (1 + rng() % 40)) % 2);  // long runs
    else s += "ab"[rng() % 8 == 0];
  }
  return s;
}

TEST(BpeBuild, RandomVocabulariesMatchTheNaiveRule) {
  std::mt19937 rng(20261130);
  int unordered = 0, shared_priorities = 0;
  for (int round = 0; round < 60; ++round) {
    const bool ordered = round % 3 != 0, tiktoken = round % 2 == 0;
    BpeVocabulary v = random_vocabulary(rng, ordered, tiktoken);
    v.ignore_merges = round % 4 == 1;
    const BpeVocabulary copy = v;
    const BpeModel m = BpeModel::build(std::move(v), "random");
    unordered += !m.engine().ranks_ordered_;
    shared_priorities += !m.engine().one_pair_per_rank_;
    for (size_t n : {1, 2, 3, 7, 15, 16, 40, 64, 65, 100, 300, 2000}) {
      const std::string piece = random_piece(rng, n);
      const auto expected = naive_bpe(copy, piece);
      ASSERT_EQ(encode(m, piece, 0), expected) << "round " << round << " piece " << piece;
      ASSERT_EQ(encode(m, piece, BpeCache::kDefaultEntries), expected) << "round " << round << " piece " << piece;
    }
  }
  EXPECT_GT(unordered, 0);  // the heap path ran
  EXPECT_GT(shared_priorities, 0);
}

// find_rank over every pair of ids, against the merge list: the pair table
// (cache-line buckets) and the filter of ids that take part in no merge on
// the left or on the right answer exactly the list's priority, or none.
TEST(BpeBuild, FindRankAnswersEveryPairAsTheMergeListDoes) {
  std::mt19937 rng(20261201);
  size_t merging = 0, filtered = 0, bloomed = 0;
  for (int round = 0; round < 12; ++round) {
    BpeVocabulary v = random_vocabulary(rng, round % 3 != 0, round % 2 == 0);
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> priority;
    std::vector<bool> left(v.tokens.size()), right(v.tokens.size());
    for (const auto& m : v.merges) priority[{m.left, m.right}] = m.priority, left[m.left] = right[m.right] = true;
    const auto vocab = static_cast<uint32_t>(v.tokens.size());
    const BpeModel m = BpeModel::build(std::move(v), "random");
    for (uint32_t a = 0; a < vocab; ++a)
      for (uint32_t b = 0; b < vocab; ++b) {
        const auto it = priority.find({a, b});
        const uint32_t want = it == priority.end() ? BpeEngine::kNoRank : it->second;
        ASSERT_EQ(m.engine().find_rank(a, b), want) << "round " << round << " pair " << a << " " << b;
        const bool maybe = m.engine().maybe_pair(uint64_t{a} << BpeEngine::kIdBits | b);
        if (want != BpeEngine::kNoRank) {
          ASSERT_TRUE(maybe) << "the pair filter drops a merge: " << a << " " << b;
        }
        merging += want != BpeEngine::kNoRank;
        filtered += !left[a] || !right[b];
        bloomed += left[a] && right[b] && !maybe;
      }
  }
  EXPECT_GT(merging, 300u);  // 12 vocabularies of ~40 merges
  EXPECT_GT(filtered, 1000u);  // pairs the side bitsets answer alone
  EXPECT_GT(bloomed, 1000u);   // pairs past them that the pair filter answers
}

TEST(BpeBuild, MergesFromRanksAreEverySplitAtTheTokensId) {
  std::mt19937 rng(99);
  for (int round = 0; round < 20; ++round) {
    BpeVocabulary v = random_vocabulary(rng, true, true);
    v.merges.clear();
    v.ignore_merges = true;
    BpeVocabulary spelled = v;  // the same rule as an explicit merge list, for the naive encoder
    std::map<std::string, uint32_t> id_of;
    for (uint32_t id = 0; id < v.tokens.size(); ++id) id_of[v.tokens[id]] = id;
    for (uint32_t id = 0; id < v.tokens.size(); ++id)
      for (size_t k = 1; k < v.tokens[id].size(); ++k) {
        auto a = id_of.find(v.tokens[id].substr(0, k)), b = id_of.find(v.tokens[id].substr(k));
        if (a != id_of.end() && b != id_of.end()) spelled.merges.push_back({a->second, b->second, id});
      }
    v.merges_from_ranks = true;
    const BpeModel m = BpeModel::build(std::move(v), "ranks");
    EXPECT_EQ(m.merge_count(), spelled.merges.size());
    for (size_t n : {2, 5, 13, 64, 65, 500}) {
      const std::string piece = random_piece(rng, n);
      ASSERT_EQ(encode(m, piece, 0), naive_bpe(spelled, piece)) << piece;
      ASSERT_EQ(encode(m, piece, BpeCache::kDefaultEntries), naive_bpe(spelled, piece)) << piece;
    }
  }
}

// A SentencePiece-style vocabulary: characters, "▁", byte fallback.
BpeVocabulary character_vocabulary() {
  BpeVocabulary v;
  v.units = BpeVocabulary::Units::kCharacters;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.specials = {1, 2};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v.tokens.emplace_back(name);
  }
  auto add = [&](const std::string& t) {
    v.tokens.push_back(t);
    return static_cast<uint32_t>(v.tokens.size() - 1);
  };
  const uint32_t sp = add("\xE2\x96\x81"), h = add("h"), e = add("e"), l = add("l"), o = add("o"), e_acute = add("é");
  const uint32_t he = add("he"), ll = add("ll"), sp_he = add("\xE2\x96\x81he"), llo = add("llo");
  const uint32_t hello = add("\xE2\x96\x81hello");
  v.merges = {{h, e, 0}, {l, l, 1}, {sp, he, 2}, {ll, o, 3}, {sp_he, llo, 4}};
  (void)e_acute, (void)hello;
  v.unk_id = 0;
  return v;
}

TEST(BpeBuild, CharacterSymbolsByteFallbackAndUnknowns) {
  BpeVocabulary v = character_vocabulary();
  v.byte_fallback = true;
  const BpeModel m = BpeModel::build(v, "chars");
  auto names = [&](const std::vector<uint32_t>& ids) {
    std::vector<std::string> s;
    for (uint32_t id : ids) s.emplace_back(m.token_bytes(id));
    return s;
  };
  EXPECT_THAT(names(encode(m, "\xE2\x96\x81hello", 0)), ElementsAre("\xE2\x96\x81hello"));
  EXPECT_THAT(names(encode(m, "hé", 0)), ElementsAre("h", "é"));
  // "ü" is no token: its two bytes fall back to <0xC3> <0xBC>.
  EXPECT_THAT(names(encode(m, "hü", 0)), ElementsAre("h", "<0xC3>", "<0xBC>"));
  EXPECT_THAT(names(encode(m, "x", BpeCache::kDefaultEntries)), ElementsAre("<0x78>"));
  // Specials are never made from their text.
  EXPECT_THAT(names(encode(m, "<s>", 0)), ElementsAre("<0x3C>", "<0x73>", "<0x3E>"));

  BpeVocabulary u = character_vocabulary();
  u.fuse_unk = true;
  const BpeModel fused = BpeModel::build(u, "chars");
  EXPECT_THAT(encode(fused, "hxyzh", 0), ElementsAre(4 + 256, 0, 4 + 256));  // x, y, z fuse into one <unk>
  u.fuse_unk = false;
  const BpeModel unfused = BpeModel::build(u, "chars");
  EXPECT_THAT(encode(unfused, "hxy", 0), ElementsAre(4 + 256, 0, 0));
  u.unk_id.reset();
  const BpeModel dropping = BpeModel::build(u, "chars");
  EXPECT_THAT(encode(dropping, "hxy", 0), ElementsAre(4 + 256));

  // Long character pieces against the naive rule.
  std::mt19937 rng(7);
  const std::string alphabet[] = {"\xE2\x96\x81", "h", "e", "l", "o", "é", "ü", "x"};
  for (int round = 0; round < 20; ++round) {
    std::string piece;
    for (int i = 0; i < 500; ++i) piece += alphabet[rng() % 8];
    ASSERT_EQ(encode(m, piece, 0), naive_bpe(v, piece));
    ASSERT_EQ(encode(m, piece, BpeCache::kDefaultEntries), naive_bpe(v, piece));
  }
}

TEST(BpeBuild, PiecesUpTo255BytesAreMemoizedLongerOnesNot) {
  std::mt19937 rng(5);
  const BpeVocabulary v = random_vocabulary(rng, false, false);
  const BpeModel m = BpeModel::build(v, "memo");
  BpeCache cache;
  std::vector<uint32_t> ids;
  const std::string piece(200, 'a'), longer(256, 'a');
  m.encode_piece(piece, ids, cache);
  EXPECT_EQ(cache.size(), 1u);
  m.encode_piece(longer, ids, cache);
  EXPECT_EQ(cache.size(), 1u);
  ids.clear();
  m.encode_piece(piece, ids, cache);  // from the memo
  EXPECT_EQ(ids, naive_bpe(v, piece));
}

TEST(BpeBuild, DuplicatePairKeepsItsLastPriority) {
  BpeVocabulary v;
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(1, static_cast<char>(b));
  v.tokens.push_back("ab"), v.tokens.push_back("bc");
  v.merges = {{'a', 'b', 0}, {'b', 'c', 1}, {'a', 'b', 2}};  // "a b" now ranks after "b c"
  const BpeModel m = BpeModel::build(v, "dups");
  EXPECT_EQ(m.merge_count(), 2u);
  EXPECT_THAT(encode(m, "abc", 0), ElementsAre('a', 257));
}

void expect_build_error(BpeVocabulary v, const std::string& reason) {
  try {
    BpeModel::build(std::move(v), "vocab-source");
    ADD_FAILURE() << "no exception; expected " << reason;
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("vocab-source"));
    EXPECT_THAT(e.what(), HasSubstr(reason));
  }
}

TEST(BpeBuild, RefusesBrokenVocabularies) {
  BpeVocabulary bytes;
  for (int b = 0; b < 256; ++b) bytes.tokens.emplace_back(1, static_cast<char>(b));
  bytes.tokens.push_back("ab");

  BpeVocabulary v = bytes;
  v.tokens.erase(v.tokens.begin() + 'z', v.tokens.begin() + 'z' + 1);
  expect_build_error(v, "no token for byte");
  v = bytes, v.tokens.push_back("ab");
  expect_build_error(v, "appears twice");
  v = bytes, v.merges = {{'a', 'c', 0}};
  expect_build_error(v, "not in the vocabulary");
  v = bytes, v.merges = {{'a', 999, 0}};
  expect_build_error(v, "outside the vocabulary");
  v = bytes, v.tokens.push_back("cd"), v.merges = {{'a', 'b', 0}, {'c', 'd', 0}};
  expect_build_error(v, "make different tokens");
  v = bytes, v.tokens.push_back("abc"), v.specials = {256}, v.merges = {{256, 'c', 0}};
  expect_build_error(v, "uses a special token");
  v = bytes, v.specials = {5000};
  expect_build_error(v, "outside the vocabulary");
  expect_build_error(BpeVocabulary{}, "empty");
}

}  // namespace
}  // namespace sp
