// The cl100k and o200k families of split regexes as scanners. Each pattern is
// a handful of switches over two shapes; at each position the regex's
// alternatives are tried in order, each reduced to a decision on runs of one
// class:
//
// cl100k shape (kCl100k, kLlama3, kQwen2, kMegatronV1), with L letter, N
// number, S White_Space, O everything else:
//   1. contraction: ' then s t m d ll ve re in any case ('ſ too), if enabled
//   2. `[^\r\n\p{L}\p{N}]?\p{L}+`: an L run, or one O/S character (not CR or
//      LF) and the L run after it
//   3. `\p{N}{1,3}` or `\p{N}`: up to 3 (or 1) N
//   4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`: an O run, with a U+0020 before it, then
//      any CR/LF after it
//   5. `\s++$` (kCl100k only): an S run that reaches the end, whole
//   6. `\s*[\r\n]+`: an S run up to and including its last CR or LF
//   7-8. `\s+(?!\S)|\s+`: an S run whole at the end of the text, else all but
//      its last character, else (a single one) that character
//
// o200k shape (kO200k, kMegatronV2): alternative 2 becomes two alternatives
// over the case classes, U = Lu Lt Lm Lo M ("upper") and W = Ll Lm Lo M
// ("lower"), with the prefix class P = [^\r\n\p{L}\p{N}] (which holds the
// marks, so a mark may be taken as prefix or as letter):
//   2a. P? U* W+ contraction?   2b. P? U+ W* contraction?
// Greedy U* gives back characters until W+ can start: W+ starts at the run's
// end when an Ll follows it, else at the run's last Lm/Lo/M (and then takes
// just that one, since Lu/Lt or the run's end follows), else 2a fails at this
// prefix choice; the regex tries "with prefix" before "without".
// Alternative 4 ends in [\r\n/]* and its O run includes marks.
//
// Every failed attempt scans only characters that the piece finally returned
// covers (or a bounded look-ahead), so a text scans in linear time.
//
// Encoders take both shapes 64 bytes at a time (pattern_window, as GPT-2's
// gpt2_pretoken_window), and a scanner for what a window leaves.
//
// The scanners' ASCII fast path is compiled once per SIMD target (Highway's
// foreach_target re-includes this file for each); everything else, the
// window included (its SIMD part is classify64, dispatched on its own), is
// compiled once, in the first pass.
#ifndef SP_PRETOKENIZER_PATTERNS_ONCE
#define SP_PRETOKENIZER_PATTERNS_ONCE
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "sp/pretokenizer.h"
#include "sp/unicode.h"

#include "pretokenizer_runs.h"
#include "pretokenizer_simd.h"

