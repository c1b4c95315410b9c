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

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

#include "sp/unicode.h"

#include "pretokenizer_runs.h"
#include "pretokenizer_simd.h"

namespace sp {
namespace {

using detail::kByteClass;
using pretoken_runs::class_at;
using pretoken_runs::ascii_letter_bits;

inline uint8_t byte_class(char c) { return kByteClass[static_cast<uint8_t>(c)]; }

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
      return pretoken_runs::letters_end(body + len, end);
    case CharClass::kNumber:
      return pretoken_runs::run_end<CharClass::kNumber>(body + len, end);
    case CharClass::kOther:
      return pretoken_runs::run_end<CharClass::kOther>(body + len, end);
    case CharClass::kSpace:
      break;
  }
  // Either p itself is White_Space, or it is a space followed by White_Space
  // (no prefix then): in both cases the run starts at p.
  return whitespace_piece_end(p, end);
}

using simd::ClassMasks;
using simd::classify64;

}  // namespace

// The regex's pieces, for ASCII, as bit operations on class masks. A piece
// starts at byte i when
//   - a run of letters, digits or other (punctuation, controls) starts at i
//     and byte i - 1 is not U+0020; if it is, the space is the run's prefix
//     and the piece starts at i - 1 instead;
//   - a whitespace run starts at i;
//   - byte i is the last of a whitespace run of two or more that a
//     non-space follows (`\s+(?!\S)` leaves it to the next piece);
//   - a contraction ends at i. A contraction starts at an apostrophe that
//     starts a piece, and the letters inside it start none.
// A start depends on bytes i - 1 .. i + 1 and a contraction on the two bytes
// after its apostrophe, so starts are final up to two bytes before the first
// unknown byte (non-ASCII, or past the window); past the text's end the
// window holds spaces, which give the end's answers (a trailing whitespace
// run stays whole).
size_t gpt2_pretoken_window(std::string_view text, size_t pos, PretokenWindow& w) {
  constexpr size_t kN = PretokenWindow::kBytes;
  const size_t avail = simd::fill_window(text, pos, w);
  if (avail == 0) return 0;
  const ClassMasks m = classify64(w.bytes);

  const uint64_t nonwhite = ~(m.white | m.high);
  const uint64_t other = nonwhite & ~(m.letter | m.digit);
  const auto run_starts = [](uint64_t x) { return x & ~(x << 1); };
  const uint64_t word_starts = run_starts(m.letter) | run_starts(m.digit) | run_starts(other);
  const uint64_t prefixed = word_starts & (m.space << 1);
  uint64_t starts = (word_starts & ~prefixed) | (prefixed >> 1) | run_starts(m.white) | 1;
  starts |= ((nonwhite & (m.white << 1)) >> 1) & m.white & (m.white << 1);
  // Contractions are independent of each other: one only changes starts
  // among its own letters and the byte after it, and never an apostrophe's.
  for (uint64_t a = m.apostrophe & starts; a != 0; a &= a - 1) {
    const int i = std::countr_zero(a);
    if (const size_t len = contraction_length(w.bytes + i, w.bytes + sizeof w.bytes)) {
      starts &= ~(((uint64_t{1} << (len - 1)) - 1) << (i + 1));
      if (i + len < kN) starts |= uint64_t{1} << (i + len);
    }
  }

  const size_t known = m.high ? static_cast<size_t>(std::countr_zero(m.high)) : kN;
  if (avail < kN && known >= avail) {  // the text ends here and every byte is known
    w.starts = starts & ((uint64_t{1} << avail) - 1);
    w.covered = avail;
    return avail;
  }
  // Starts before known - 1 are final; the piece at the last of them may run on.
  if (known < 2) {
    w.covered = 0;
    return 0;
  }
  starts &= (uint64_t{1} << (known - 1)) - 1;
  const size_t last = 63 - static_cast<size_t>(std::countl_zero(starts));
  w.starts = starts & ~(uint64_t{1} << last);
  w.covered = last;
  return last;
}

size_t gpt2_pretoken_end(std::string_view text, size_t pos) {
  const char* const begin = text.data();
  return static_cast<size_t>(piece_end(begin + pos, begin + text.size()) - begin);
}

void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& pieces) {
  pieces.clear();
  for_each_pretoken(text, [&](size_t at, size_t n, const char*) { pieces.push_back(text.substr(at, n)); });
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  gpt2_pretokenize(text, pieces);
  return pieces;
}

}  // namespace sp
