// The cl100k / Llama-3 / Qwen2 / o200k / Megatron scanners: exact pieces for
// the rules that tell the patterns apart; then against PCRE2 running each
// pattern's own regex (an independent engine) on an edge-case list and on
// random strings of tricky code points, once per SIMD target this build has
// and this CPU runs; then linear time on megabyte runs of
// every class; then the regex spellings and names that select each scanner.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pretoken_reference.h"
#include "regex_split.h"
#include "simd_targets.h"
#include "sp/pretokenizer.h"
#include "sp/unicode.h"

namespace sp {
namespace {

using Pieces = std::vector<std::string>;
using P = PretokenPattern;

constexpr P kScanned[] = {P::kCl100k, P::kLlama3, P::kQwen2, P::kO200k, P::kMegatronV1, P::kMegatronV2};

const char* name(P p) {
  switch (p) {
    case P::kGpt2: return "gpt2";
    case P::kCl100k: return "cl100k";
    case P::kLlama3: return "llama3";
    case P::kQwen2: return "qwen2";
    case P::kO200k: return "o200k";
    case P::kMegatronV1: return "megatron_v1";
    case P::kMegatronV2: return "megatron_v2";
  }
  return "?";
}

Pieces pieces(P p, std::string_view text) {
  Pieces out;
  for (std::string_view s : pretokenize(p, text)) out.emplace_back(s);
  return out;
}

Pieces reference_pieces(P p, std::string_view text) {
  const auto v = test::reference_pieces(p, text);
  return Pieces(v.begin(), v.end());
}

// ---- Rules, with exact pieces.

TEST(PretokenPatterns, EmptyTextHasNoPieces) {
  for (P p : kScanned) EXPECT_TRUE(pretokenize(p, "").empty()) << name(p);
}

TEST(PretokenPatterns, ContractionsIgnoreCase) {
  for (P p : {P::kCl100k, P::kLlama3, P::kQwen2}) {
    EXPECT_EQ(pieces(p, "IT'S"), (Pieces{"IT", "'S"})) << name(p);
    EXPECT_EQ(pieces(p, "we'Re you'LL I'vE"), (Pieces{"we", "'Re", " you", "'LL", " I", "'vE"})) << name(p);
    EXPECT_EQ(pieces(p, "'D'M'T"), (Pieces{"'D", "'M", "'T"})) << name(p);
    EXPECT_EQ(pieces(p, "it\u2019s"), (Pieces{"it", "\u2019s"})) << name(p);  // ’ is a prefix, not a contraction
    EXPECT_EQ(pieces(p, "'sword"), (Pieces{"'s", "word"})) << name(p);
    EXPECT_EQ(pieces(p, "'x"), (Pieces{"'x"})) << name(p);  // prefix + letters
    // U+017F LONG S folds to s; U+212A KELVIN SIGN folds to k, no contraction.
    EXPECT_EQ(pieces(p, "'\u017F"), (Pieces{"'\u017F"})) << name(p);
    EXPECT_EQ(pieces(p, "a'\u017Fb"), (Pieces{"a", "'\u017F", "b"})) << name(p);
  }
  EXPECT_EQ(pieces(P::kMegatronV1, "IT'S"), (Pieces{"IT", "'S"}));  // no contractions: prefix + letters
  EXPECT_EQ(pieces(P::kMegatronV1, "'sword"), (Pieces{"'sword"}));
}

TEST(PretokenPatterns, PrefixIsAnyNonLetterButCrLf) {
  for (P p : {P::kCl100k, P::kLlama3, P::kQwen2, P::kMegatronV1}) {
    EXPECT_EQ(pieces(p, "a\tword"), (Pieces{"a", "\tword"})) << name(p);
    EXPECT_EQ(pieces(p, "(word)"), (Pieces{"(word", ")"})) << name(p);
    EXPECT_EQ(pieces(p, "\u00A0word"), (Pieces{"\u00A0word"})) << name(p);
    EXPECT_EQ(pieces(p, "\nword"), (Pieces{"\n", "word"})) << name(p);
    EXPECT_EQ(pieces(p, "\r\nword"), (Pieces{"\r\n", "word"})) << name(p);
    EXPECT_EQ(pieces(p, "  word"), (Pieces{" ", " word"})) << name(p);
    EXPECT_EQ(pieces(p, "a  !!\n\nb"), (Pieces{"a", " ", " !!\n\n", "b"})) << name(p);
    EXPECT_EQ(pieces(p, "\t!"), (Pieces{"\t", "!"})) << name(p);
  }
}

TEST(PretokenPatterns, Digits) {
  EXPECT_EQ(pieces(P::kCl100k, "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(pieces(P::kLlama3, " 2024"), (Pieces{" ", "202", "4"}));
  EXPECT_EQ(pieces(P::kO200k, "\u0663\u0664\u0665\u0666"), (Pieces{"\u0663\u0664\u0665", "\u0666"}));
  EXPECT_EQ(pieces(P::kQwen2, "2024"), (Pieces{"2", "0", "2", "4"}));
  EXPECT_EQ(pieces(P::kMegatronV2, "12"), (Pieces{"1", "2"}));
  EXPECT_EQ(pieces(P::kCl100k, "x\u00B2\u2160"), (Pieces{"x", "\u00B2\u2160"}));  // No, Nl are \p{N}
}

TEST(PretokenPatterns, WhitespaceRuns) {
  for (P p : kScanned) {
    EXPECT_EQ(pieces(p, "a   b"), (Pieces{"a", "  ", " b"})) << name(p);
    EXPECT_EQ(pieces(p, "a \n\n  b"), (Pieces{"a", " \n\n", " ", " b"})) << name(p);
    EXPECT_EQ(pieces(p, "a\n \n1"), (Pieces{"a", "\n \n", "1"})) << name(p);
    EXPECT_EQ(pieces(p, "a   "), (Pieces{"a", "   "})) << name(p);
    EXPECT_EQ(pieces(p, "1 \u3000 2"), (Pieces{"1", " \u3000", " ", "2"})) << name(p);
    EXPECT_EQ(pieces(p, "a\u0085b"), (Pieces{"a", "\u0085b"})) << name(p);  // NEL is \s, prefix-capable
    EXPECT_EQ(pieces(p, "1\u180E2"), (Pieces{"1", "\u180E", "2"})) << name(p);  // U+180E is not \s
  }
}

// The one difference between tiktoken's cl100k (\s++$) and Llama-3's spelling.
TEST(PretokenPatterns, Cl100kKeepsFinalWhitespaceWhole) {
  EXPECT_EQ(pieces(P::kCl100k, "a\n  "), (Pieces{"a", "\n  "}));
  EXPECT_EQ(pieces(P::kLlama3, "a\n  "), (Pieces{"a", "\n", "  "}));
  EXPECT_EQ(pieces(P::kCl100k, "\n\t\n "), (Pieces{"\n\t\n "}));
  EXPECT_EQ(pieces(P::kLlama3, "\n\t\n "), (Pieces{"\n\t\n", " "}));
  // Not at the end, or ending in a line break: the same.
  for (P p : {P::kCl100k, P::kLlama3}) {
    EXPECT_EQ(pieces(p, "a\n  b"), (Pieces{"a", "\n", " ", " b"})) << name(p);
    EXPECT_EQ(pieces(p, "a  \n"), (Pieces{"a", "  \n"})) << name(p);
  }
}

TEST(PretokenPatterns, O200kSplitsLettersByCase) {
  EXPECT_EQ(pieces(P::kO200k, "HelloWorld"), (Pieces{"Hello", "World"}));
  EXPECT_EQ(pieces(P::kO200k, "XMLHttpRequest"), (Pieces{"XMLHttp", "Request"}));
  EXPECT_EQ(pieces(P::kO200k, "ABC def"), (Pieces{"ABC", " def"}));
  EXPECT_EQ(pieces(P::kO200k, "camelCase"), (Pieces{"camel", "Case"}));
  // Lo counts as upper and as lower: it joins the capitals before a word and
  // the small letters after it.
  EXPECT_EQ(pieces(P::kO200k, "\u4E2D\u6587Abc"), (Pieces{"\u4E2D\u6587Abc"}));
  EXPECT_EQ(pieces(P::kO200k, "abc\u4E2DDef"), (Pieces{"abc\u4E2D", "Def"}));
  EXPECT_EQ(pieces(P::kO200k, "\u01C5ab"), (Pieces{"\u01C5ab"}));  // Lt as upper
}

TEST(PretokenPatterns, O200kContractionsAreSuffixes) {
  EXPECT_EQ(pieces(P::kO200k, "don't"), (Pieces{"don't"}));
  EXPECT_EQ(pieces(P::kO200k, "DON'T stop"), (Pieces{"DON'T", " stop"}));
  EXPECT_EQ(pieces(P::kO200k, "we'LLx"), (Pieces{"we'LL", "x"}));
  EXPECT_EQ(pieces(P::kO200k, "it's'd"), (Pieces{"it's", "'d"}));
  EXPECT_EQ(pieces(P::kO200k, "'s"), (Pieces{"'s"}));  // prefix + letters
  EXPECT_EQ(pieces(P::kO200k, "1's"), (Pieces{"1", "'s"}));
  EXPECT_EQ(pieces(P::kMegatronV2, "don't"), (Pieces{"don", "'t"}));
}

TEST(PretokenPatterns, O200kMarksAreLettersAndPrefix) {
  const std::string acute = "\u0301";
  EXPECT_EQ(pieces(P::kO200k, "e" + acute + "t" + acute), (Pieces{"e" + acute + "t" + acute}));
  EXPECT_EQ(pieces(P::kO200k, acute + "ABC"), (Pieces{acute, "ABC"}));  // with prefix 2a fails, alone succeeds
  EXPECT_EQ(pieces(P::kO200k, acute + "Ab"), (Pieces{acute + "Ab"}));
  EXPECT_EQ(pieces(P::kO200k, "!!" + acute + "1"), (Pieces{"!!" + acute, "1"}));  // marks join punctuation
  EXPECT_EQ(pieces(P::kO200k, " " + acute), (Pieces{" " + acute}));
  EXPECT_EQ(pieces(P::kCl100k, "e" + acute + "t"), (Pieces{"e", acute + "t"}));  // cl100k: marks are other
}

TEST(PretokenPatterns, O200kSlashTrailer) {
  EXPECT_EQ(pieces(P::kO200k, "a.\n/\nb"), (Pieces{"a", ".\n/\n", "b"}));
  EXPECT_EQ(pieces(P::kO200k, "http://x"), (Pieces{"http", "://", "x"}));
  EXPECT_EQ(pieces(P::kCl100k, "a.\n/\nb"), (Pieces{"a", ".\n", "/\n", "b"}));
}

// ---- Against PCRE2.

const std::vector<std::string>& edge_cases() {
  static const std::vector<std::string> cases = {
      "", "a", "'", "''", "'s", "'S", "'ll", "'LL", "'lL", "'Ll", "'l", "'re", "'RE", "'ve", "'Ve", "'m", "'d", "'t",
      "'\u017F", "'\u212A", "'\u017Ft", "x'sy", "X'SY", "don't", "DON'T", "Don'T", "rock'n'roll", "'''", "?'s", " 's",
      "it\u2019s", "\u2018q\u2019", "hello world", "  hello", "\thello", "\u00A0hi", "\u3000hi", "\u2003x", "\u0085x",
      "a\r\nb", "a\r\n\r\nb", "\r\n", "\n\n\n", " \n \n ", "a\n ", "a \n", "a\n  ", "x \t\n\t y", "   ", "a   ",
      "1234567", " 123", "\u0663\u0664\u0665\u0666", "\u0968\u0966\u0968\u096A", "\u00B2\u00B3", "\u2160\u2161",
      "\uFF11\uFF12\uFF13\uFF14", "\u4E2D\u6587\u5B57", "\u4E2D A", "\u3053\u3093\u306B\u3061\u306F",
      "\uD55C\uAD6D\uC5B4", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F600\U0001F600 x",
      "e\u0301", "\u0301", "\u0301A", "\u0301AB", "A\u0301B", "\u0915\u093F", "\u0903", "\u20DD", "!\u0301",
      "HelloWorld", "XMLHttpRequest", "\u01C5a", "\u02B0a", "A\u02B0B", "\u00DF", "\u1E9E", "\u0130stanbul",
      "a/b//c", "a.\n/\nb", "://", "$x", "a\u001Cb", "a\u000Bb\u000C", "\u2028\u2029", "\u202F\u205F", "\u1680x",
      "a\u180Eb", " \u180E", "!!!\n\n", " !!!\r\n", "x ! y", "\u00A0!", "\t\t!", "a\u00A0\u00A0b"};
  return cases;
}

TEST(PretokenPatterns, EdgeCasesMatchPcre2) {
  test::for_each_simd_target([](const std::string&) {
    for (P p : kScanned) {
      for (const std::string& text : edge_cases()) {
        EXPECT_EQ(pieces(p, text), reference_pieces(p, text)) << name(p) << " on \"" << text << "\"";
      }
    }
  });
}

std::string random_text(std::mt19937& rng, size_t max_chars) {
  const auto& cps = test::tricky_alphabet();
  std::uniform_int_distribution<size_t> pick(0, cps.size() - 1);
  std::string s;
  const size_t n = rng() % (max_chars + 1);
  for (size_t i = 0; i < n; ++i) s += test::utf8(cps[pick(rng)]);
  return s;
}

TEST(PretokenPatterns, RandomTextMatchesPcre2) {
  test::for_each_simd_target([](const std::string&) {
    std::mt19937 rng(20261130);
    for (int i = 0; i < 100000; ++i) {
      const std::string text = random_text(rng, 12);
      for (P p : kScanned) {
        ASSERT_EQ(pieces(p, text), reference_pieces(p, text)) << name(p) << " on \"" << text << "\"";
      }
    }
  });
}

// Longer texts for the ASCII fast path (16 bytes at a time): ASCII runs of
// every class and length, crossing 8-, 16- and 32-byte boundaries, with the
// tricky characters (non-ASCII letters, marks, digits and spaces next to
// them, apostrophes, CR/LF, slashes) dropped in at any offset.
std::string run_text(std::mt19937& rng, size_t max_runs) {
  static const std::vector<std::string> kRunUnits = {"a", "z", "A", "Z", "0", "9", " ", "\t", "\n", "\r",
                                                     ".", "'", "/", "(", "-", "_", "\v", "\f", "\x1F", "~"};
  const auto& cps = test::tricky_alphabet();
  std::string s;
  const size_t runs = rng() % (max_runs + 1);
  for (size_t r = 0; r < runs; ++r) {
    switch (rng() % 6) {
      case 0:  // one tricky character
        s += test::utf8(cps[rng() % cps.size()]);
        break;
      case 1: {  // any ASCII, byte by byte
        const size_t n = 1 + rng() % 20;
        for (size_t i = 0; i < n; ++i) s += static_cast<char>(rng() % 128);
        break;
      }
      case 2: {  // a word: capitalised, lower, upper or camel case
        const size_t n = 1 + rng() % 24;
        const unsigned shape = rng() % 4;
        for (size_t i = 0; i < n; ++i) {
          const bool up = shape == 2 || (shape == 0 && i == 0) || (shape == 3 && rng() % 3 == 0);
          s += static_cast<char>((up ? 'A' : 'a') + rng() % 26);
        }
        break;
      }
      default: {  // a run of one unit, 1 to 40 long
        const std::string& unit = kRunUnits[rng() % kRunUnits.size()];
        const size_t n = 1 + rng() % 40;
        for (size_t i = 0; i < n; ++i) s += unit;
      }
    }
  }
  return s;
}

TEST(PretokenPatterns, LongAsciiRunsMatchPcre2) {
  test::for_each_simd_target([](const std::string&) {
    std::mt19937 rng(16);
    for (int i = 0; i < 30000; ++i) {
      const std::string text = run_text(rng, 8);
      for (P p : kScanned) {
        ASSERT_EQ(pieces(p, text), reference_pieces(p, text)) << name(p) << " on \"" << text << "\"";
      }
    }
  });
}

// Every suffix of a long mixed text, so that each piece start meets the
// text's end at every distance (the fast path needs 16 bytes ahead).
TEST(PretokenPatterns, EverySuffixMatchesPcre2) {
  test::for_each_simd_target([](const std::string&) {
    std::mt19937 rng(32);
    for (int i = 0; i < 300; ++i) {
      const std::string text = run_text(rng, 10);
      for (size_t from = 0; from < text.size(); ++from) {
        if ((static_cast<uint8_t>(text[from]) & 0xC0) == 0x80) continue;  // not a character boundary
        const std::string_view tail = std::string_view(text).substr(from);
        for (P p : kScanned) {
          ASSERT_EQ(pieces(p, tail), reference_pieces(p, tail)) << name(p) << " on \"" << tail << "\"";
        }
      }
    }
  });
}

// GPT-2's scanner against its tiktoken spelling, and the two GPT-2 spellings
// against each other (they split alike).
TEST(PretokenPatterns, Gpt2SpellingsMatchPcre2) {
  const RegexSplitter classic(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const std::string text = random_text(rng, 12);
    std::vector<std::string_view> a;
    classic.split(text, SplitBehavior::kIsolated, false, a);
    ASSERT_EQ(pieces(P::kGpt2, text), Pieces(a.begin(), a.end())) << text;
    ASSERT_EQ(pieces(P::kGpt2, text), reference_pieces(P::kGpt2, text)) << text;
  }
}

TEST(PretokenPatterns, Cl100kAndLlama3DifferOnlyOnFinalWhitespace) {
  std::mt19937 rng(3);
  int differ = 0;
  for (int i = 0; i < 50000; ++i) {
    const std::string text = random_text(rng, 10);
    const Pieces a = pieces(P::kCl100k, text), b = pieces(P::kLlama3, text);
    if (a == b) continue;
    ++differ;
    // They agree up to the final white-space run, which cl100k keeps whole.
    ASSERT_GE(b.size(), 2u) << text;
    ASSERT_EQ(Pieces(b.begin(), b.end() - 2), Pieces(a.begin(), a.end() - 1)) << text;
    ASSERT_EQ(b[b.size() - 2] + b.back(), a.back()) << text;
    ASSERT_NE(b[b.size() - 2].find_first_of("\r\n"), std::string::npos) << text;
  }
  EXPECT_GT(differ, 0);
}

// ---- The 64-byte windows of both shapes: for_each_pretoken(p, ...) against
// the scanner one piece at a time (pretokenize), once per SIMD target.

constexpr P kWindowed[] = {P::kCl100k, P::kLlama3, P::kQwen2, P::kO200k, P::kMegatronV1, P::kMegatronV2};

// Views into the text, not copies: these tests compare millions of texts'
// pieces, once per SIMD target.
using Views = std::vector<std::string_view>;

Views window_pieces(P p, std::string_view text) {
  Views out;
  for_each_pretoken(p, text, [&](size_t at, size_t n, const char* padded) {
    if (padded && std::string_view(padded, n) != text.substr(at, n))
      ADD_FAILURE() << name(p) << " at " << at << ": padded bytes '" << std::string_view(padded, n) << "'";
    out.push_back(text.substr(at, n));
  });
  return out;
}

// Whether the window cuts `text` where the scanner does, and gives the bytes
// it pads right. Both sides are views into `text`, so equal (start, size)
// pairs are equal pieces: the check compares integers in a buffer kept
// between calls, where comparing window_pieces' views allocated and ran
// memcmp per piece (40% of these tests' time natively, most of it under
// ASan). A failure shows both lists of pieces.
::testing::AssertionResult window_agrees(P p, std::string_view text) {
  static thread_local std::vector<std::pair<const char*, size_t>> cuts;
  cuts.clear();
  bool padded_ok = true;
  for_each_pretoken(p, text, [&](size_t at, size_t n, const char* padded) {
    if (padded && std::memcmp(padded, text.data() + at, n) != 0) padded_ok = false;
    cuts.emplace_back(text.data() + at, n);
  });
  const Views want = pretokenize(p, text);
  bool same = padded_ok && cuts.size() == want.size();
  for (size_t i = 0; same && i < want.size(); ++i) {
    same = cuts[i].first == want[i].data() && cuts[i].second == want[i].size();
  }
  if (same) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << name(p) << " on \"" << text << "\": window "
                                       << ::testing::PrintToString(window_pieces(p, text)) << ", scanner "
                                       << ::testing::PrintToString(want) << (padded_ok ? "" : " (bad padded bytes)");
}

// Mostly ASCII (else the window declines at its first 8 bytes), with every
// class the window tells apart, contractions in both cases and after either
// case, case changes inside words and slashes after punctuation and line
// breaks (the o200k shape), and a few multi-byte characters: White_Space
// (U+00A0, U+3000), letters of each case class (é É ß, ǅ Lt, ʰ Lm, ſ), a
// combining mark (U+0301), CJK, emoji.
std::string window_text(std::mt19937& rng, size_t max_bytes) {
  static const std::vector<std::string> kUnits = {
      " ", " ", " ", "\t", "\r", "\n", "\n", "\v", "\f", "0", "1", "9", "a", "e", "s", "z", "A", "L", "S", "Z",
      "'", "'s", "'LL", "'re", "'Ve", "'t", "'D", "'m", "'l", "'r", ".", ",", "!", "(", ")", "-", "/", "\"", "_",
      "\x1F", "\r\n", "  ", "\n\n", "hello", "World", "123456", "...", "ABc", "aBC", "HTTPServer", "McDonald's",
      "I'M", "DON'T", "x/y//\n", "//", "\n/", "a1B2c", "Hello", "\xC2\xA0", "\xE3\x80\x80", "\xC3\xA9",
      "\xC3\x89", "\xC3\x9F", "\xC7\x85", "\xCA\xB0", "\xCC\x81", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xC5\xBF"};
  const size_t n = rng() % (max_bytes + 1);
  std::string s;
  while (s.size() < n) {
    const std::string& u = kUnits[rng() % kUnits.size()];
    // Multi-byte units one time in 4 they come up.
    if (static_cast<uint8_t>(u[0]) >= 0x80 && rng() % 4 != 0) continue;
    s += u;
  }
  return s;
}

TEST(PretokenPatterns, WindowMatchesScannerOnRandomText) {
  test::for_each_simd_target([](const std::string& target) {
    std::mt19937 rng(20261201);
    for (int i = 0; i < 6000; ++i) {
      const std::string text = window_text(rng, 300);
      for (P p : kWindowed) {
        ASSERT_TRUE(window_agrees(p, text)) << target;
      }
    }
  });
}

// Each kind of piece with the window's boundaries (64, 128 bytes from the
// start) at each of its bytes: a filler of k bytes, the piece, then what
// may follow it.
TEST(PretokenPatterns, WindowBoundariesInsideEveryPiece) {
  const std::vector<std::string> fillers = {"x", ".", "7", " ", "\n", "ab ", "a.", " 1", "aB", "/"};
  const std::vector<std::string> kinds = {
      "hello", " hello", "(hello", "\thello", ".x", "12345678", "1", " !!!\r\n\r\n", "...\n", "!!", " (", "it's",
      "IT'LL", "'re", "'s", "''s", " 's", "   \n\n  \t x", "  \r\n", "       ", "\n\n\n", " \n \n ", "\t\t.",
      "  1", "\xC2\xA0x", "\xE3\x80\x80", "\xE4\xB8\xAD\xE6\x96\x87", "\xF0\x9F\x98\x80", "\xC3\xA9t\xC3\xA9",
      "HTTPServer", "McDonald's", "DON'T", " I'M", "aBC", "x's's", "it'll've", ".\n/\n/.x", " //\n/", "A\xCC\x81" "b",
      "\xC7\x85x", "a\xCA\xB0" "B"};
  const std::vector<std::string> tails = {"", "x", " y", "\xC3\xA9", "\n", "9", ".", " ", "\xC2\xA0",
                                          "B", "'", "/", "\xCC\x81", "\xC3\x89"};
  test::for_each_simd_target([&](const std::string& target) {
    for (const std::string& filler : fillers) {
      for (const std::string& kind : kinds) {
        for (size_t k = 40; k < 136; ++k) {
          if (k == 72) k = 100;  // the 64 and 128 boundaries
          std::string head;
          while (head.size() < k) head += filler;
          head.resize(k);
          for (const std::string& tail : tails) {
            const std::string text = head + kind + tail;
            for (P p : kWindowed) {
              ASSERT_TRUE(window_agrees(p, text)) << target;
            }
          }
        }
      }
    }
  });
}

// White space at the very end: every run of up to 6 of space, tab, CR and
// LF (and slash, the o200k shape's trailer), after each kind of piece, with
// the text's end anywhere in a window.
TEST(PretokenPatterns, WindowKeepsTheEndsWhiteSpace) {
  std::vector<std::string> runs = {""};
  for (size_t from = 0, len = 1; len <= 6; ++len) {
    const size_t to = runs.size();
    for (size_t i = from; i < to; ++i) {
      for (const char* c : {" ", "\t", "\r", "\n", "/"}) runs.push_back(runs[i] + c);
    }
    from = to;
  }
  const std::vector<std::string> heads = {"", "x", ".", "x.", "1", "'s", "I'M", "aB", "x/",
                                          std::string(57, 'a') + " b", std::string(61, '.'),
                                          std::string(120, ' ') + "z"};
  test::for_each_simd_target([&](const std::string& target) {
    for (const std::string& head : heads) {
      for (const std::string& run : runs) {
        const std::string text = head + run;
        for (P p : kWindowed) {
          ASSERT_TRUE(window_agrees(p, text)) << target;
        }
      }
    }
  });
}

TEST(PretokenPatterns, WindowFunctions) {
  EXPECT_EQ(pretoken_window_function(P::kGpt2), &gpt2_pretoken_window);
  PretokenWindow w;
  for (P p : kWindowed) {
    const PretokenWindowFunction window = pretoken_window_function(p);
    ASSERT_NE(window, nullptr) << name(p);
    // A white run that reaches the window's end: only "a" is whole.
    EXPECT_EQ(window("a" + std::string(63, ' ') + "b", 0, w), 1u) << name(p);
    EXPECT_EQ(w.starts, 1u) << name(p);
    // Non-ASCII within the first 8 bytes: the window declines at once.
    EXPECT_EQ(window("ab (cd\xC3\xA9 and more", 0, w), 0u) << name(p);
    // "ab" and " (" are whole; "cdefgh" may go on into the multi-byte letter.
    EXPECT_EQ(window("ab (cdefgh\xC3\xA9 and more", 0, w), 4u) << name(p);
    EXPECT_EQ(w.starts, 0b101u) << name(p);
  }
  // At the text's end every piece is whole; cl100k keeps the final run
  // whole (`\s++$`), Llama-3 cuts it after its last line break.
  EXPECT_EQ(pretoken_window_function(P::kCl100k)("x.\n\t\n ", 0, w), 6u);
  EXPECT_EQ(w.starts, 0b1011u);  // "x", ".\n", "\t\n "
  EXPECT_EQ(pretoken_window_function(P::kLlama3)("x.\n\t\n ", 0, w), 6u);
  EXPECT_EQ(w.starts, 0b101011u);  // "x", ".\n", "\t\n", " "
  // The o200k shape: a case change starts a piece, contractions end one
  // (kO200k) or start their own (kMegatronV2: none, an apostrophe prefix).
  const PretokenWindowFunction o200k = pretoken_window_function(P::kO200k);
  const PretokenWindowFunction v2 = pretoken_window_function(P::kMegatronV2);
  EXPECT_EQ(o200k("McDonald's I'M", 0, w), 14u);
  EXPECT_EQ(w.starts, 0b10000000101u);  // "Mc", "Donald's", " I'M"
  EXPECT_EQ(v2("McDonald's I'M", 0, w), 14u);
  EXPECT_EQ(w.starts, 0b1010100000101u);  // "Mc", "Donald", "'s", " I", "'M"
  // "HTTPServer" is one piece (U+ then W+); the slash after a trailer's line
  // break is the trailer's, so "." after it starts a piece, a prefix.
  EXPECT_EQ(o200k("HTTPServer.\n/.x", 0, w), 15u);
  EXPECT_EQ(w.starts, 0b10010000000001u);  // "HTTPServer", ".\n/", ".x"
  // An apostrophe after a letter whose contraction needs the byte after the
  // window ("'ll" or "'l"): starts from it on are left to the scanner.
  EXPECT_EQ(o200k("x " + std::string(60, 'a') + "'ll and more", 0, w), 1u);
  EXPECT_EQ(w.starts, 1u);
}

// ---- Linear time: a megabyte run of each class scans in one pass.

TEST(PretokenPatterns, MegabyteRunsScanInLinearTime) {
  const std::vector<std::string> units = {"a",  "A",  "7",  " ",  "\n", ".", "\u0301", "\u4E2D",
                                          "aB", " \n", "'s", "/\n", "\u0301A"};
  const auto start = std::chrono::steady_clock::now();
  for (P p : kScanned) {
    for (const std::string& unit : units) {
      std::string text;
      while (text.size() < (size_t{1} << 20)) text += unit;
      text += "x";
      size_t n = 0, pos = 0;
      while (pos < text.size()) {
        const size_t next = pretoken_end(p, text, pos);
        if (next <= pos) break;  // no progress: reported below
        pos = next;
        ++n;
      }
      ASSERT_EQ(pos, text.size()) << name(p) << " stalled in a run of \"" << unit << "\"";
      EXPECT_GT(n, 0u);
    }
  }
  // 78 megabyte-sized texts: linear scans take well under a second each
  // even under sanitizers; a quadratic one would take hours.
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 60.0);
}

TEST(PretokenPatterns, PiecesConcatenateToTheText) {
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::string text;
    for (int k = 0; k < 20; ++k) text += random_text(rng, 12);
    for (P p : kScanned) {
      std::string joined;
      for (std::string_view s : pretokenize(p, text)) {
        ASSERT_FALSE(s.empty());
        joined += s;
      }
      ASSERT_EQ(joined, text) << name(p);
    }
  }
}

// ---- Selecting a scanner.

TEST(PretokenPatterns, RegexSpellingsFromTheFiles) {
  // tiktoken (openai_public.py)
  EXPECT_EQ(pretoken_pattern_for_regex(
                R"('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)"),
            P::kGpt2);
  EXPECT_EQ(pretoken_pattern_for_regex(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"),
            P::kGpt2);
  EXPECT_EQ(pretoken_pattern_for_regex(R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|)"
                                       R"( ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)"),
            P::kCl100k);
  // Llama-3's tokenizer.json (and tiktoken's cl100k before the possessive rewrite)
  EXPECT_EQ(pretoken_pattern_for_regex(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|)"
                                       R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
            P::kLlama3);
  EXPECT_EQ(pretoken_pattern_for_regex(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|)"
                                       R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
            P::kQwen2);
  EXPECT_EQ(pretoken_pattern_for_regex(
                R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
                R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
                R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
                R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
                R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
            P::kO200k);
  // Megatron-LM's PATTERN_TIKTOKEN_V1 / _V2
  EXPECT_EQ(pretoken_pattern_for_regex(
                R"([^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)"),
            P::kMegatronV1);
  EXPECT_EQ(pretoken_pattern_for_regex(
                R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|)"
                R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|)"
                R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
            P::kMegatronV2);
  EXPECT_EQ(pretoken_pattern_for_regex(R"(\p{L}+)"), std::nullopt);
  EXPECT_EQ(pretoken_pattern_for_regex(""), std::nullopt);
  // A character off is another regex.
  std::string near(pretoken_regex(P::kQwen2));
  near.back() = '*';
  EXPECT_EQ(pretoken_pattern_for_regex(near), std::nullopt);
}

TEST(PretokenPatterns, EveryPatternsRegexSelectsIt) {
  for (int i = 0; i <= static_cast<int>(P::kMegatronV2); ++i) {
    const auto p = static_cast<P>(i);
    EXPECT_EQ(pretoken_pattern_for_regex(pretoken_regex(p)), p) << name(p);
    EXPECT_NO_THROW(RegexSplitter{pretoken_regex(p)}) << name(p);
  }
}

TEST(PretokenPatterns, EndFunctionIsThePatternsScanner) {
  const std::string text = "He's   got 12345 caf\xC3\xA9s\r\n\n  \xE4\xB8\xAD\xE6\x96\x87 ABCdef/\n!! x  ";
  for (int i = 0; i <= static_cast<int>(P::kMegatronV2); ++i) {
    const auto p = static_cast<P>(i);
    const PretokenEndFunction end = pretoken_end_function(p);
    std::vector<std::string_view> pieces;
    for (size_t pos = 0; pos < text.size(); pos = end(text, pos)) pieces.push_back(std::string_view(text).substr(pos));
    std::vector<std::string_view> expected;
    for (size_t pos = 0; pos < text.size(); pos = pretoken_end(p, text, pos))
      expected.push_back(std::string_view(text).substr(pos));
    EXPECT_EQ(pieces, expected) << name(p);
  }
}

TEST(PretokenPatterns, Names) {
  for (const char* n : {"gpt2", "r50k_base", "p50k_base", "p50k_edit"}) {
    EXPECT_EQ(pretoken_pattern_by_name(n), P::kGpt2) << n;
  }
  EXPECT_EQ(pretoken_pattern_by_name("cl100k_base"), P::kCl100k);
  EXPECT_EQ(pretoken_pattern_by_name("o200k_base"), P::kO200k);
  EXPECT_EQ(pretoken_pattern_by_name("v1"), P::kMegatronV1);
  EXPECT_EQ(pretoken_pattern_by_name("v2"), P::kMegatronV2);
  EXPECT_EQ(pretoken_pattern_by_name("o200k_harmony"), P::kO200k);  // same pat_str as o200k_base
  EXPECT_EQ(pretoken_pattern_by_name("llama3"), std::nullopt);
  EXPECT_EQ(pretoken_pattern_by_name("CL100K_BASE"), std::nullopt);
  EXPECT_EQ(pretoken_pattern_by_name(""), std::nullopt);
}

}  // namespace
}  // namespace sp
