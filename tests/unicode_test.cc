// UTF-8 validation and decoding. The validator is checked against a slow,
// obviously-correct reference (decode by bit arithmetic, then reject
// overlongs, surrogates and values above U+10FFFF) on every 1-, 2- and
// 3-byte string and on a large slice of the 4-byte ones.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "sp/unicode.h"
#include "test_support.h"

namespace sp {
namespace {


// Reference validator: the shortest-form rule written out directly.
bool reference_valid(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char b = s[i];
    size_t len;
    char32_t cp;
    if (b < 0x80) {
      len = 1, cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char c = s[i + k];
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const char32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len]) return false;  // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    if (cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

TEST(Utf8Validator, SimpleCases) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("hello, world"));
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));  // NUL is valid UTF-8
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80"));
  EXPECT_TRUE(is_valid_utf8("\xEF\xBB\xBF"));        // U+FEFF
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));    // U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));        // U+D7FF, just below surrogates
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));        // U+E000, just above
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));        // U+FFFF (noncharacters are valid)
}

TEST(Utf8Validator, RejectsMalformed) {
  EXPECT_FALSE(is_valid_utf8("\x80"));                // stray continuation
  EXPECT_FALSE(is_valid_utf8("a\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));            // overlong NUL
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));            // overlong U+007F
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));        // overlong U+07FF
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));    // overlong U+FFFF
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));        // U+D800
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));        // U+DFFF
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\xBD\xED\xB8\x80"));  // CESU-8 surrogate pair
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));    // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xFE"));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));                // truncated at the end
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));
  EXPECT_FALSE(is_valid_utf8("\xC3 "));               // continuation replaced
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8 x"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98\xC3\xA9"));
}

// Errors must be found wherever they sit relative to the 8-byte fast path:
// inside a word, straddling its end, in the tail after the last full word.
TEST(Utf8Validator, ErrorsAtEveryOffsetOfTheAsciiFastPath) {
  const std::string bad[] = {"\x80", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE4\xB8"};
  for (const std::string& b : bad) {
    for (size_t prefix = 0; prefix < 20; ++prefix) {
      for (size_t suffix = 0; suffix < 20; ++suffix) {
        // A truncated sequence is only an error at the end or before ASCII,
        // which is always the case here.
        const std::string s = std::string(prefix, 'a') + b + std::string(suffix, 'b');
        EXPECT_FALSE(is_valid_utf8(s)) << prefix << " " << suffix;
      }
    }
  }
  const std::string good = "\xE4\xB8\xAD";
  for (size_t prefix = 0; prefix < 20; ++prefix) {
    for (size_t suffix = 0; suffix < 20; ++suffix) {
      EXPECT_TRUE(is_valid_utf8(std::string(prefix, 'a') + good + std::string(suffix, 'b')));
    }
  }
}

TEST(Utf8Validator, AllOneAndTwoByteStrings) {
  for (int a = 0; a < 256; ++a) {
    const std::string s1(1, static_cast<char>(a));
    ASSERT_EQ(is_valid_utf8(s1), reference_valid(s1)) << a;
    for (int b = 0; b < 256; ++b) {
      const std::string s2 = {static_cast<char>(a), static_cast<char>(b)};
      ASSERT_EQ(is_valid_utf8(s2), reference_valid(s2)) << a << " " << b;
    }
  }
}

TEST(Utf8Validator, AllThreeByteStrings) {
  std::string s(3, '\0');
  size_t valid = 0;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c = 0; c < 256; ++c) {
        s[0] = static_cast<char>(a), s[1] = static_cast<char>(b), s[2] = static_cast<char>(c);
        const bool got = is_valid_utf8(s);
        if (got != reference_valid(s)) FAIL() << a << " " << b << " " << c;
        valid += got;
      }
    }
  }
  // 128^3 all-ASCII + 2 * 128 * 1920 ASCII/2-byte mixes + 61440 3-byte forms
  // (U+0800..U+FFFF minus 2048 surrogates).
  EXPECT_EQ(valid, 128u * 128 * 128 + 2u * 128 * 1920 + 61440);
}

// Every 4-byte string whose first byte could start a 4-byte form (F0..F7)
// and, for the rest, a sample including all the boundary bytes.
TEST(Utf8Validator, FourByteStrings) {
  const int edges[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xF0, 0xFF};
  std::string s(4, '\0');
  for (int a = 0xF0; a <= 0xF7; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c : edges) {
        for (int d : edges) {
          s[0] = static_cast<char>(a), s[1] = static_cast<char>(b);
          s[2] = static_cast<char>(c), s[3] = static_cast<char>(d);
          ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << a << " " << b << " " << c << " " << d;
        }
      }
    }
  }
}

TEST(Utf8Validator, RandomStringsAgreeWithReference) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 200000; ++iter) {
    std::string s;
    const int n = rng() % 24;
    for (int i = 0; i < n; ++i) {
      // Mostly valid characters, some random bytes to break them.
      if (rng() % 8 == 0) {
        s += static_cast<char>(rng() & 0xFF);
      } else {
        char32_t cp = rng() % 0x110000;
        if (rng() % 2) cp &= 0x7F;
        s += test::utf8(cp);  // may encode a surrogate: invalid on purpose
      }
    }
    ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << iter;
  }
}

TEST(Utf8Decode, RoundTripsEveryCodePoint) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string s = test::utf8(cp);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    ASSERT_EQ(is_valid_utf8(s), !surrogate) << static_cast<uint32_t>(cp);
    size_t len = 0;
    ASSERT_EQ(decode_utf8(s.data(), &len), cp);
    ASSERT_EQ(len, s.size());
    ASSERT_EQ(utf8_length(static_cast<uint8_t>(s[0])), s.size());
  }
}

}  // namespace
}  // namespace sp
