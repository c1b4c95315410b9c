// Where a character-level BPE vocabulary lets text be cut (src/bpe_cuts.h):
// never between two characters some merge joins (its left token ending with
// the one, its right token starting with the other), never next to
// an unknown character that a merge could take, never between two unknown
// characters the unknown token could fuse; and cutting changes no ids.
#include "bpe_cuts.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "simd_targets.h"

namespace sp {
namespace {

const std::string kMeta = "\xE2\x96\x81";

// ▁, a, b, c, 1 and the merges a + b, ▁ + a, ▁ + ▁, ▁a + b; b + ▁ when asked; byte fallback tokens when asked.
BpeVocabulary vocabulary(bool with_trailing_metaspace, bool byte_fallback) {
  BpeVocabulary v;
  v.units = BpeVocabulary::Units::kCharacters;
  v.tokens = {"<unk>", kMeta, "a", "b", "c", "1", "ab", kMeta + "a", kMeta + kMeta, kMeta + "ab"};
  v.specials = {0};
  v.unk_id = 0;
  v.merges = {{2, 3, 0}, {1, 2, 1}, {1, 1, 2}, {7, 3, 3}};
  if (with_trailing_metaspace) {
    v.tokens.push_back("b" + kMeta);
    v.merges.push_back({3, 1, 4});
  }
  v.byte_fallback = byte_fallback;
  if (byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      v.tokens.push_back(name);
    }
  }
  return v;
}

std::vector<std::string> split(const BpeCuts& cuts, const std::string& text) {
  std::vector<std::string_view> views;
  cuts.split(text, views);
  return {views.begin(), views.end()};
}

TEST(BpeCuts, CutsOnlyWhereNoMergeJoinsTheCharacters) {
  const BpeCuts cuts = BpeCuts::build(vocabulary(false, true));
  ASSERT_TRUE(cuts.any());
  EXPECT_FALSE(cuts.cuts("a", "b"));       // a + b
  EXPECT_FALSE(cuts.cuts(kMeta, "a"));     // ▁ + a
  EXPECT_FALSE(cuts.cuts(kMeta, kMeta));   // ▁ + ▁
  EXPECT_TRUE(cuts.cuts("b", kMeta));      // no merge joins b to ▁
  EXPECT_TRUE(cuts.cuts("b", "a"));
  EXPECT_TRUE(cuts.cuts("a", "1"));
  EXPECT_TRUE(cuts.cuts("x", "a"));        // x is unknown; with byte fallback it never merges
  EXPECT_TRUE(cuts.cuts("x", "y"));        // every byte has a fallback token: no fusion to keep
  // Cut where allowed once a piece has 2 bytes, and before ▁ always: "1" keeps "c".
  EXPECT_EQ(split(cuts, kMeta + "ab" + kMeta + kMeta + "ab1c"),
            (std::vector<std::string>{kMeta + "ab", kMeta + kMeta + "ab", "1c"}));
  EXPECT_EQ(split(cuts, "b" + kMeta + "a"), (std::vector<std::string>{"b", kMeta + "a"}));
  EXPECT_EQ(split(cuts, "a"), (std::vector<std::string>{"a"}));
}

TEST(BpeCuts, AJoiningMergeOrAnUnknownFusionForbidsTheCut) {
  EXPECT_FALSE(BpeCuts::build(vocabulary(true, true)).cuts("b", kMeta));  // b + ▁
  // Digits inside byte fallback tokens ("<0x12>") join nothing: no merge makes those tokens.
  EXPECT_TRUE(BpeCuts::build(vocabulary(false, true)).cuts("1", "1"));
  const BpeCuts no_fallback = BpeCuts::build(vocabulary(false, false));
  EXPECT_FALSE(no_fallback.cuts("x", "y"));  // fuse_unk could make them one <unk>
  EXPECT_FALSE(no_fallback.cuts("x", "\xC3\xA9"));
  EXPECT_TRUE(no_fallback.cuts("x", "a"));
  // A merge that takes a byte fallback token: unknown characters may merge.
  BpeVocabulary v = vocabulary(false, true);
  v.tokens.push_back("<0x78><0x78>");
  v.merges.push_back({10 + 0x78, 10 + 0x78, 5});
  const BpeCuts merging = BpeCuts::build(v);
  EXPECT_FALSE(merging.cuts("x", "x"));
  EXPECT_FALSE(merging.cuts("x", "a"));
  EXPECT_TRUE(merging.cuts("b", "a"));
}

TEST(BpeCuts, NoCutsForByteLevelOrIgnoreMerges) {
  BpeVocabulary v = vocabulary(false, true);
  v.ignore_merges = true;
  EXPECT_FALSE(BpeCuts::build(v).any());
  v.ignore_merges = false;
  v.units = BpeVocabulary::Units::kBytes;
  EXPECT_FALSE(BpeCuts::build(v).any());
}

TEST(BpeCuts, CuttingChangesNoIds) {
  const BpeVocabulary v = vocabulary(false, true);
  const BpeCuts cuts = BpeCuts::build(v);
  const BpeModel model = BpeModel::build(v, "test");
  BpeCache whole_cache(0), cut_cache;
  const char* const parts[] = {"a", "b", "c", "1", "x", "\xC3\xA9", "\xE2\x96\x81"};
  uint32_t state = 7;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (int i = round % 23; i >= 0; --i) {
      state = state * 1103515245 + 12345;
      text += parts[(state >> 16) % 7];
    }
    if (text.empty()) continue;
    std::vector<uint32_t> whole, cut;
    model.encode_piece(text, whole, whole_cache);
    const std::span<const uint32_t> ids = model.encode_span(text, &BpeCuts::piece_end_of, &cuts, cut_cache);
    cut.assign(ids.begin(), ids.end());
    ASSERT_EQ(cut, whole) << text;
    const std::span<const uint32_t> windowed =
        model.encode_span(text, &BpeCuts::piece_end_of, &BpeCuts::window_of, &cuts, cut_cache);
    ASSERT_EQ(std::vector<uint32_t>(windowed.begin(), windowed.end()), whole) << text;
  }
}

