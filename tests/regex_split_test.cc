// The PCRE2 splitter: matches as the onig crate's find_iter finds them (empty
// matches included), the five Split behaviours of Hugging Face tokenizers,
// inversion, Unicode mode, compile errors, and concurrent use.
#include "regex_split.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "sp/error.h"

namespace sp {
namespace {

using Pieces = std::vector<std::string>;
using Matches = std::vector<std::pair<size_t, size_t>>;

Pieces split(const RegexSplitter& r, std::string_view text, SplitBehavior b, bool invert = false) {
  std::vector<std::string_view> v;
  r.split(text, b, invert, v);
  return Pieces(v.begin(), v.end());
}

Matches matches(const RegexSplitter& r, std::string_view text) {
  Matches m;
  r.find_matches(text, m);
  return m;
}

// tokenizers' own examples for NormalizedString::split on '-'.
TEST(RegexSplit, Behaviors) {
  const RegexSplitter dash("-");
  const std::string_view text = "The-final--countdown";
  EXPECT_EQ(split(dash, text, SplitBehavior::kRemoved), (Pieces{"The", "final", "countdown"}));
  EXPECT_EQ(split(dash, text, SplitBehavior::kIsolated), (Pieces{"The", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(dash, text, SplitBehavior::kMergedWithPrevious), (Pieces{"The-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(dash, text, SplitBehavior::kMergedWithNext), (Pieces{"The", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(dash, text, SplitBehavior::kContiguous), (Pieces{"The", "-", "final", "--", "countdown"}));
}

TEST(RegexSplit, BehaviorsAtTheEdges) {
  const RegexSplitter dash("-");
  EXPECT_EQ(split(dash, "-a-", SplitBehavior::kMergedWithPrevious), (Pieces{"-", "a-"}));
  EXPECT_EQ(split(dash, "-a-", SplitBehavior::kMergedWithNext), (Pieces{"-a", "-"}));
  EXPECT_EQ(split(dash, "--", SplitBehavior::kContiguous), (Pieces{"--"}));
  EXPECT_EQ(split(dash, "--", SplitBehavior::kRemoved), Pieces{});
  EXPECT_EQ(split(dash, "", SplitBehavior::kIsolated), Pieces{});
  EXPECT_EQ(split(dash, "abc", SplitBehavior::kRemoved), (Pieces{"abc"}));
}

// invert: the gaps are what the behaviour acts on (GPT-3.5-style Removed +
// invert keeps only the matches).
TEST(RegexSplit, Invert) {
  const RegexSplitter words(R"(\p{L}+)");
  EXPECT_EQ(split(words, "ab, cd!", SplitBehavior::kRemoved, true), (Pieces{"ab", "cd"}));
  EXPECT_EQ(split(words, "ab, cd!", SplitBehavior::kRemoved, false), (Pieces{", ", "!"}));
  // Inverted, ", " and "!" are the delimiters that merge.
  EXPECT_EQ(split(words, "ab, cd!", SplitBehavior::kMergedWithPrevious, true), (Pieces{"ab, ", "cd!"}));
  EXPECT_EQ(split(words, "ab, cd!", SplitBehavior::kMergedWithNext, true), (Pieces{"ab", ", cd", "!"}));
}

TEST(RegexSplit, EmptyMatchesAsOnigFindIter) {
  const RegexSplitter stars("a*");
  // An empty match at 0 counts; the one right after "aaa" is dropped.
  EXPECT_EQ(matches(stars, "baaac"), (Matches{{0, 0}, {1, 4}, {5, 5}}));
  EXPECT_EQ(split(stars, "baaac", SplitBehavior::kIsolated), (Pieces{"b", "aaa", "c"}));
  EXPECT_EQ(matches(stars, ""), (Matches{{0, 0}}));
  // After a non-empty match the next empty one is dropped wherever it is
  // (the onig crate keeps a flag, not a position).
  EXPECT_EQ(matches(RegexSplitter("x|(?=c)"), "xbc"), (Matches{{0, 1}}));
  EXPECT_EQ(matches(RegexSplitter("x|(?=c)"), "bc"), (Matches{{1, 1}}));
  // An empty match moves on a whole character, never into one.
  EXPECT_EQ(matches(RegexSplitter("(?=b)|\u00E9"), "\u00E9\u00E9b"), (Matches{{0, 2}, {2, 4}}));
  EXPECT_EQ(matches(RegexSplitter(""), "\u4E2D"), (Matches{{0, 0}, {3, 3}}));
}

TEST(RegexSplit, UnicodeAndLookahead) {
  const RegexSplitter r(R"( ?\p{L}+|\p{N}+|\s+(?!\S)|\s+)");
  EXPECT_EQ(split(r, "caf\u00E9 \u4E2D\u6587  x 12", SplitBehavior::kIsolated),
            (Pieces{"caf\u00E9", " \u4E2D\u6587", " ", " x", " ", "12"}));
  EXPECT_EQ(split(RegexSplitter("(?i)'s"), "A'S'\u017F", SplitBehavior::kIsolated),
            (Pieces{"A", "'S", "'\u017F"}));
  // `$` ends lines, as in Oniguruma's Ruby syntax.
  EXPECT_EQ(matches(RegexSplitter("a$"), "a\na"), (Matches{{0, 1}, {2, 3}}));
}

// \s and \S are White_Space, as in Oniguruma: U+0085 in, U+180E out (PCRE2's
// own \s holds both), inside classes too; escaped backslashes stay literal.
TEST(RegexSplit, WhiteSpaceIsOniguruma) {
  EXPECT_EQ(matches(RegexSplitter(R"(\s+)"), "a\u180E\u0085 \u3000b"), (Matches{{4, 10}}));
  EXPECT_EQ(matches(RegexSplitter(R"(\S+)"), "a\u180E\u0085b"), (Matches{{0, 4}, {6, 7}}));
  EXPECT_EQ(matches(RegexSplitter(R"([^\s\p{L}]+)"), "1\u180E \u00852"), (Matches{{0, 4}, {7, 8}}));
  EXPECT_EQ(matches(RegexSplitter(R"([\s]+)"), "\u180E\u2028"), (Matches{{3, 6}}));
  EXPECT_EQ(matches(RegexSplitter(R"([]\s]+)"), "x] \u180E"), (Matches{{1, 3}}));
  EXPECT_EQ(matches(RegexSplitter(R"(\\s)"), "\\s \\ "), (Matches{{0, 2}}));
  EXPECT_EQ(matches(RegexSplitter(R"(\s+(?!\S)|\s+)"), "a \u180E"), (Matches{{1, 2}}));
}

TEST(RegexSplit, CompileErrorsNameThePattern) {
  try {
    RegexSplitter bad("(ab");
    FAIL() << "compiled";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("does not compile at offset 3"), std::string::npos) << what;
    EXPECT_NE(what.find("(ab"), std::string::npos) << what;
  }
  EXPECT_THROW(RegexSplitter(R"(\p{Nope})"), Error);
  try {
    RegexSplitter bad(R"(\s(ab)");
    FAIL() << "compiled";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not compile: "), std::string::npos) << e.what();  // no offset
    EXPECT_NE(std::string(e.what()).find(R"(\s(ab)"), std::string::npos) << e.what();
  }
}

TEST(RegexSplit, InvalidUtf8IsAnError) {
  const RegexSplitter r("a");
  Matches m;
  EXPECT_THROW(r.find_matches("a\xFF" "a", m), Error);
}

TEST(RegexSplit, ConcurrentUseGivesTheSameMatches) {
  const RegexSplitter r(R"(\p{L}+|\p{N}{1,3}|\s+(?!\S)|\s+|[^\s\p{L}\p{N}]+)");
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "word" + std::to_string(i) + ", \u4E2D  ";
  const Matches want = matches(r, text);
  ASSERT_GT(want.size(), 8000u);
  std::vector<Matches> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) {
    threads.emplace_back([&r, &text, &g] {
      for (int k = 0; k < 5; ++k) r.find_matches(text, g);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

TEST(RegexSplit, MovedSplitterStillMatches) {
  RegexSplitter a("b+");
  RegexSplitter b(std::move(a));
  EXPECT_EQ(matches(b, "abbc"), (Matches{{1, 3}}));
  EXPECT_EQ(b.pattern(), "b+");
}

}  // namespace
}  // namespace sp