namespace sp {
namespace {

enum class Contractions { kNone, kAlone, kSuffix };

struct Spec {
  Contractions contractions;
  bool by_case;          // o200k shape
  int max_digits;        // 3 or 1
  bool whole_final_run;  // `\s++$`
  bool slash_trailer;    // [\r\n/]* after punctuation
};

constexpr Spec kCl100kSpec{Contractions::kAlone, false, 3, true, false};
constexpr Spec kLlama3Spec{Contractions::kAlone, false, 3, false, false};
constexpr Spec kQwen2Spec{Contractions::kAlone, false, 1, false, false};
constexpr Spec kO200kSpec{Contractions::kSuffix, true, 3, false, true};
constexpr Spec kMegatronV1Spec{Contractions::kNone, false, 1, false, false};
constexpr Spec kMegatronV2Spec{Contractions::kNone, true, 1, false, true};

using pretoken_runs::class_at;
using pretoken_runs::letters_end;
using pretoken_runs::run_end;

inline bool is_crlf(char c) { return c == '\r' || c == '\n'; }

inline CaseClass case_at(const char* p, size_t* len) {
  const uint8_t c = detail::kCaseByteClass[static_cast<uint8_t>(*p)];
  if (c != kMultiByteCaseClass) {
    *len = 1;
    return static_cast<CaseClass>(c);
  }
  return case_class(decode_utf8(p, len));
}


// (?i:'s|'t|'re|'ve|'m|'ll|'d) at p: its length, or 0.
inline size_t contraction_length(const char* p, const char* end) {
  const ptrdiff_t avail = end - p;
  if (avail < 2 || p[0] != '\'') return 0;
  const auto lower = [](char c) { return static_cast<char>(c | 0x20); };  // ASCII letters only
  switch (lower(p[1])) {
    case 's': case 't': case 'm': case 'd':
      return 2;
    case 'r': case 'v':
      return avail >= 3 && lower(p[2]) == 'e' ? 3 : 0;
    case 'l':
      return avail >= 3 && lower(p[2]) == 'l' ? 3 : 0;
    default:
      // U+017F LATIN SMALL LETTER LONG S folds to s (C5 BF in UTF-8).
      return avail >= 3 && static_cast<uint8_t>(p[1]) == 0xC5 && static_cast<uint8_t>(p[2]) == 0xBF ? 3 : 0;
  }
}

// Punctuation's tail: [\r\n]* or [\r\n/]*.
template <bool kSlash>
inline const char* trailer_end(const char* p, const char* end) {
  while (p < end && (is_crlf(*p) || (kSlash && *p == '/'))) ++p;
  return p;
}

// Alternatives 5-8 for a White_Space run starting at p.
template <bool kWholeFinalRun>
inline const char* whitespace_piece_end(const char* p, const char* end) {
  const char* const start = p;
  const char* last = p;             // start of the run's last character
  const char* after_crlf = nullptr;  // just past the run's last CR or LF
  while (p < end) {
    const uint8_t c = detail::kByteClass[static_cast<uint8_t>(*p)];
    if (c == static_cast<uint8_t>(CharClass::kSpace)) {
      if (is_crlf(*p)) after_crlf = p + 1;
      last = p++;
      continue;
    }
    if (c != kMultiByteClass) break;
    size_t len;
    if (char_class(decode_utf8(p, &len)) != CharClass::kSpace) break;
    last = p;
    p += len;
  }
  if (kWholeFinalRun && p == end) return end;
  if (after_crlf) return after_crlf;
  if (p == end) return end;
  return last > start ? last : p;
}

template <Spec S>
const char* cl100k_piece_end_general(const char* p, const char* end) {
  if constexpr (S.contractions == Contractions::kAlone) {
    if (*p == '\'') {
      if (const size_t n = contraction_length(p, end)) return p + n;
    }
  }
  size_t len;
  const CharClass c = class_at(p, &len);
  const char* const next = p + len;
  switch (c) {
    case CharClass::kLetter:
      return letters_end(next, end);
    case CharClass::kNumber: {
      const char* q = next;
      for (int n = 1; n < S.max_digits && q < end; ++n) {
        size_t l;
        if (class_at(q, &l) != CharClass::kNumber) break;
        q += l;
      }
      return q;
    }
    case CharClass::kOther:
      if (next < end) {
        size_t l;
        const CharClass d = class_at(next, &l);
        if (d == CharClass::kLetter) return letters_end(next + l, end);  // prefix + letters
      }
      return trailer_end<S.slash_trailer>(run_end<CharClass::kOther>(next, end), end);
    case CharClass::kSpace:
      break;
  }
  if (next < end) {
    size_t l;
    const CharClass d = class_at(next, &l);
    if (d == CharClass::kLetter && !is_crlf(*p)) return letters_end(next + l, end);
    if (d == CharClass::kOther && *p == ' ') {
      return trailer_end<S.slash_trailer>(run_end<CharClass::kOther>(next + l, end), end);
    }
  }
  return whitespace_piece_end<S.whole_final_run>(p, end);
}

inline bool is_upper(CaseClass c) {  // U: Lu Lt Lm Lo M
  return c == CaseClass::kUpper || c == CaseClass::kLetter || c == CaseClass::kMark;
}
inline bool is_lower(CaseClass c) {  // W: Ll Lm Lo M
  return c == CaseClass::kLower || c == CaseClass::kLetter || c == CaseClass::kMark;
}
// [^\s\p{L}\p{N}]: other or mark.
inline bool is_punct(CaseClass c) { return c == CaseClass::kOther || c == CaseClass::kMark; }

// End of the maximal run of W from p; ASCII small letters 8 bytes at a time.
inline const char* lower_run_end(const char* p, const char* end) {
  bool ascii_end;
  p = pretoken_runs::ascii_run_end(p, end, pretoken_runs::ascii_lower_bits, &ascii_end);
  if (ascii_end) return p;  // ASCII, not a small letter: not W
  while (p < end) {
    size_t len;
    if (!is_lower(case_at(p, &len))) break;
    p += len;
  }
  return p;
}

template <Spec S>
inline const char* with_contraction(const char* p, const char* end) {
  if constexpr (S.contractions == Contractions::kSuffix) p += contraction_length(p, end);
  return p;
}

// U* W+ contraction? from q, or nullptr when W+ cannot start.
template <Spec S>
const char* upper_star_lower_plus(const char* q, const char* end) {
  const char* r = q;
  const char* last_both = nullptr;  // the run's last Lm/Lo/M
  size_t last_len = 0;
  CaseClass c = CaseClass::kOther;
  size_t len = 0;
  while (r < end) {
    c = case_at(r, &len);
    if (!is_upper(c)) break;
    if (is_lower(c)) last_both = r, last_len = len;
    r += len;
  }
  if (r < end && c == CaseClass::kLower) return with_contraction<S>(lower_run_end(r + len, end), end);
  if (last_both) return with_contraction<S>(last_both + last_len, end);
  return nullptr;
}

// U+ W* contraction? from q, or nullptr when q does not start a U.
template <Spec S>
const char* upper_plus_lower_star(const char* q, const char* end) {
  const char* r = q;
  while (r < end) {
    size_t len;
    if (!is_upper(case_at(r, &len))) break;
    r += len;
  }
  if (r == q) return nullptr;
  return with_contraction<S>(lower_run_end(r, end), end);
}

template <Spec S>
const char* o200k_piece_end_general(const char* p, const char* end) {
  size_t len;
  const CaseClass c = case_at(p, &len);
  const char* const next = p + len;
  // P = [^\r\n\p{L}\p{N}]: other, mark, or White_Space but CR and LF.
  const bool prefix = c == CaseClass::kOther || c == CaseClass::kMark || (c == CaseClass::kSpace && !is_crlf(*p));
  const bool letter = is_upper(c) || is_lower(c);
  if (prefix || letter) {
    if (prefix && next < end) {
      if (const char* e = upper_star_lower_plus<S>(next, end)) return e;
    }
    if (letter) {
      if (const char* e = upper_star_lower_plus<S>(p, end)) return e;
    }
    if (prefix && next < end) {
      if (const char* e = upper_plus_lower_star<S>(next, end)) return e;
    }
    if (letter) return upper_plus_lower_star<S>(p, end);  // c is U here: W alone matched above
  }
  if (c == CaseClass::kNumber) {
    const char* q = next;
    for (int n = 1; n < S.max_digits && q < end; ++n) {
      size_t l;
      if (case_at(q, &l) != CaseClass::kNumber) break;
      q += l;
    }
    return q;
  }
  const char* body = nullptr;
  if (is_punct(c)) {
    body = next;
  } else if (*p == ' ' && next < end) {
    size_t l;
    if (is_punct(case_at(next, &l))) body = next + l;
  }
  if (body) {
    while (body < end) {
      size_t l;
      if (!is_punct(case_at(body, &l))) break;
      body += l;
    }
    return trailer_end<S.slash_trailer>(body, end);
  }
  return whitespace_piece_end<S.whole_final_run>(p, end);
}

// ---- The 64-byte window of both shapes: a text's pieces from class masks
// of 64 ASCII bytes (simd::classify64), no branch per byte or per piece.
// With L letters (U = A-Z and W = a-z for the o200k shape), N digits,
// S White_Space, C = CR LF, B = S but C, O the rest, a piece starts at
// byte i when
//   - an L run starts at i and byte i - 1 is not its prefix; the prefix is
//     a B (always a piece start: nothing takes a B but a letter run) or an O
//     that starts a piece alone: an O run of one byte, not after a U+0020
//     (that space would take it, ` ?[^\s\p{L}\p{N}]+`), before the L run;
//   - i is that prefix;
//   - (o200k shape) a U follows a W at i: a letter piece is a U run, then
//     a W run, as U and W are disjoint in ASCII (U* gives nothing back);
//   - a digit group starts at i: an N run's start, then every 3rd digit of
//     the run (or every digit when groups are single);
//   - an O run starts at i and byte i - 1 is not U+0020; else i - 1. An O
//     run's trailer (`[\r\n]*`, or `[\r\n/]*` for the o200k shape) is the
//     run of trailer bytes after it from its first C on; a slash in it
//     belongs to no O run;
//   - in an S run, i is the first byte that is not a trailer, or the byte
//     after the run's last C (`\s*[\r\n]`), or the run's last byte, not a
//     C, when a non-space follows (`\s+(?!\S)`, or that byte being a
//     prefix);
//   - a contraction ends at i: for the cl100k shape one that starts at an
//     apostrophe that is a letter run's prefix; for the o200k shape one
//     that follows a letter piece (an apostrophe after a letter that is not
//     a contraction's own) and ends it. The bytes inside it start nothing.
// At the text's end (known here only when the text ends inside the window)
// the window holds spaces after the text: an S run goes on into them, which
// gives `\s+(?!\S)` its answer there, and kCl100k's `\s++$` keeps the final
// run whole. Whether i starts a piece depends on bytes before it, on bytes i
// and i + 1 (i + 2 at an o200k-shape apostrophe after a letter: whether a
// contraction follows) and, inside an S run, on where the run ends; so
// starts are final below the byte before the first unknown one (non-ASCII,
// or past the window), below the second byte of an S run that reaches it,
// and below such an apostrophe that needs a byte past the window.
template <Spec S>
size_t pattern_window(std::string_view text, size_t pos, PretokenWindow& w) {
  static_assert(S.max_digits == 1 || S.max_digits == 3);
  constexpr size_t kN = PretokenWindow::kBytes;
  const size_t avail = simd::fill_window(text, pos, w);
  if (avail == 0) return 0;
  const simd::ClassMasks m = simd::classify64(w.bytes);
  const auto run_starts = [](uint64_t x) { return x & ~(x << 1); };
  const uint64_t white = m.white, crlf = m.crlf;
  const uint64_t other = ~(m.white | m.high | m.letter | m.digit);

  // The trailers: in each run of trailer bytes, the bytes from its first C
  // after an O on. Adding those C bits to the runs carries from a run's
  // first one through its end, so the sum differs from the runs on those
  // bytes but at the run's later C-after-O bits (a slash's), put back by `|`.
  const uint64_t trailing = S.slash_trailer ? crlf | m.slash : crlf;
  const uint64_t trailer_firsts = crlf & (other << 1);
  const uint64_t trailer = (((trailing + trailer_firsts) ^ trailing) & trailing) | trailer_firsts;
  const uint64_t letter_runs = run_starts(m.letter);
  const uint64_t other_runs = run_starts(other & ~trailer);
  const uint64_t other_starts = other_runs & ~(m.space << 1);  // else the U+0020 before starts the piece
  const uint64_t prefix = (letter_runs >> 1) & ((white & ~crlf) | other_starts);
  uint64_t digit_starts = m.digit;
  if constexpr (S.max_digits == 3) {
    digit_starts = run_starts(m.digit);
    // A group start with 3 digits after it (4 in a row) puts one 3 further on.
    const uint64_t four = m.digit & (m.digit >> 1) & (m.digit >> 2) & (m.digit >> 3);
    for (uint64_t g = digit_starts & four; g != 0; g = (g << 3) & four) digit_starts |= g << 3;
  }
  // S bytes with a C at or after them in their run: C spread backwards
  // through S runs, doubling the reach each step (6 steps cover 64 bytes).
  uint64_t crlf_ahead = crlf, run = white;
  for (int k = 1; k < 64; k *= 2) {
    crlf_ahead |= (crlf_ahead >> k) & run;
    run &= run >> k;
  }
  const uint64_t after_last_crlf = white & ~crlf_ahead & (crlf << 1);
  const uint64_t white_firsts = run_starts(white & ~trailer);
  // Holds the B prefixes of letters and the spaces of punctuation too.
  const uint64_t white_lasts = white & ~crlf & ~(white >> 1);
  // The O prefixes are O piece starts.
  uint64_t starts =
      (letter_runs & ~(prefix << 1)) | digit_starts | other_starts | white_firsts | after_last_crlf | white_lasts | 1;
  if constexpr (S.by_case) starts |= m.upper & ((m.letter & ~m.upper) << 1);
  size_t undecided = kN;  // an apostrophe whose contraction needs bytes past the window
  if constexpr (S.contractions == Contractions::kAlone) {
    // Each one changes starts only among its own letters and the byte after it.
    for (uint64_t a = m.apostrophe & prefix; a != 0; a &= a - 1) {
      const int i = std::countr_zero(a);
      if (const size_t len = contraction_length(w.bytes + i, w.bytes + sizeof w.bytes)) {
        starts &= ~(((uint64_t{1} << (len - 1)) - 1) << (i + 1));
        if (i + len < kN) starts |= uint64_t{1} << (i + len);
      }
    }
  } else if constexpr (S.contractions == Contractions::kSuffix) {
    // In order: an apostrophe after a contraction's last letter follows no
    // letter piece, so no contraction starts there.
    uint64_t taken = 0;
    for (uint64_t a = m.apostrophe & (m.letter << 1); a != 0; a &= a - 1) {
      const int i = std::countr_zero(a);
      if ((taken >> (i - 1)) & 1) continue;
      if (avail == kN && i + 2 >= static_cast<int>(kN)) {  // the spaces after the window are not the text's
        undecided = static_cast<size_t>(i);
        break;
      }
      if (const size_t len = contraction_length(w.bytes + i, w.bytes + sizeof w.bytes)) {
        const uint64_t bytes = ((uint64_t{1} << len) - 1) << i;
        starts &= ~bytes;
        taken |= bytes;
        if (i + len < kN) starts |= uint64_t{1} << (i + len);
      }
    }
  }

  const size_t known = m.high ? static_cast<size_t>(std::countr_zero(m.high)) : kN;
  // First byte of the S run that ends at byte `last` (S), from the non-S bytes below it.
  const auto white_run_first = [&](size_t last) {
    const uint64_t below = ~white & ((uint64_t{1} << last) - 1);
    return below ? 64 - static_cast<size_t>(std::countl_zero(below)) : 0;
  };
  if (avail < kN && known >= avail) {  // the text ends here and every byte is known
    uint64_t in_text = (uint64_t{1} << avail) - 1;
    if constexpr (S.whole_final_run) {
      if ((white >> (avail - 1)) & 1) {  // `\s++$`: the final run from its first start on is one piece
        const uint64_t final_run = in_text & ~((uint64_t{1} << white_run_first(avail - 1)) - 1);
        in_text &= ~(after_last_crlf & ~white_firsts & final_run);
      }
    }
    w.starts = starts & in_text;
    w.covered = avail;
    return avail;
  }
  size_t final_below = known > 0 ? known - 1 : 0;
  if (known > 0 && ((white >> (known - 1)) & 1)) {
    final_below = std::min(final_below, white_run_first(known - 1) + 1);
  }
  final_below = std::min(final_below, undecided);
  if (final_below <= 1) {  // nothing but the piece at pos, which may run on
    w.covered = 0;
    return 0;
  }
  // The piece at the last final start may run on.
  starts &= (uint64_t{1} << final_below) - 1;
  const size_t last = 63 - static_cast<size_t>(std::countl_zero(starts));
  w.starts = starts & ~(uint64_t{1} << last);
  w.covered = last;
  return last;
}

// ---- ASCII fast path: most pieces of prose and code are decided from a
// byte table for their first two bytes and, for a run, one 16-byte SIMD
// compare, without going through the alternatives one character at a time.
// It decides only when the bytes it looks at (the piece and the one after
// it) are ASCII; anything else (non-ASCII next to the piece, a run that
// reaches the 16th byte, the text's last 17 bytes) goes to the general
// scanner above, or to the run scanners where only a run's end is left to
// find. For ASCII, \p{L} is A-Z a-z (Lu = A-Z, Ll = a-z, no Lt Lm Lo M),
// \p{N} is 0-9, \s is \t \n \v \f \r and U+0020, every other byte "other".

enum AsciiClass : uint8_t {
  kAsciiLower = 1,
  kAsciiUpper = 2,
  kAsciiDigit = 4,
  kAsciiBlank = 8,   // White_Space but CR and LF
  kAsciiCrLf = 16,
  kAsciiOther = 32,
  kAsciiHigh = 64,   // part of a multi-byte character
  kAsciiLetter = kAsciiLower | kAsciiUpper,
  kAsciiPrefix = kAsciiBlank | kAsciiOther,  // [^\r\n\p{L}\p{N}] in ASCII
};

constexpr uint8_t ascii_class_of(int b) {
  if (b >= 0x80) return kAsciiHigh;
  if (b >= 'a' && b <= 'z') return kAsciiLower;
  if (b >= 'A' && b <= 'Z') return kAsciiUpper;
  if (b >= '0' && b <= '9') return kAsciiDigit;
  if (b == '\r' || b == '\n') return kAsciiCrLf;
  if (b == ' ' || b == '\t' || b == '\v' || b == '\f') return kAsciiBlank;
  return kAsciiOther;
}

struct AsciiClassTable {
  uint8_t c[256];
  constexpr AsciiClassTable() : c{} {
    for (int b = 0; b < 256; ++b) c[b] = ascii_class_of(b);
  }
};
constexpr AsciiClassTable kAsciiClass;

inline uint8_t ascii_class(const char* p) { return kAsciiClass.c[static_cast<uint8_t>(*p)]; }

// The fast path answers offsets from `begin`, and hands every case it does
// not decide to the general scanner itself, so that every way out of it, the
// cold ones too, is a tail call and the common pieces need no stack frame.

template <Spec S>
[[gnu::noinline]] size_t general_end_at(const char* begin, const char* p, const char* end) {
  return static_cast<size_t>(
      (S.by_case ? o200k_piece_end_general<S>(p, end) : cl100k_piece_end_general<S>(p, end)) - begin);
}

[[gnu::noinline]] size_t letters_end_at(const char* begin, const char* p, const char* end) {
  return static_cast<size_t>(letters_end(p, end) - begin);
}

template <Spec S>
[[gnu::noinline]] size_t lower_end_at(const char* begin, const char* p, const char* end) {
  return static_cast<size_t>(with_contraction<S>(lower_run_end(p, end), end) - begin);
}

inline size_t at(const char* begin, const char* p) { return static_cast<size_t>(p - begin); }

}  // namespace
}  // namespace sp
#endif  // SP_PRETOKENIZER_PATTERNS_ONCE

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "pretokenizer_patterns.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