// The pieces of `text` as the encoder takes them through the window.
std::vector<std::string> window_split(const BpeCuts& cuts, const std::string& text) {
  std::vector<std::string> pieces;
  pretoken_detail::for_each_windowed(
      text, [&](std::string_view t, size_t pos, PretokenWindow& w) { return cuts.window(t, pos, w); },
      [&](std::string_view t, size_t pos) { return cuts.piece_end(t, pos); },
      [&](size_t at, size_t n, const char* padded) {
        if (padded != nullptr) {
          EXPECT_EQ(std::string_view(padded, n), std::string_view(text).substr(at, n));
        }
        pieces.emplace_back(text, at, n);
      });
  return pieces;
}

// A vocabulary of ASCII characters, ▁ and a few others, whose merges join
// random pairs of characters: a cut table with holes anywhere.
BpeVocabulary random_vocabulary(uint32_t seed, bool byte_fallback) {
  std::mt19937 rng(seed);
  BpeVocabulary v;
  v.units = BpeVocabulary::Units::kCharacters;
  v.tokens = {"<unk>", kMeta, "\xC3\xA9", "\xE4\xB8\xAD"};
  for (int c = 1; c < 128; ++c) v.tokens.push_back(std::string(1, static_cast<char>(c)));
  v.specials = {0};
  v.unk_id = 0;
  const size_t base = v.tokens.size();
  std::uniform_int_distribution<size_t> pick(1, base - 1);
  for (uint32_t rank = 0; rank < 2000; ++rank) {
    const auto left = static_cast<uint32_t>(pick(rng)), right = static_cast<uint32_t>(pick(rng));
    v.merges.push_back({left, right, rank});
  }
  v.byte_fallback = byte_fallback;
  return v;
}

// Text of characters that test each class boundary: ASCII, ▁, characters
// that share U+2581's first bytes or its last one, two- to four-byte ones.
std::string random_text(std::mt19937& rng, size_t length) {
  static const char* const kParts[] = {"a", "b", "e", "t", "Q", "1", "7", " ", ",", ".", "'", "\n", "\t", "(",
                                       kMeta.c_str(), kMeta.c_str(), kMeta.c_str(),
                                       "\xE2\x96\x80",  // U+2580: E2 96 like U+2581
                                       "\xC4\x81",       // U+0101: ends with 81 like U+2581
                                       "\xE2\x80\x9C",  // a curly quote: E2 first
                                       "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80"};
  std::uniform_int_distribution<size_t> part(0, std::size(kParts) - 1);
  std::string text;
  while (text.size() < length) {
    // Sometimes a long run of one part: pieces longer than a window.
    const size_t repeat = rng() % 16 == 0 ? rng() % 40 : 1;
    const char* p = kParts[part(rng)];
    for (size_t i = 0; i < repeat; ++i) text += p;
  }
  return text;
}

TEST(BpeCuts, WindowCutsPieceEndsPieces) {
  std::vector<BpeCuts> tables = {BpeCuts::build(vocabulary(false, true)), BpeCuts::build(vocabulary(true, true)),
                                 BpeCuts::build(vocabulary(false, false))};
  for (uint32_t seed = 1; seed <= 6; ++seed) tables.push_back(BpeCuts::build(random_vocabulary(seed, seed % 2)));
  for (const BpeCuts& cuts : tables) ASSERT_TRUE(cuts.any());
  test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(42);
    size_t windows = 0;
    for (int round = 0; round < 400; ++round) {
      const std::string text = random_text(rng, rng() % 300 + 1);
      for (size_t t = 0; t < tables.size(); ++t) {
        ASSERT_EQ(window_split(tables[t], text), split(tables[t], text)) << "table " << t << ": " << text;
        PretokenWindow w;
        windows += tables[t].window(text, 0, w) != 0;
      }
    }
    EXPECT_GT(windows, 1000u);  // the windows covered pieces, not only piece_end
  });
}

}  // namespace
}  // namespace sp
