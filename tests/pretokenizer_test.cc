// GPT-2 pre-tokenization, rule by rule, against exact expected pieces; then
// against a literal transcription of the regex (every alternative tried in
// order, with the backtracking of \s+(?!\S)) on random text, once per SIMD
// target this build has and this CPU runs; the SIMD kernels and their choice;
// then the piece structure of megabyte-long pathological inputs.
#include <gtest/gtest.h>

#include <bit>
#include <cctype>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "hwy/highway.h"
#include "pretokenizer_simd.h"
#include "simd_targets.h"
#include "sp/error.h"
#include "sp/pretokenizer.h"
#include "sp/unicode.h"
#include "test_support.h"

namespace sp {
namespace {

using Pieces = std::vector<std::string>;

Pieces pieces(std::string_view text) {
  Pieces out;
  for (std::string_view p : gpt2_pretokenize(text)) out.emplace_back(p);
  return out;
}

TEST(Pretokenizer, EmptyTextHasNoPieces) {
  EXPECT_TRUE(gpt2_pretokenize("").empty());
}

TEST(Pretokenizer, ContractionsAlone) {
  for (const char* c : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
    EXPECT_EQ(pieces(c), Pieces{c}) << c;
  }
}

TEST(Pretokenizer, ContractionsAfterLetters) {
  EXPECT_EQ(pieces("it's"), (Pieces{"it", "'s"}));
  EXPECT_EQ(pieces("don't"), (Pieces{"don", "'t"}));
  EXPECT_EQ(pieces("we're"), (Pieces{"we", "'re"}));
  EXPECT_EQ(pieces("I've"), (Pieces{"I", "'ve"}));
  EXPECT_EQ(pieces("I'm"), (Pieces{"I", "'m"}));
  EXPECT_EQ(pieces("you'll"), (Pieces{"you", "'ll"}));
  EXPECT_EQ(pieces("he'd"), (Pieces{"he", "'d"}));
  EXPECT_EQ(pieces("1's"), (Pieces{"1", "'s"}));
  EXPECT_EQ(pieces("He said it's fine"), (Pieces{"He", " said", " it", "'s", " fine"}));
}

TEST(Pretokenizer, ContractionTakesOnlyItsSuffix) {
  EXPECT_EQ(pieces("'lll"), (Pieces{"'ll", "l"}));
  EXPECT_EQ(pieces("'st"), (Pieces{"'s", "t"}));
  EXPECT_EQ(pieces("'rex"), (Pieces{"'re", "x"}));
  EXPECT_EQ(pieces("'s's"), (Pieces{"'s", "'s"}));
  EXPECT_EQ(pieces("'re'"), (Pieces{"'re", "'"}));
  EXPECT_EQ(pieces("they'llx"), (Pieces{"they", "'ll", "x"}));
}

TEST(Pretokenizer, ContractionsAreCaseSensitive) {
  EXPECT_EQ(pieces("IT'S"), (Pieces{"IT", "'", "S"}));
  EXPECT_EQ(pieces("'S"), (Pieces{"'", "S"}));
  EXPECT_EQ(pieces("'Re"), (Pieces{"'", "Re"}));
  EXPECT_EQ(pieces("'LL"), (Pieces{"'", "LL"}));
  EXPECT_EQ(pieces("WE'rE"), (Pieces{"WE", "'", "rE"}));
}

TEST(Pretokenizer, IncompleteContractionsAreOtherPlusLetters) {
  EXPECT_EQ(pieces("'"), (Pieces{"'"}));
  EXPECT_EQ(pieces("'l"), (Pieces{"'", "l"}));
  EXPECT_EQ(pieces("'r"), (Pieces{"'", "r"}));
  EXPECT_EQ(pieces("'v"), (Pieces{"'", "v"}));
  EXPECT_EQ(pieces("'x"), (Pieces{"'", "x"}));
  EXPECT_EQ(pieces("x'"), (Pieces{"x", "'"}));
  EXPECT_EQ(pieces("rock'n'roll"), (Pieces{"rock", "'", "n", "'", "roll"}));
}

TEST(Pretokenizer, CurlyApostropheIsNotAContraction) {
  EXPECT_EQ(pieces("it\u2019s"), (Pieces{"it", "\u2019", "s"}));
  EXPECT_EQ(pieces("\u2018quoted\u2019"), (Pieces{"\u2018", "quoted", "\u2019"}));
}

TEST(Pretokenizer, ApostropheJoinsARunOfOthers) {
  EXPECT_EQ(pieces("?'s"), (Pieces{"?'", "s"}));
  EXPECT_EQ(pieces("'''"), (Pieces{"'''"}));
  EXPECT_EQ(pieces("''s"), (Pieces{"''", "s"}));
  EXPECT_EQ(pieces("\"'s"), (Pieces{"\"'", "s"}));
  // The space prefix binds to the apostrophe, which then is an "other".
  EXPECT_EQ(pieces(" 's"), (Pieces{" '", "s"}));
  EXPECT_EQ(pieces("' s"), (Pieces{"'", " s"}));
}

TEST(Pretokenizer, PrefixIsOnlyU0020) {
  EXPECT_EQ(pieces(" word"), (Pieces{" word"}));
  EXPECT_EQ(pieces("hello world"), (Pieces{"hello", " world"}));
  EXPECT_EQ(pieces(" 42"), (Pieces{" 42"}));
  EXPECT_EQ(pieces(" !!"), (Pieces{" !!"}));
  EXPECT_EQ(pieces("a ,b"), (Pieces{"a", " ,", "b"}));
  EXPECT_EQ(pieces("\tword"), (Pieces{"\t", "word"}));
  EXPECT_EQ(pieces("\nword"), (Pieces{"\n", "word"}));
  EXPECT_EQ(pieces("\u00A0word"), (Pieces{"\u00A0", "word"}));
  EXPECT_EQ(pieces("\u3000word"), (Pieces{"\u3000", "word"}));
  EXPECT_EQ(pieces("\t42"), (Pieces{"\t", "42"}));
  EXPECT_EQ(pieces("\t!"), (Pieces{"\t", "!"}));
}

TEST(Pretokenizer, LettersNumbersOthersSplit) {
  EXPECT_EQ(pieces("123abc"), (Pieces{"123", "abc"}));
  EXPECT_EQ(pieces("abc123"), (Pieces{"abc", "123"}));
  EXPECT_EQ(pieces("3.14"), (Pieces{"3", ".", "14"}));
  EXPECT_EQ(pieces("1,000,000"), (Pieces{"1", ",", "000", ",", "000"}));
  EXPECT_EQ(pieces("foo_bar()"), (Pieces{"foo", "_", "bar", "()"}));
  EXPECT_EQ(pieces("x+=1;"), (Pieces{"x", "+=", "1", ";"}));
  EXPECT_EQ(pieces("a...b"), (Pieces{"a", "...", "b"}));
  EXPECT_EQ(pieces("email@example.com"), (Pieces{"email", "@", "example", ".", "com"}));
}

TEST(Pretokenizer, NonAsciiNumbers) {
  EXPECT_EQ(pieces(" \u0663\u0664"), (Pieces{" \u0663\u0664"}));          // Arabic-Indic ٣٤
  EXPECT_EQ(pieces("\u216B2"), (Pieces{"\u216B2"}));                      // Ⅻ (Nl) then 2
  EXPECT_EQ(pieces("x\u00B2"), (Pieces{"x", "\u00B2"}));                  // superscript two
  EXPECT_EQ(pieces("\u2460 \u2461"), (Pieces{"\u2460", " \u2461"}));      // ① ②
  EXPECT_EQ(pieces("\u0968\u0966\u0968\u096A"), (Pieces{"\u0968\u0966\u0968\u096A"}));  // २०२४
  EXPECT_EQ(pieces("\U0001D7CE\U0001D7CF"), (Pieces{"\U0001D7CE\U0001D7CF"}));  // math digits
}

TEST(Pretokenizer, WhitespaceRunBeforeWordKeepsLastSpaceForTheWord) {
  EXPECT_EQ(pieces("a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(pieces("a  1"), (Pieces{"a", " ", " 1"}));
  EXPECT_EQ(pieces("a  !"), (Pieces{"a", " ", " !"}));
  EXPECT_EQ(pieces("  word"), (Pieces{" ", " word"}));
  EXPECT_EQ(pieces("    def f"), (Pieces{"   ", " def", " f"}));
  EXPECT_EQ(pieces("\n    return x"), (Pieces{"\n   ", " return", " x"}));
  EXPECT_EQ(pieces("a \n b"), (Pieces{"a", " \n", " b"}));
}

TEST(Pretokenizer, WhitespaceRunBeforeWordEndingInOtherWhitespace) {
  // The last char is not U+0020, so it cannot prefix the word: it stands alone.
  EXPECT_EQ(pieces("a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(pieces("a\nb"), (Pieces{"a", "\n", "b"}));
  EXPECT_EQ(pieces("a \nb"), (Pieces{"a", " ", "\n", "b"}));
  EXPECT_EQ(pieces("a  \tb"), (Pieces{"a", "  ", "\t", "b"}));
  EXPECT_EQ(pieces(" \t!"), (Pieces{" ", "\t", "!"}));
  EXPECT_EQ(pieces("a\n\n\n1"), (Pieces{"a", "\n\n", "\n", "1"}));
}

TEST(Pretokenizer, WhitespaceRunAtEndIsOnePiece) {
  EXPECT_EQ(pieces("x  "), (Pieces{"x", "  "}));
  EXPECT_EQ(pieces("x\n"), (Pieces{"x", "\n"}));
  EXPECT_EQ(pieces("x \n \t"), (Pieces{"x", " \n \t"}));
  EXPECT_EQ(pieces(" "), (Pieces{" "}));
  EXPECT_EQ(pieces("\n"), (Pieces{"\n"}));
  EXPECT_EQ(pieces("   "), (Pieces{"   "}));
  EXPECT_EQ(pieces("end.\n\n"), (Pieces{"end", ".", "\n\n"}));
}

TEST(Pretokenizer, CrLf) {
  EXPECT_EQ(pieces("hello\r\nworld"), (Pieces{"hello", "\r", "\n", "world"}));
  EXPECT_EQ(pieces("line\r\n"), (Pieces{"line", "\r\n"}));
  EXPECT_EQ(pieces("a\r\n\r\nb"), (Pieces{"a", "\r\n\r", "\n", "b"}));
  EXPECT_EQ(pieces("a\r\n b"), (Pieces{"a", "\r\n", " b"}));
}

TEST(Pretokenizer, UnicodeWhiteSpace) {
  EXPECT_EQ(pieces("a\u00A0\u00A0b"), (Pieces{"a", "\u00A0", "\u00A0", "b"}));
  EXPECT_EQ(pieces("a \u00A0b"), (Pieces{"a", " ", "\u00A0", "b"}));
  EXPECT_EQ(pieces("a\u00A0 b"), (Pieces{"a", "\u00A0", " b"}));
  EXPECT_EQ(pieces("a\u3000\u3000\u3000b"), (Pieces{"a", "\u3000\u3000", "\u3000", "b"}));
  EXPECT_EQ(pieces("a\u3000\u3000"), (Pieces{"a", "\u3000\u3000"}));
  EXPECT_EQ(pieces("a\u0085b"), (Pieces{"a", "\u0085", "b"}));
  EXPECT_EQ(pieces("a\u0085 b"), (Pieces{"a", "\u0085", " b"}));
  EXPECT_EQ(pieces("a\u2028\u2029 b"), (Pieces{"a", "\u2028\u2029", " b"}));
  EXPECT_EQ(pieces("a\u202F\u205F\u1680"), (Pieces{"a", "\u202F\u205F\u1680"}));
}

TEST(Pretokenizer, LookalikeSpacesAreOther) {
  EXPECT_EQ(pieces("a\x1C" "b"), (Pieces{"a", "\x1C", "b"}));
  EXPECT_EQ(pieces("a \x1F\x1E"), (Pieces{"a", " \x1F\x1E"}));
  EXPECT_EQ(pieces("a\u200Bb"), (Pieces{"a", "\u200B", "b"}));
  EXPECT_EQ(pieces(" \u200B"), (Pieces{" \u200B"}));
  EXPECT_EQ(pieces("\uFEFFhello"), (Pieces{"\uFEFF", "hello"}));
  EXPECT_EQ(pieces("a\u180E" "b"), (Pieces{"a", "\u180E", "b"}));
  EXPECT_EQ(pieces(std::string("\0abc", 4)), (Pieces{std::string("\0", 1), "abc"}));
  EXPECT_EQ(pieces(" \uE000x"), (Pieces{" \uE000", "x"}));  // private use
  EXPECT_EQ(pieces("\u0378a"), (Pieces{"\u0378", "a"}));    // unassigned
}

TEST(Pretokenizer, MixedScripts) {
  EXPECT_EQ(pieces("hello\u4E16\u754C"), (Pieces{"hello\u4E16\u754C"}));
  EXPECT_EQ(pieces("\u041F\u0440\u0438\u0432\u0435\u0442 \u043C\u0438\u0440"),
            (Pieces{"\u041F\u0440\u0438\u0432\u0435\u0442", " \u043C\u0438\u0440"}));
  EXPECT_EQ(pieces("\u65E5\u672C\u8A9E\u306E\u30C6\u30AD\u30B9\u30C8\u3002"),
            (Pieces{"\u65E5\u672C\u8A9E\u306E\u30C6\u30AD\u30B9\u30C8", "\u3002"}));
  EXPECT_EQ(pieces("\uD55C\uAD6D\uC5B4 \uD14D\uC2A4\uD2B8"),
            (Pieces{"\uD55C\uAD6D\uC5B4", " \uD14D\uC2A4\uD2B8"}));
  EXPECT_EQ(pieces("\u0645\u0631\u062D\u0628\u0627 \u0628\u0643"),
            (Pieces{"\u0645\u0631\u062D\u0628\u0627", " \u0628\u0643"}));
  EXPECT_EQ(pieces("\U0001D400\U0001D401 \U00020000"),
            (Pieces{"\U0001D400\U0001D401", " \U00020000"}));
  EXPECT_EQ(pieces("\u03B1\u03B2\u03B3abc\u0434"), (Pieces{"\u03B1\u03B2\u03B3abc\u0434"}));
}

TEST(Pretokenizer, CombiningMarksAreOther) {
  EXPECT_EQ(pieces("cafe\u0301 au"), (Pieces{"cafe", "\u0301", " au"}));
  EXPECT_EQ(pieces(" \u0301"), (Pieces{" \u0301"}));
  // नमस्ते: the virama and the vowel sign are marks, so they split the word.
  EXPECT_EQ(pieces("\u0928\u092E\u0938\u094D\u0924\u0947"),
            (Pieces{"\u0928\u092E\u0938", "\u094D", "\u0924", "\u0947"}));
  EXPECT_EQ(pieces("caf\u00E9"), (Pieces{"caf\u00E9"}));  // precomposed é is a letter
}

TEST(Pretokenizer, Emoji) {
  EXPECT_EQ(pieces("hi \U0001F44B\U0001F3FD!"), (Pieces{"hi", " \U0001F44B\U0001F3FD!"}));
  const std::string family = "\U0001F468\u200D\U0001F469\u200D\U0001F467";
  EXPECT_EQ(pieces(" " + family + " ok"), (Pieces{" " + family, " ok"}));
  EXPECT_EQ(pieces("a" + family + "b"), (Pieces{"a", family, "b"}));
  EXPECT_EQ(pieces("\u2764\uFE0F"), (Pieces{"\u2764\uFE0F"}));
}

// The 8-bytes-at-a-time letter scan: a word of every length up to 20 ends at
// exactly the right byte for stop characters next to A-Z/a-z in ASCII and
// for non-ASCII characters that continue or end the word.
TEST(Pretokenizer, LetterRunEndsAtEveryOffset) {
  const std::string stops[] = {"@", "[", "`", "{", "\x7F", "0", " ", "'", "\u0301", "\u00D7", "\u4E00"};
  const bool stop_is_letter[] = {false, false, false, false, false, false, false, false, false,
                                 false, true};
  for (size_t n = 1; n <= 20; ++n) {
    std::string word;
    for (size_t i = 0; i < n; ++i) word += static_cast<char>(i % 2 ? 'A' + i : 'z' - i);
    for (size_t s = 0; s < std::size(stops); ++s) {
      const std::string text = word + stops[s] + "xyzxyzxyzxyz";
      const size_t want = stop_is_letter[s] ? text.size() : n;
      EXPECT_EQ(gpt2_pretoken_end(text, 0), want) << n << " " << stops[s];
    }
    const std::string accented = word + "\u00E9" + word;  // é is a letter
    EXPECT_EQ(gpt2_pretoken_end(accented, 0), accented.size()) << n;
  }
}

TEST(Pretokenizer, PretokenEndFromAnyPiecePosition) {
  const std::string_view text = "a   b";
  EXPECT_EQ(gpt2_pretoken_end(text, 0), 1u);
  EXPECT_EQ(gpt2_pretoken_end(text, 1), 3u);
  EXPECT_EQ(gpt2_pretoken_end(text, 2), 3u);  // run "  " then b: leaves one space
  EXPECT_EQ(gpt2_pretoken_end(text, 3), 5u);
  EXPECT_EQ(gpt2_pretoken_end(text, 4), 5u);
  const std::string_view ideo = "\u3000\u3000x";  // 3 bytes per space
  EXPECT_EQ(gpt2_pretoken_end(ideo, 0), 3u);
  EXPECT_EQ(gpt2_pretoken_end(ideo, 3), 6u);
}

TEST(Pretokenizer, BatchFormReusesTheVector) {
  std::vector<std::string_view> out = {"stale"};
  gpt2_pretokenize("one two", out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "one");
  EXPECT_EQ(out[1], " two");
  gpt2_pretokenize("", out);
  EXPECT_TRUE(out.empty());
}

// ---- The regex, transcribed literally over code points. ----

struct Decoded {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;  // byte offset of each code point, plus the end
};

Decoded decode_all(std::string_view s) {
  Decoded d;
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    d.cps.push_back(decode_utf8(s.data() + i, &len));
    d.offsets.push_back(i);
    i += len;
  }
  d.offsets.push_back(i);
  return d;
}

// End (in code points) of the regex match at i: each alternative in order.
size_t reference_match(const std::vector<char32_t>& t, size_t i) {
  const size_t n = t.size();
  auto cls = [&](size_t k) { return char_class(t[k]); };
  if (t[i] == U'\'') {
    for (std::u32string_view suffix : {U"s", U"t", U"re", U"ve", U"m", U"ll", U"d"}) {
      if (i + 1 + suffix.size() <= n &&
          std::u32string_view(t.data() + i + 1, suffix.size()) == suffix) {
        return i + 1 + suffix.size();
      }
    }
  }
  for (CharClass k : {CharClass::kLetter, CharClass::kNumber, CharClass::kOther}) {
    for (size_t prefix : {1, 0}) {  // ` ?` is greedy: with the space first
      if (prefix == 1 && t[i] != U' ') continue;
      size_t j = i + prefix;
      while (j < n && cls(j) == k) ++j;
      if (j > i + prefix) return j;
    }
  }
  size_t j = i;
  while (j < n && cls(j) == CharClass::kSpace) ++j;
  for (size_t k = j; k > i; --k) {  // \s+ backing off until (?!\S) holds
    if (k == n || cls(k) == CharClass::kSpace) return k;
  }
  if (j > i) return j;  // \s+
  ADD_FAILURE() << "no alternative matched at " << i;
  return i + 1;
}

Pieces reference_pieces(std::string_view text) {
  const Decoded d = decode_all(text);
  Pieces out;
  for (size_t i = 0; i < d.cps.size();) {
    const size_t j = reference_match(d.cps, i);
    out.emplace_back(text.substr(d.offsets[i], d.offsets[j] - d.offsets[i]));
    i = j;
  }
  return out;
}


// Random valid UTF-8 weighted toward the characters the rules care about.
std::string random_text(std::mt19937& rng) {
  static const char32_t kInteresting[] = {
      U' ', U' ', U' ', U'\n', U'\t', U'\r', U'\'', U'\'', U's', U't', U'r', U'e', U'v', U'm',
      U'l', U'd', U'S', U'a', U'Z', U'0', U'7', U'.', U'!', U'"', U'-', 0x00A0, 0x3000, 0x0085,
      0x2028, 0x001C, 0x001F, 0x200B, 0xFEFF, 0x0301, 0x094D, 0x2019, 0x0663, 0x216B, 0x00B2,
      0x4E2D, 0xAC00, 0x1F600, 0x200D, 0x1D400, 0x20000, 0xE000, 0x0378, 0x10FFFF};
  std::string s;
  const int n = rng() % 40;
  for (int i = 0; i < n; ++i) {
    const unsigned r = rng() % 10;
    if (r < 7) {
      s += test::utf8(kInteresting[rng() % std::size(kInteresting)]);
    } else if (r < 8) {
      s += static_cast<char>(rng() % 0x80);
    } else {
      char32_t cp;
      do cp = rng() % 0x110000; while (cp >= 0xD800 && cp <= 0xDFFF);
      s += test::utf8(cp);
    }
  }
  return s;
}

TEST(Pretokenizer, AgreesWithLiteralRegexOnRandomText) {
  test::for_each_simd_target([](const std::string& target) {
    std::mt19937 rng(12345);
    for (int iter = 0; iter < 100000; ++iter) {
      const std::string text = random_text(rng);
      ASSERT_TRUE(is_valid_utf8(text));
      ASSERT_EQ(pieces(text), reference_pieces(text)) << target << " iteration " << iter;
    }
  });
}

// Mostly ASCII text of a few windows' length, built from the fragments the
// window's bit rules treat specially, with runs longer than a window: the
// 64-byte window path (gpt2_pretokenize) must cut exactly where the literal
// regex and the one-piece scanner (gpt2_pretoken_end) do, including at
// window edges, at the text's end and next to non-ASCII characters.
std::string random_window_text(std::mt19937& rng) {
  static const char* const kFragments[] = {
      " ", "  ", "\n", "\t", "\r\n", "\v", "\f", "\x1c", "a", "Z", "s", "t", "re", "ve", "m", "ll", "d",
      "l", "e", "r", "v", "'", "''", "0", "9", ".", ",", "!", "\x01", "\x7f", "Hello", "don't", "12345",
      "...", "\u00e9", "\u4e00", "\u00a0", "\u3000", "\u0663", "\u2014", "\U0001F600"};
  std::string s;
  const size_t len = rng() % 300;
  const bool ascii_only = rng() % 2;
  while (s.size() < len) {
    size_t k = rng() % std::size(kFragments);
    if (ascii_only) k = rng() % 34;  // the ASCII fragments come first
    const int repeat = rng() % 5 == 0 ? 1 + rng() % 80 : 1;
    for (int r = 0; r < repeat; ++r) s += kFragments[k];
  }
  return s;
}

TEST(Pretokenizer, WindowPathAgreesWithRegexAndScanner) {
  test::for_each_simd_target([](const std::string& target) {
    std::mt19937 rng(2026);
    for (int iter = 0; iter < 30000; ++iter) {
      const std::string text = random_window_text(rng);
      const Pieces got = pieces(text);
      ASSERT_EQ(got, reference_pieces(text)) << target << " iteration " << iter;
      size_t pos = 0;
      for (const std::string& p : got) {
        ASSERT_EQ(gpt2_pretoken_end(text, pos), pos + p.size()) << target << " iteration " << iter;
        pos += p.size();
      }
    }
  });
}

TEST(Pretokenizer, WindowReportsOnlyWholePieces) {
  PretokenWindow w;
  // 70 letters: the piece runs past the window, so nothing is whole.
  EXPECT_EQ(gpt2_pretoken_window(std::string(70, 'a'), 0, w), 0u);
  // Non-ASCII within the first 8 bytes: the window declines at once.
  EXPECT_EQ(gpt2_pretoken_window(" \u00e9t\u00e9", 0, w), 0u);
  EXPECT_EQ(gpt2_pretoken_window("abc def\u00e9 and more text", 0, w), 0u);
  // "ab cdefgh" then a multi-byte letter: "ab" is whole; " cdefgh\u00e9" is not known yet.
  EXPECT_EQ(gpt2_pretoken_window("ab cdefgh\u00e9", 0, w), 2u);
  EXPECT_EQ(w.starts, 1u);
  // At the text's end every piece is whole, trailing whitespace in one piece.
  EXPECT_EQ(gpt2_pretoken_window("it's  \n", 0, w), 7u);
  EXPECT_EQ(w.starts, 0b0010101u);  // "it", "'s", "  \n"
}

TEST(Pretokenizer, PiecesAreNonEmptyAndConcatenateToInput) {
  test::for_each_simd_target([](const std::string& target) {
    std::mt19937 rng(99);
    for (int iter = 0; iter < 20000; ++iter) {
      std::string text;
      for (int k = 0; k < 5; ++k) text += random_text(rng);
      std::string joined;
      size_t pos = 0;
      for (std::string_view p : gpt2_pretokenize(text)) {
        ASSERT_FALSE(p.empty());
        ASSERT_EQ(p.data(), text.data() + pos);  // views into the input, in order
        ASSERT_TRUE(is_valid_utf8(p));           // never splits a character
        ASSERT_EQ(gpt2_pretoken_end(text, pos), pos + p.size());
        pos += p.size();
        joined += p;
      }
      ASSERT_EQ(joined, text) << target;
    }
  });
}

// ---- The SIMD kernels: every target compiled and runnable, byte for byte.

// Each byte's classes, one byte at a time.
simd::ClassMasks byte_by_byte(const char* p) {
  simd::ClassMasks m;
  for (int i = 0; i < 64; ++i) {
    const auto c = static_cast<uint8_t>(p[i]);
    const uint64_t bit = uint64_t{1} << i;
    const int folded = c | 0x20;
    if (c < 0x80 && folded >= 'a' && folded <= 'z') m.letter |= bit;
    if (c >= '0' && c <= '9') m.digit |= bit;
    if (c == ' ') m.space |= bit;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') m.white |= bit;
    if (c == '\'') m.apostrophe |= bit;
    if (c == '\r' || c == '\n') m.crlf |= bit;
    if (c >= 'A' && c <= 'Z') m.upper |= bit;
    if (c == '/') m.slash |= bit;
    if (c >= 0x80) m.high |= bit;
  }
  return m;
}

TEST(PretokenizerSimd, ClassMasksMatchEachByteOnEveryTarget) {
  test::for_each_simd_target([](const std::string& target) {
    std::mt19937 rng(64);
    alignas(64) char buf[64 + 7];
    for (int iter = 0; iter < 20000; ++iter) {
      const int shift = iter % 8;  // unaligned loads too
      for (int i = 0; i < 64; ++i) {
        // Every byte value, and runs of the few that matter.
        buf[shift + i] = static_cast<char>(rng() % 4 ? rng() % 256 : " \t\n\r'aZ0\x80/@["[rng() % 13]);
      }
      const simd::ClassMasks want = byte_by_byte(buf + shift);
      const simd::ClassMasks got = simd::classify64(buf + shift);
      ASSERT_EQ(got.letter, want.letter) << target;
      ASSERT_EQ(got.digit, want.digit) << target;
      ASSERT_EQ(got.space, want.space) << target;
      ASSERT_EQ(got.white, want.white) << target;
      ASSERT_EQ(got.apostrophe, want.apostrophe) << target;
      ASSERT_EQ(got.crlf, want.crlf) << target;
      ASSERT_EQ(got.upper, want.upper) << target;
      ASSERT_EQ(got.slash, want.slash) << target;
      ASSERT_EQ(got.high, want.high) << target;
    }
  });
}

// A build for the baseline ISA (no -march) must carry several targets, or
// dispatch was lost: x86-64 needs AVX2 and AVX-512 (AVX3) for the CPUs that
// have them, aarch64 NEON and SVE.
TEST(PretokenizerSimd, BaselineBuildCompilesSeveralTargets) {
  const int64_t compiled = simd::compiled_targets();
#if HWY_ARCH_X86_64 && (HWY_STATIC_TARGET == HWY_SCALAR || HWY_STATIC_TARGET == HWY_EMU128)
  EXPECT_GT(std::popcount(static_cast<uint64_t>(compiled)), 1);
  EXPECT_NE(compiled & HWY_SSE4, 0);
  EXPECT_NE(compiled & HWY_AVX2, 0);
  EXPECT_NE(compiled & HWY_AVX3, 0);
#elif HWY_ARCH_ARM_A64 && HWY_STATIC_TARGET == HWY_NEON
  EXPECT_NE(compiled & HWY_NEON, 0);
  EXPECT_NE(compiled & HWY_SVE, 0);
  EXPECT_NE(compiled & HWY_SVE2, 0);
#else
  // CI builds for the baseline ISA only, so there this branch means dispatch was lost.
  if (test::in_ci())
    FAIL() << "CI build without a baseline static target (" << hwy::TargetName(HWY_STATIC_TARGET) << ")";
  GTEST_SKIP() << "built for a non-baseline ISA (static target " << hwy::TargetName(HWY_STATIC_TARGET) << ")";
#endif
  EXPECT_NE(test::runnable_simd_targets() & compiled, 0);
}

// SP_SIMD_TARGET picks the target for the whole process, by Highway's name in
// any case; a name this build or CPU cannot run is a usage error.
TEST(PretokenizerSimd, EnvironmentForcesATarget) {
  const std::string text = "Hello, world! It's   42 o'clock\n\n  in  \u00e9t\u00e9 x";
  const Pieces want = reference_pieces(text);
  for (int64_t rest = test::runnable_simd_targets(); rest != 0; rest &= rest - 1) {
    std::string name = hwy::TargetName(rest & -rest);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ASSERT_EQ(setenv("SP_SIMD_TARGET", name.c_str(), 1), 0);
    simd::choose_target_again();
    EXPECT_EQ(simd::target_name(), std::string(hwy::TargetName(rest & -rest)));
    EXPECT_EQ(pieces(text), want) << name;
  }
  ASSERT_EQ(setenv("SP_SIMD_TARGET", "NO_SUCH_ISA", 1), 0);
  EXPECT_THROW(simd::choose_target_again(), UsageError);
  ASSERT_EQ(unsetenv("SP_SIMD_TARGET"), 0);
  simd::choose_target_again();
  EXPECT_EQ(simd::target_name(), std::string(hwy::TargetName(test::runnable_simd_targets() &
                                                             -test::runnable_simd_targets())));
}

// ---- Megabyte-long runs: one linear pass, and the right structure. ----

constexpr size_t kMiB = size_t{1} << 20;

std::string repeat(std::string_view unit, size_t bytes) {
  std::string s;
  s.reserve(bytes + unit.size());
  while (s.size() < bytes) s += unit;
  return s;
}

TEST(PretokenizerPathological, OneClassRunsAreOnePiece) {
  for (const char* unit : {"a", "7", ".", "'", " ", "\n", "\u3000", "\u4E2D", "\U0001F600"}) {
    const std::string text = repeat(unit, kMiB);
    const auto p = gpt2_pretokenize(text);
    ASSERT_EQ(p.size(), 1u) << unit;
    EXPECT_EQ(p[0].size(), text.size());
  }
}

TEST(PretokenizerPathological, AlternatingWhitespaceIsOnePiece) {
  const std::string text = repeat("\n ", kMiB);
  EXPECT_EQ(gpt2_pretokenize(text).size(), 1u);
  const std::string mixed = repeat(" \t\u00A0\r\n", kMiB);
  EXPECT_EQ(gpt2_pretokenize(mixed).size(), 1u);
}

TEST(PretokenizerPathological, LongWhitespaceRunBeforeAWord) {
  const std::string spaces = repeat(" ", kMiB);
  EXPECT_EQ(pieces(spaces + "x"), (Pieces{spaces.substr(1), " x"}));
  const std::string alternating = repeat("\n ", kMiB);  // ends in a space
  EXPECT_EQ(pieces(alternating + "x"),
            (Pieces{alternating.substr(0, alternating.size() - 1), " x"}));
  const std::string newlines = repeat("\n", kMiB);
  EXPECT_EQ(pieces(newlines + "x"), (Pieces{newlines.substr(1), "\n", "x"}));
}

TEST(PretokenizerPathological, ManySmallPieces) {
  const std::string contractions = repeat("'s", kMiB);
  const auto c = gpt2_pretokenize(contractions);
  ASSERT_EQ(c.size(), contractions.size() / 2);
  for (std::string_view p : c) ASSERT_EQ(p, "'s");

  const std::string words = repeat(" a", kMiB);
  const auto w = gpt2_pretokenize(words);
  ASSERT_EQ(w.size(), words.size() / 2);
  for (std::string_view p : w) ASSERT_EQ(p, " a");

  // "a\n" repeated: every newline stands alone between letters.
  const std::string lines = repeat("a\n", kMiB);
  EXPECT_EQ(gpt2_pretokenize(lines).size(), lines.size());

  // "a  " repeated: each double space splits into " " and a prefix.
  const std::string gaps = repeat("a  ", 3 * 100000);
  const auto g = gpt2_pretokenize(gaps);
  ASSERT_EQ(g.size(), 2u * 100000);  // "a", then (" ", " a") per unit, then "  "
  EXPECT_EQ(g[0], "a");
  EXPECT_EQ(g[1], " ");
  EXPECT_EQ(g[2], " a");
  EXPECT_EQ(g.back(), "  ");  // the trailing run at the end of text
}

}  // namespace
}  // namespace sp
