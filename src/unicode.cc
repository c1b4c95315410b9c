#include "sp/unicode.h"

#include <cstring>

namespace sp {
namespace detail {
#include "unicode_tables.inc"
}  // namespace detail

std::string_view unicode_version() { return detail::kUnicodeVersion; }

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
