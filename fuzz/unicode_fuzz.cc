// is_valid_utf8 against an independent, deliberately plain validator (decode
// any 1..4-byte pattern, then reject overlongs, surrogates and values above
// U+10FFFF), and decode_utf8/utf8_length against an independent encoder:
// decoding valid text and re-encoding every code point gives the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "sp/unicode.h"

namespace {

// Table 3-7 restated as "decode, then check the value": a different method
// from the library's lead-byte ranges. Returns the sequence length at p, or 0
// when the bytes at p do not start a well-formed sequence.
size_t reference_sequence_length(const unsigned char* p, size_t avail) {
  const unsigned char b = p[0];
  size_t len;
  char32_t cp;
  if ((b & 0x80) == 0) return 1;
  if ((b & 0xE0) == 0xC0) {
    len = 2;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4;
    cp = b & 0x07;
  } else {
    return 0;
  }
  if (avail < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((p[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  const char32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_len[len]) return 0;               // overlong
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;        // surrogate
  if (cp > 0x10FFFF) return 0;                       // beyond Unicode
  return len;
}

bool reference_is_valid(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = reference_sequence_length(p + i, s.size() - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string encode(char32_t cp) {
  std::string out;
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
  return out;
}

void check_text(std::string_view s) {
  const bool valid = sp::is_valid_utf8(s);
  FUZZ_CHECK(valid == reference_is_valid(s), "is_valid_utf8 says %d for %zu bytes", valid, s.size());
  if (!valid) return;
  std::string reencoded;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    const char32_t cp = sp::decode_utf8(s.data() + i, &len);
    FUZZ_CHECK(len >= 1 && len <= 4 && i + len <= s.size(), "decode_utf8 length %zu at %zu", len, i);
    FUZZ_CHECK(len == sp::utf8_length(static_cast<uint8_t>(s[i])), "utf8_length disagrees at %zu", i);
    FUZZ_CHECK(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF), "decoded U+%X at %zu", unsigned(cp), i);
    const auto cls = static_cast<unsigned>(sp::char_class(cp));
    FUZZ_CHECK(cls <= 3, "char_class(U+%X) = %u", unsigned(cp), cls);
    if (cp < 0x80) FUZZ_CHECK(sp::detail::kByteClass[cp] == cls, "byte table disagrees for 0x%X", unsigned(cp));
    reencoded += encode(cp);
    i += len;
  }
  FUZZ_CHECK(reencoded == s, "decode + encode did not round-trip %zu bytes", s.size());
}

// Checks a copy in a heap block of exactly its size, so that AddressSanitizer
// catches any read past the end.
void check_exact_copy(std::string_view s) {
  std::unique_ptr<char[]> copy(new char[s.size()]);
  std::memcpy(copy.get(), s.data(), s.size());
  check_text(std::string_view(copy.get(), s.size()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  for (unsigned b = 0x80; b < 256; ++b)
    FUZZ_CHECK(sp::detail::kByteClass[b] == sp::kMultiByteClass, "byte table for 0x%X", b);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  check_text(s);  // libFuzzer's buffer is already an exact-size heap copy
  // Other start offsets and a cut before the end: the library's 8-byte ASCII
  // fast path sees different alignments and tails.
  if (size > 0) {
    check_exact_copy(s.substr(1));
    check_exact_copy(s.substr(0, size - 1));
  }
  return 0;
}