#include "pretokenizer_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace sp {
namespace {
namespace HWY_NAMESPACE {
using simd::HWY_NAMESPACE::LeadingLetters16;
using simd::HWY_NAMESPACE::LeadingLower16;
using simd::HWY_NAMESPACE::LeadingWhite16;
// End of the letter run from p (16 bytes readable from p).
inline size_t ascii_letters_end(const char* begin, const char* p, const char* end) {
  const unsigned k = LeadingLetters16(p);
  if (k < 16 && ascii_class(p + k) != kAsciiHigh) return at(begin, p + k);
  return letters_end_at(begin, p + k, end);
}

// W+ from p, then a contraction (o200k): the a-z run at one compare when 16
// bytes are readable from p and a non-ASCII byte does not continue it.
template <Spec S>
inline size_t ascii_lower_end(const char* begin, const char* p, const char* end) {
  if (end - p < 16) return lower_end_at<S>(begin, p, end);
  const unsigned k = LeadingLower16(p);
  if (k == 16 || ascii_class(p + k) == kAsciiHigh) return lower_end_at<S>(begin, p + k, end);
  return at(begin, with_contraction<S>(p + k, end));
}

// Digits, punctuation and white space at p (18 bytes readable), once the
// letter alternatives have failed; c0 and c1 are the classes of p[0], p[1].
// The general scanner decides when a non-ASCII byte or the window's end
// leaves it undecided.
template <Spec S>
inline size_t ascii_rest(const char* begin, const char* p, const char* end, uint8_t c0, uint8_t c1) {
  if (c0 == kAsciiDigit) {
    unsigned k = 1;
    if (c1 == kAsciiDigit && S.max_digits > 1) k = ascii_class(p + 2) == kAsciiDigit ? 3 : 2;
    if (k < static_cast<unsigned>(S.max_digits) && ascii_class(p + k) == kAsciiHigh) {
      return general_end_at<S>(begin, p, end);  // a non-ASCII digit may follow
    }
    return at(begin, p + k);
  }
  const char* q = c0 == kAsciiOther ? p + 1 : (*p == ' ' && c1 == kAsciiOther) ? p + 2 : nullptr;
  if (q) {  // ` ?[^\s\p{L}\p{N}]+` then its trailer
    const char* const stop = p + 16;
    while (q < stop && ascii_class(q) == kAsciiOther) ++q;
    if (q == stop || ascii_class(q) == kAsciiHigh) return general_end_at<S>(begin, p, end);
    return at(begin, trailer_end<S.slash_trailer>(q, end));
  }
  // A white-space run, which an ASCII non-space ends (so not at the text's end).
  uint32_t crlf;
  const unsigned k = LeadingWhite16(p, &crlf);
  if (k == 16 || ascii_class(p + k) == kAsciiHigh) return general_end_at<S>(begin, p, end);
  if (const uint32_t crlf_at = crlf & ((1u << k) - 1)) {
    return at(begin, p + (32 - __builtin_clz(crlf_at)));  // just past the run's last CR or LF
  }
  return at(begin, p + (k >= 2 ? k - 1 : k));
}

template <Spec S>
inline size_t cl100k_ascii_piece_end(const char* begin, const char* p, const char* end) {
  const uint8_t c0 = ascii_class(p);
  if (c0 & kAsciiLetter) return ascii_letters_end(begin, p + 1, end);
  if (c0 == kAsciiHigh) return general_end_at<S>(begin, p, end);
  if constexpr (S.contractions == Contractions::kAlone) {
    if (*p == '\'') {
      if (const size_t n = contraction_length(p, end)) return at(begin, p + n);
    }
  }
  const uint8_t c1 = ascii_class(p + 1);
  if ((c0 & kAsciiPrefix) && (c1 & kAsciiLetter)) return ascii_letters_end(begin, p + 2, end);
  if (c1 == kAsciiHigh) return general_end_at<S>(begin, p, end);  // maybe a letter after a prefix
  return ascii_rest<S>(begin, p, end, c0, c1);
}

// U* W+ contraction? | U+ W* contraction? from q (p or just after a prefix at
// p), whose class is c (U or W).
template <Spec S>
inline size_t ascii_cased_end(const char* begin, const char* p, const char* q, const char* end, uint8_t c) {
  if (c == kAsciiLower) return ascii_lower_end<S>(begin, q + 1, end);
  // In ASCII U and W are disjoint, so U* gives nothing back: W+ starts right
  // after the upper-case run or not at all.
  const char* r = q + 1;
  uint8_t d;
  while ((d = ascii_class(r)) == kAsciiUpper) {
    if (++r - q == 15) return general_end_at<S>(begin, p, end);
  }
  if (d == kAsciiLower) return ascii_lower_end<S>(begin, r + 1, end);
  if (d == kAsciiHigh) return general_end_at<S>(begin, p, end);
  return at(begin, with_contraction<S>(r, end));
}

template <Spec S>
inline size_t o200k_ascii_piece_end(const char* begin, const char* p, const char* end) {
  const uint8_t c0 = ascii_class(p);
  if (c0 & kAsciiLetter) return ascii_cased_end<S>(begin, p, p, end, c0);
  if (c0 == kAsciiHigh) return general_end_at<S>(begin, p, end);
  const uint8_t c1 = ascii_class(p + 1);
  if ((c0 & kAsciiPrefix) && (c1 & kAsciiLetter)) return ascii_cased_end<S>(begin, p, p + 1, end, c1);
  if (c1 == kAsciiHigh) return general_end_at<S>(begin, p, end);  // maybe a letter or mark after a prefix
  return ascii_rest<S>(begin, p, end, c0, c1);
}

// The fast path reads up to 18 bytes from p: 16 from a letter run's start.
constexpr ptrdiff_t kAsciiAhead = 18;

template <Spec S>
size_t scan(std::string_view text, size_t pos) {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* const p = begin + pos;
  if (end - p >= kAsciiAhead) {
    return S.by_case ? o200k_ascii_piece_end<S>(begin, p, end) : cl100k_ascii_piece_end<S>(begin, p, end);
  }
  return general_end_at<S>(begin, p, end);
}

// Every pattern's scanner for this target, by PretokenPattern value.
const PretokenEndFunction* Scanners() {
  static constexpr PretokenEndFunction kScanners[] = {
      &gpt2_pretoken_end, &scan<kCl100kSpec>,      &scan<kLlama3Spec>,      &scan<kQwen2Spec>,
      &scan<kO200kSpec>,  &scan<kMegatronV1Spec>, &scan<kMegatronV2Spec>,
  };
  return kScanners;
}


}  // namespace HWY_NAMESPACE
}  // namespace
}  // namespace sp
HWY_AFTER_NAMESPACE();
#if HWY_ONCE
namespace sp {
namespace {

constexpr const PretokenEndFunction* (*kScanners[])() = SP_SIMD_TABLE(Scanners);

// This process's target's scanners, chosen at first use (simd::dispatch_targets).
std::atomic<const PretokenEndFunction*> g_scanners{nullptr};

const PretokenEndFunction* scanners() {
  const PretokenEndFunction* s = g_scanners.load(std::memory_order_relaxed);
  if (s == nullptr) {
    s = simd::pick(kScanners, simd::dispatch_targets())();
    g_scanners.store(s, std::memory_order_relaxed);
  }
  return s;
}

// Regex spellings as they appear in the files, and the pattern of each.
struct Spelling {
  std::string_view regex;
  PretokenPattern pattern;
};

constexpr std::string_view kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// tiktoken's gpt2/r50k/p50k since 0.8 (possessive, same split).
constexpr std::string_view kGpt2PossessiveRegex =
    R"('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)";
constexpr std::string_view kCl100kRegex =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+)"
    R"(|\s++$|\s*[\r\n]|\s+(?!\S)|\s)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*)"
    R"(|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kO200kRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
    R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kMegatronV1Regex =
    R"([^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
constexpr std::string_view kMegatronV2Regex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|)"
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|)"
    R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr Spelling kSpellings[] = {
    {kGpt2Regex, PretokenPattern::kGpt2},
    {kGpt2PossessiveRegex, PretokenPattern::kGpt2},
    {kCl100kRegex, PretokenPattern::kCl100k},
    // tiktoken's cl100k_base before 0.8 spelled it as Llama-3 does; that
    // spelling splits as Llama-3 (no \s++$), so it maps there.
    {kLlama3Regex, PretokenPattern::kLlama3},
    {kQwen2Regex, PretokenPattern::kQwen2},
    {kO200kRegex, PretokenPattern::kO200k},
    {kMegatronV1Regex, PretokenPattern::kMegatronV1},
    {kMegatronV2Regex, PretokenPattern::kMegatronV2},
};

}  // namespace

