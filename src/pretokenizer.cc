// GPT-2's pre-tokenizer as a scanner. At each position the regex's
// alternatives are tried in order, and each one reduces to a single decision:
//   1. 's 't 're 've 'm 'll 'd      ASCII apostrophe + exact lowercase suffix
//   2-4. ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
//        a U+0020 is a prefix exactly when the character after it is not
//        White_Space; then the piece is the maximal run of that character's
//        class (the three classes are disjoint, so at most one applies)
//   5-6. `\s+(?!\S)|\s+`  a White_Space run [i, j): all of it at the end of
//        the text, else all but its last character, else (a single character
//        before non-space) just that character
// Every piece is found in one forward pass over its own bytes, so the whole
// text is scanned in linear time whatever its shape.
#include "sp/pretokenizer.h"

#include <bit>
#include <cstdint>
#include <cstring>

#include "sp/unicode.h"

namespace sp {
namespace {

static_assert(std::endian::native == std::endian::little, "scan_letters assumes byte 0 is the low byte");

using detail::kByteClass;

inline uint8_t byte_class(char c) { return kByteClass[static_cast<uint8_t>(c)]; }

// Class and byte length of the character at p (p < end, valid UTF-8).
inline CharClass class_at(const char* p, size_t* len) {
  const uint8_t c = byte_class(*p);
  if (c != kMultiByteClass) {
    *len = 1;
    return static_cast<CharClass>(c);
  }
  return char_class(decode_utf8(p, len));
}

// End of the maximal run of class K starting at p.
template <CharClass K>
inline const char* scan_run(const char* p, const char* end) {
  constexpr uint8_t kWant = static_cast<uint8_t>(K);
  while (p < end) {
    const uint8_t c = byte_class(*p);
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

// Bit 7 of each byte of the result is set where `word` has an ASCII letter.
// Per-byte sums stay below 0x100 (bytes are masked to 7 bits first), so no
// carry crosses into a neighbouring byte.
inline uint64_t ascii_letter_bits(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  const uint64_t low7 = (word & (0x7F * kOnes)) | (0x20 * kOnes);  // fold A-Z onto a-z
  const uint64_t ge_a = low7 + (0x80 - 'a') * kOnes;               // bit 7: byte >= 'a'
  const uint64_t gt_z = low7 + (0x80 - 'z' - 1) * kOnes;           // bit 7: byte > 'z'
  return ge_a & ~gt_z & ~word & (0x80 * kOnes);                    // ~word: drop bytes >= 0x80
}

// End of a letter run starting at p. Fast path: English words are mostly
// ASCII and shorter than 8 bytes, so testing 8 bytes at once finds the end
// of most words with one well-predicted branch instead of one per letter.
inline const char* scan_letters(const char* p, const char* end) {
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    const uint64_t stop = ~ascii_letter_bits(word) & 0x8080808080808080ull;
    if (stop == 0) {
      p += 8;
      continue;
    }
    p += __builtin_ctzll(stop) >> 3;  // first non-letter byte (little-endian)
    if (static_cast<uint8_t>(*p) < 0x80) return p;
    return scan_run<CharClass::kLetter>(p, end);  // a multi-byte char: decode
  }
  return scan_run<CharClass::kLetter>(p, end);
}

// Alternatives 5 and 6 for a White_Space run starting at p.
inline const char* whitespace_piece_end(const char* p, const char* end) {
  const char* const start = p;
  const char* last = p;  // start of the run's last character
  while (p < end) {
    const uint8_t c = byte_class(*p);
    if (c == static_cast<uint8_t>(CharClass::kSpace)) {
      last = p++;
      continue;
    }
    if (c != kMultiByteClass) break;
    size_t len;
    if (char_class(decode_utf8(p, &len)) != CharClass::kSpace) break;
    last = p;
    p += len;
  }
  if (p == end) return end;               // (?!\S) holds at the end of text
  return last > start ? last : p;          // leave the last one for the next word
}

// Alternative 1: the length of a contraction at p (p[0] == '\''), or 0.
inline size_t contraction_length(const char* p, const char* end) {
  const ptrdiff_t avail = end - p;
  if (avail < 2) return 0;
  switch (p[1]) {
    case 's': case 't': case 'm': case 'd':
      return 2;
    case 'r':
      return avail >= 3 && p[2] == 'e' ? 3 : 0;
    case 'v':
      return avail >= 3 && p[2] == 'e' ? 3 : 0;
    case 'l':
      return avail >= 3 && p[2] == 'l' ? 3 : 0;
    default:
      return 0;
  }
}

inline const char* piece_end(const char* p, const char* end) {
  if (*p == '\'') {
    if (const size_t n = contraction_length(p, end)) return p + n;
  }
  // A leading U+0020 is tentatively a prefix; the class of the next
  // character decides whether it really is one.
  const char* body = (*p == ' ' && end - p >= 2) ? p + 1 : p;
  size_t len;
  switch (class_at(body, &len)) {
    case CharClass::kLetter:
      return scan_letters(body + len, end);
    case CharClass::kNumber:
      return scan_run<CharClass::kNumber>(body + len, end);
    case CharClass::kOther:
      return scan_run<CharClass::kOther>(body + len, end);
    case CharClass::kSpace:
      break;
  }
  // Either p itself is White_Space, or it is a space followed by White_Space
  // (no prefix then): in both cases the run starts at p.
  return whitespace_piece_end(p, end);
}

}  // namespace

size_t gpt2_pretoken_end(std::string_view text, size_t pos) {
  const char* const begin = text.data();
  return static_cast<size_t>(piece_end(begin + pos, begin + text.size()) - begin);
}

void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& pieces) {
  pieces.clear();
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    const char* q = piece_end(p, end);
    pieces.emplace_back(p, static_cast<size_t>(q - p));
    p = q;
  }
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  gpt2_pretokenize(text, pieces);
  return pieces;
}

}  // namespace sp
