// AddedTokenMatcher (hf_added_tokens.cc): HF tokenizers' AddedVocabulary
// matching - leftmost-longest, single_word, lstrip, rstrip.
#include "hf_added_tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sp::hf {
namespace {

// Segments as "text" for stretches and "[id:text]" for tokens.
std::string show(const AddedTokenMatcher& m, std::string_view text) {
  std::vector<Segment> segments;
  m.split(text, segments);
  std::string out;
  for (const Segment& s : segments) {
    const std::string part(text.substr(s.begin, s.end - s.begin));
    if (s.id < 0) out.append("(").append(part).append(")");
    else out.append("[").append(std::to_string(s.id)).append(":").append(part).append("]");
  }
  return out;
}

AddedToken token(std::string content, uint32_t id) { return AddedToken{std::move(content), id}; }

TEST(HfAddedTokens, LeftmostThenLongest) {
  const AddedTokenMatcher m({token("<a>", 1), token("<a><b>", 2), token("a>", 3)});
  EXPECT_EQ(show(m, "x<a><b>y<a>"), "(x)[2:<a><b>](y)[1:<a>]");
  EXPECT_EQ(show(m, "a><a"), "[3:a>](<a)");
  EXPECT_EQ(show(m, ""), "");
  EXPECT_EQ(show(AddedTokenMatcher(), "plain"), "(plain)");
}

TEST(HfAddedTokens, SingleWordNeedsNoWordCharacterBesideItAndAFailedMatchStillConsumesItsText) {
  AddedToken w = token("ab", 1);
  w.single_word = true;
  const AddedTokenMatcher m({w, token("b", 2)});
  EXPECT_EQ(show(m, "ab ab. xab"), "[1:ab]( )[1:ab](. xab)");  // "b" inside the rejected "xab" is not tried
  EXPECT_EQ(show(m, "\xC3\xA9" "ab"), "(\xC3\xA9" "ab)");      // é is a word character
  EXPECT_EQ(show(m, "_ab"), "(_ab)");
}

TEST(HfAddedTokens, LstripAndRstripTakeTheWhiteSpaceBeside) {
  AddedToken l = token("<l>", 1), r = token("<r>", 2);
  l.lstrip = true;
  r.rstrip = true;
  const AddedTokenMatcher m({l, r});
  EXPECT_EQ(show(m, "a \t<l>b"), "(a)[1: \t<l>](b)");
  EXPECT_EQ(show(m, "a<r> \n b"), "(a)[2:<r> \n ](b)");
  // lstrip stops where the previous token's match ended.
  EXPECT_EQ(show(m, "<r>  <l>"), "[2:<r>  ][1:<l>]");
  EXPECT_EQ(show(m, "\xE3\x80\x80<l>"), "[1:\xE3\x80\x80<l>]");  // U+3000 is White_Space
}

TEST(HfAddedTokens, SameContentTwiceKeepsTheLastId) {
  const AddedTokenMatcher m({token("<x>", 1), token("<x>", 7)});
  EXPECT_EQ(show(m, "<x>"), "[7:<x>]");
}

// Candidates are found by memchr when every token starts with one byte, by a
// first-byte table otherwise: both must find every match, near the ends too,
// and leave text without candidates whole.
TEST(HfAddedTokens, CandidateSkipFindsEveryMatchWithOneOrManyFirstBytes) {
  const AddedTokenMatcher one({token("<|x|>", 1), token("<s>", 2)});
  const AddedTokenMatcher many({token("<|x|>", 1), token("<s>", 2), token("\n\n", 3), token("ab", 4)});
  const std::string plain(1000, 'z');
  for (const AddedTokenMatcher* m : {&one, &many}) {
    EXPECT_EQ(show(*m, plain), "(" + plain + ")");
    EXPECT_EQ(show(*m, "<<|x|<s"), "(<<|x|<s)");  // candidates that match nothing
    EXPECT_EQ(show(*m, "<|x|>"), "[1:<|x|>]");
    EXPECT_EQ(show(*m, plain + "<s>"), "(" + plain + ")[2:<s>]");
    EXPECT_EQ(show(*m, "<<s>" + plain + "<|x|><s>z"), "(<)[2:<s>](" + plain + ")[1:<|x|>][2:<s>](z)");
  }
  EXPECT_EQ(show(many, "z\n\nab<s"), "(z)[3:\n\n][4:ab](<s)");
  EXPECT_EQ(show(one, "z\n\nab<s"), "(z\n\nab<s)");
  const AddedTokenMatcher last({token("#", 5)});  // a candidate in the last byte
  EXPECT_EQ(show(last, plain + "#"), "(" + plain + ")[5:#]");
}

}  // namespace
}  // namespace sp::hf