namespace simd {
void choose_pattern_scanners_again() { g_scanners.store(nullptr, std::memory_order_relaxed); }
}  // namespace simd

size_t pretoken_end(PretokenPattern p, std::string_view text, size_t pos) {
  return pretoken_end_function(p)(text, pos);
}

PretokenWindowFunction pretoken_window_function(PretokenPattern p) {
  switch (p) {
    case PretokenPattern::kGpt2: return &gpt2_pretoken_window;
    case PretokenPattern::kCl100k: return &pattern_window<kCl100kSpec>;
    case PretokenPattern::kLlama3: return &pattern_window<kLlama3Spec>;
    case PretokenPattern::kQwen2: return &pattern_window<kQwen2Spec>;
    case PretokenPattern::kO200k: return &pattern_window<kO200kSpec>;
    case PretokenPattern::kMegatronV1: return &pattern_window<kMegatronV1Spec>;
    case PretokenPattern::kMegatronV2: return &pattern_window<kMegatronV2Spec>;
  }
  return nullptr;
}

PretokenEndFunction pretoken_end_function(PretokenPattern p) {
  const auto i = static_cast<size_t>(p);
  return i <= static_cast<size_t>(PretokenPattern::kMegatronV2) ? scanners()[i] : &gpt2_pretoken_end;
}

