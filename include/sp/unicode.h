// UTF-8 and the few Unicode character properties the pre-tokenizers need:
// letters (\p{L}), numbers (\p{N}) and White_Space (\s) for GPT-2 and
// cl100k-like patterns, and for o200k-like patterns the letter case and marks
// (\p{Lu} \p{Lt} \p{Ll} \p{Lm} \p{Lo} \p{M}). The property tables are
// generated from the Unicode Character Database into src/unicode_tables.inc
// by scripts/gen_unicode_tables.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sp {

// The class of a code point as the GPT-2 regex sees it. The values are the
// generator's class numbers.
enum class CharClass : uint8_t {
  kOther = 0,   // everything else: punctuation, symbols, marks, controls, unassigned
  kLetter = 1,  // general category L* (Lu, Ll, Lt, Lm, Lo)
  kNumber = 2,  // general category N* (Nd, Nl, No)
  kSpace = 3,   // the 25 code points of the White_Space property
};

// The class of a code point as o200k's letter rule sees it: general
// categories, with the ones that rule treats alike merged. Letters are
// kUpper, kLower and kLetter together (\p{L}); \s is kSpace (White_Space).
enum class CaseClass : uint8_t {
  kOther = 0,   // punctuation, symbols, controls, unassigned: not L, M, N or White_Space
  kLetter = 1,  // Lm, Lo: both "upper" and "lower" in o200k's rule
  kNumber = 2,  // N*
  kSpace = 3,   // White_Space
  kUpper = 4,   // Lu, Lt
  kLower = 5,   // Ll
  kMark = 6,    // Mn, Mc, Me
};

// "15.0.0": the UCD version the tables were generated from.
std::string_view unicode_version();

// True when `text` is well-formed UTF-8 (Unicode Table 3-7): no overlong
// forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no stray
// continuation bytes and no truncated sequence at the end.
bool is_valid_utf8(std::string_view text);

// Length (1..4) of the well-formed UTF-8 sequence that starts at text[i], or
// 0 when none does there (by the same rules as is_valid_utf8). For code that
// must repair or escape text byte by byte, e.g. JSON output, and for the
// encoders' split of a piece into characters (inline: a call cost as much as
// the test, ~1% of SentencePiece-style encoding).
inline size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + i;
  const size_t left = text.size() - i;
  const unsigned char b = *p;
  if (b < 0x80) return 1;
  // Well-formed sequences per Unicode Table 3-7: the lead byte fixes the
  // length and the allowed range of the second byte, which is what rules
  // out overlongs (E0, F0), surrogates (ED) and values above U+10FFFF (F4).
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;  // 80..BF stray continuation, C0/C1 overlong, F5..FF
  }
  if (left < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if ((p[k] & 0xC0) != 0x80) return 0;
  return len;
}

// Length in bytes of the UTF-8 sequence that starts with lead byte b
// (1..4), for valid input only.
inline size_t utf8_length(uint8_t b) {
  // The top nibble decides: 0xxx -> 1, 110x -> 2, 1110 -> 3, 1111 -> 4.
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

// Decodes the code point starting at p and stores its byte length in *len.
// The input must be valid UTF-8 with the whole sequence readable: no checks.
inline char32_t decode_utf8(const char* p, size_t* len) {
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  const unsigned char b = s[0];
  if (b < 0x80) {
    *len = 1;
    return b;
  }
  if (b < 0xE0) {
    *len = 2;
    return (char32_t(b & 0x1F) << 6) | (s[1] & 0x3F);
  }
  if (b < 0xF0) {
    *len = 3;
    return (char32_t(b & 0x0F) << 12) | (char32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
  }
  *len = 4;
  return (char32_t(b & 0x07) << 18) | (char32_t(s[1] & 0x3F) << 12) |
         (char32_t(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

// Appends the UTF-8 encoding of a code point (at most U+10FFFF, not a
// surrogate: callers pass code points they decoded or chose).
inline void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace detail {
// The generated tables (defined in src/unicode.cc from unicode_tables.inc);
// declared here so char_class() inlines into the pre-tokenizer's loops.
inline constexpr unsigned kClassBlockBits = 8;
// kByteClass[b]: the class of ASCII byte b, or 4 for bytes 0x80..0xFF.
extern const uint8_t kByteClass[256];
extern const uint8_t kClassStage1[];  // block number per 256 code points
extern const uint8_t kClassStage2[];  // the distinct blocks, 256 classes each
// The same for CaseClass; kCaseByteClass[b] is 7 for bytes 0x80..0xFF.
extern const uint8_t kCaseByteClass[256];
extern const uint8_t kCaseClassStage1[];
extern const uint8_t kCaseClassStage2[];
}  // namespace detail

// Byte-table value for a byte that is part of a multi-byte character.
inline constexpr uint8_t kMultiByteClass = 4;

inline CharClass char_class(char32_t cp) {
  if (cp > 0x10FFFF) return CharClass::kOther;
  const unsigned block = detail::kClassStage1[cp >> detail::kClassBlockBits];
  const unsigned low = cp & ((1u << detail::kClassBlockBits) - 1);
  return static_cast<CharClass>(detail::kClassStage2[(block << detail::kClassBlockBits) | low]);
}

// kCaseByteClass value for a byte that is part of a multi-byte character.
inline constexpr uint8_t kMultiByteCaseClass = 7;

inline CaseClass case_class(char32_t cp) {
  if (cp > 0x10FFFF) return CaseClass::kOther;
  const unsigned block = detail::kCaseClassStage1[cp >> detail::kClassBlockBits];
  const unsigned low = cp & ((1u << detail::kClassBlockBits) - 1);
  return static_cast<CaseClass>(detail::kCaseClassStage2[(block << detail::kClassBlockBits) | low]);
}

}  // namespace sp
