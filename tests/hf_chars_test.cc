// Character classes as HF tokenizers' Rust code tests them (hf_chars.cc).
#include "hf_chars.h"

#include <gtest/gtest.h>

namespace sp::hf {
namespace {

TEST(HfChars, WordCharactersAreRustRegexUnicodeW) {
  for (char32_t c : {U'a', U'Z', U'0', U'_', U'\u00E9', U'\u4E2D', U'\u0301', U'\u0664', U'\u2160', U'\u203F',
                     U'\u200D', U'\u24B6'})
    EXPECT_TRUE(is_word_char(c)) << std::hex << static_cast<uint32_t>(c);
  for (char32_t c : {U' ', U'-', U'.', U'\u00A0', U'\u3002', U'\u00BD', U'\u2603'})
    EXPECT_FALSE(is_word_char(c)) << std::hex << static_cast<uint32_t>(c);
}

TEST(HfChars, PunctuationWhitespaceAndNumbers) {
  for (char32_t c : {U'!', U'~', U'$', U'^', U'\u3002', U'\u00BF', U'\u2014'}) EXPECT_TRUE(is_punctuation(c));
  for (char32_t c : {U'a', U' ', U'\u00A9', U'\u20AC'}) EXPECT_FALSE(is_punctuation(c));  // symbols are not P*
  for (char32_t c : {U' ', U'\t', U'\u0085', U'\u00A0', U'\u3000'}) EXPECT_TRUE(is_whitespace(c));
  for (char32_t c : {U'\u180E', U'\u200B', U'x'}) EXPECT_FALSE(is_whitespace(c));
  for (char32_t c : {U'7', U'\u00BD', U'\u2160', U'\u0664'}) EXPECT_TRUE(is_numeric(c));
  EXPECT_FALSE(is_numeric(U'x'));
}

TEST(HfChars, CharactersAroundAnOffset) {
  const std::string_view text = "a\xC3\xA9\xE4\xB8\xAD";
  size_t len = 0, start = 0;
  EXPECT_EQ(char_at(text, 1, &len), U'\u00E9');
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(char_before(text, text.size(), &start), U'\u4E2D');
  EXPECT_EQ(start, 3u);
  EXPECT_EQ(char_before(text, 1, &start), U'a');
  EXPECT_EQ(start, 0u);
}

}  // namespace
}  // namespace sp::hf