std::vector<std::string_view> pretokenize(PretokenPattern p, std::string_view text) {
  std::vector<std::string_view> pieces;
  if (p == PretokenPattern::kGpt2) {
    gpt2_pretokenize(text, pieces);
    return pieces;
  }
  for (size_t pos = 0; pos < text.size();) {
    const size_t next = pretoken_end(p, text, pos);
    pieces.push_back(text.substr(pos, next - pos));
    pos = next;
  }
  return pieces;
}

std::optional<PretokenPattern> pretoken_pattern_for_regex(std::string_view regex) {
  for (const Spelling& s : kSpellings) {
    if (s.regex == regex) return s.pattern;
  }
  return std::nullopt;
}

std::optional<PretokenPattern> pretoken_pattern_by_name(std::string_view name) {
  if (name == "gpt2" || name == "r50k_base" || name == "p50k_base" || name == "p50k_edit") {
    return PretokenPattern::kGpt2;
  }
  if (name == "cl100k_base") return PretokenPattern::kCl100k;
  if (name == "o200k_base" || name == "o200k_harmony") return PretokenPattern::kO200k;
  if (name == "v1") return PretokenPattern::kMegatronV1;
  if (name == "v2") return PretokenPattern::kMegatronV2;
  return std::nullopt;
}

std::string_view pretoken_regex(PretokenPattern p) {
  switch (p) {
    case PretokenPattern::kGpt2: return kGpt2PossessiveRegex;
    case PretokenPattern::kCl100k: return kCl100kRegex;
    case PretokenPattern::kLlama3: return kLlama3Regex;
    case PretokenPattern::kQwen2: return kQwen2Regex;
    case PretokenPattern::kO200k: return kO200kRegex;
    case PretokenPattern::kMegatronV1: return kMegatronV1Regex;
    case PretokenPattern::kMegatronV2: return kMegatronV2Regex;
  }
  return kGpt2Regex;
}

}  // namespace sp
#endif  // HWY_ONCE
