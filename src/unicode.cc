#include "sp/unicode.h"

#include <cstring>

namespace sp {
namespace detail {
#include "unicode_tables.inc"
}  // namespace detail

std::string_view unicode_version() { return detail::kUnicodeVersion; }

size_t utf8_sequence_length(std::string_view text, size_t i) {
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

bool is_valid_utf8(std::string_view text) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* p = begin;
  const auto* const end = p + text.size();
  while (p < end) {
    // Fast path: most text is ASCII, so test 8 bytes at once for a high bit
    // and skip them together (memcpy is the portable unaligned load).
    if (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const size_t len = utf8_sequence_length(text, static_cast<size_t>(p - begin));
    if (len == 0) return false;
    p += len;
  }
  return true;
}

}  // namespace sp
