// Character runs for the hand-written pre-tokenizer scanners (pretokenizer.cc
// for GPT-2, pretokenizer_patterns.cc for the other patterns): one table load
// per ASCII byte, 8 ASCII letters per step, UTF-8 decoded only where a byte
// says a multi-byte character starts. Text must be valid UTF-8.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "sp/unicode.h"

namespace sp::pretoken_runs {

static_assert(std::endian::native == std::endian::little, "letters_end assumes byte 0 is the low byte");

// Class and byte length of the character at p (p < end).
inline CharClass class_at(const char* p, size_t* len) {
  const uint8_t c = detail::kByteClass[static_cast<uint8_t>(*p)];
  if (c != kMultiByteClass) {
    *len = 1;
    return static_cast<CharClass>(c);
  }
  return char_class(decode_utf8(p, len));
}

// End of the maximal run of class K starting at p.
template <CharClass K>
inline const char* run_end(const char* p, const char* end) {
  constexpr uint8_t kWant = static_cast<uint8_t>(K);
  while (p < end) {
    const uint8_t c = detail::kByteClass[static_cast<uint8_t>(*p)];
    // Fast path: one table load per ASCII byte, and bytes 0x80..0xFF have
    // their own table value, so the loop needs no separate ASCII test.
    if (c == kWant) {
      ++p;
      continue;
    }
    if (c != kMultiByteClass) break;
    size_t len;
    if (char_class(decode_utf8(p, &len)) != K) break;
    p += len;
  }
  return p;
}

// Bit 7 of each byte of the result is set where `word` has an ASCII small
// letter. Per-byte sums stay below 0x100 (bytes are masked to 7 bits first),
// so no carry crosses into a neighbouring byte.
inline uint64_t ascii_lower_bits(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  const uint64_t low7 = word & (0x7F * kOnes);
  const uint64_t ge_a = low7 + (0x80 - 'a') * kOnes;      // bit 7: byte >= 'a'
  const uint64_t gt_z = low7 + (0x80 - 'z' - 1) * kOnes;  // bit 7: byte > 'z'
  return ge_a & ~gt_z & ~word & (0x80 * kOnes);           // ~word: drop bytes >= 0x80
}

// The same for ASCII letters of either case: A-Z fold onto a-z.
inline uint64_t ascii_letter_bits(uint64_t word) { return ascii_lower_bits(word | (0x20 * 0x0101010101010101ull)); }

// Skips 8 bytes at a time while `bits` (ascii_letter_bits, ascii_lower_bits)
// marks all of them, then to the first byte it does not mark. English words
// are mostly ASCII and shorter than 8 bytes, so this finds the end of most
// words with one well-predicted branch instead of one per byte. Returns that
// byte with *ascii_end true when it is ASCII (the run ends there), or a
// position from which the caller's per-character loop goes on.
template <class Bits>
inline const char* ascii_run_end(const char* p, const char* end, Bits bits, bool* ascii_end) {
  *ascii_end = false;
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    const uint64_t stop = ~bits(word) & 0x8080808080808080ull;
    if (stop == 0) {
      p += 8;
      continue;
    }
    p += __builtin_ctzll(stop) >> 3;  // first unmarked byte (little-endian)
    *ascii_end = static_cast<uint8_t>(*p) < 0x80;
    break;  // else a multi-byte character: the caller decodes
  }
  return p;
}

// End of a letter run starting at p.
inline const char* letters_end(const char* p, const char* end) {
  bool ascii_end;
  p = ascii_run_end(p, end, ascii_letter_bits, &ascii_end);
  return ascii_end ? p : run_end<CharClass::kLetter>(p, end);
}

}  // namespace sp::pretoken_runs
