// The pre-tokenizer's SIMD kernels, compiled once per Highway target: a file
// that includes this after hwy/foreach_target.h gets them in each target's
// namespace sp::simd::HWY_NAMESPACE (pretokenizer_simd.cc dispatches the
// windows' 64-byte classifier, pretokenizer_patterns.cc builds its scanners per target
// on the 16-byte run tests). Bytes are compared as int8 lanes, so every target
// reads the same classes from the same bytes.
#if defined(SP_PRETOKENIZER_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SP_PRETOKENIZER_SIMD_INL_H_
#undef SP_PRETOKENIZER_SIMD_INL_H_
#else
#define SP_PRETOKENIZER_SIMD_INL_H_
#endif

#include <cstdint>
#include <cstring>

#include "hwy/highway.h"

#include "pretokenizer_simd.h"

HWY_BEFORE_NAMESPACE();
namespace sp::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_SCALAR
// Highway's one-lane fallback (x86-64 CPUs without SSSE3, where GCC < 12.3
// cannot build its 128-bit emulation): the same classes, byte by byte.

inline bool IsWhite(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

inline HWY_NOINLINE void Classify64(const char* p, ClassMasks* out) {
  ClassMasks m;
  for (int i = 0; i < 64; ++i) {
    const auto c = static_cast<uint8_t>(p[i]);
    const uint64_t bit = uint64_t{1} << i;
    if (c >= 0x80) m.high |= bit;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') m.letter |= bit;
    if (c >= 'A' && c <= 'Z') m.upper |= bit;
    if (c >= '0' && c <= '9') m.digit |= bit;
    if (c == ' ') m.space |= bit;
    if (IsWhite(c)) m.white |= bit;
    if (c == '\'') m.apostrophe |= bit;
    if (c == '\r' || c == '\n') m.crlf |= bit;
    if (c == '/') m.slash |= bit;
  }
  *out = m;
}

// Bit i: p[i] == byte, for i < 64.
inline HWY_NOINLINE uint64_t ByteMask64(const char* p, char byte) {
  uint64_t m = 0;
  for (int i = 0; i < 64; ++i) m |= uint64_t{p[i] == byte} << i;
  return m;
}

// Cut classes of p[0, 64) (CutClasses): reads p[-2, 66).
inline HWY_NOINLINE void CutClasses64(const char* p, CutClasses* out) {
  const auto at = [p](int k) { return static_cast<uint8_t>(p[k]); };
  uint64_t starts = 0, meta = 0;
  for (int i = 0; i < 64; ++i) {
    const uint8_t c = at(i);
    const bool first = c == 0xE2 && at(i + 1) == 0x96 && at(i + 2) == 0x81;
    const bool inside = first || (at(i - 1) == 0xE2 && c == 0x96 && at(i + 1) == 0x81) ||
                        (at(i - 2) == 0xE2 && at(i - 1) == 0x96 && c == 0x81);
    out->cls[CutClasses::kClsAt + i] = c < 0x80 ? c : inside ? CutClasses::kMetaspace : CutClasses::kOther;
    if ((c & 0xC0) != 0x80) starts |= uint64_t{1} << i;
    if (first) meta |= uint64_t{1} << i;
  }
  out->cls[CutClasses::kClsAt - 1] = 0;
  for (int i = 0; i < 64; ++i)
    out->pairs[i] = static_cast<uint16_t>(out->cls[CutClasses::kClsAt + i - 1] * CutClasses::kClasses +
                                          out->cls[CutClasses::kClsAt + i]);
  out->starts = starts, out->meta = meta;
}

template <class In>
HWY_INLINE unsigned Leading16(const char* p, In in) {
  unsigned k = 0;
  while (k < 16 && in(static_cast<uint8_t>(p[k]))) ++k;
  return k;
}

HWY_INLINE unsigned LeadingLetters16(const char* p) {
  return Leading16(p, [](uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; });
}

HWY_INLINE unsigned LeadingLower16(const char* p) {
  return Leading16(p, [](uint8_t c) { return c >= 'a' && c <= 'z'; });
}

HWY_INLINE unsigned LeadingWhite16(const char* p, uint32_t* crlf) {
  *crlf = 0;
  for (int i = 0; i < 16; ++i) {
    if (p[i] == '\r' || p[i] == '\n') *crlf |= 1u << i;
  }
  return Leading16(p, IsWhite);
}

#else

// Lanes of v in [lo, lo + n), with one signed compare: adding 128 - lo maps
// that range onto [-128, -128 + n) and every other byte value above it.
template <class D, class V>
HWY_INLINE auto InRange(D d, V v, int lo, int n) {
  return hn::Lt(hn::Add(v, hn::Set(d, static_cast<int8_t>(128 - lo))), hn::Set(d, static_cast<int8_t>(n - 128)));
}

// Mask m as bits (bit i = lane i). Read back at the width written, so the
// compiler keeps it in a register where the target has a movemask.
template <class D, class M>
HWY_INLINE uint64_t MaskBits(D d, M m) {
  uint8_t bytes[8] = {};
  hn::StoreMaskBits(d, m, bytes);
  const size_t n = hn::Lanes(d);
  if (n == 16) {
    uint16_t x;
    std::memcpy(&x, bytes, sizeof x);
    return x;
  }
  if (n == 32) {
    uint32_t x;
    std::memcpy(&x, bytes, sizeof x);
    return x;
  }
  uint64_t x;
  std::memcpy(&x, bytes, sizeof x);
  return x;
}

// The class masks of p[0, 64): one vector per 16, 32 or 64 bytes (SVE
// lanes are capped at 64 and come in powers of two, so they divide 64).
inline HWY_NOINLINE void Classify64(const char* p, ClassMasks* out) {
  const hn::CappedTag<int8_t, 64> d;
  const size_t n = hn::Lanes(d);
  ClassMasks m;
  for (size_t i = 0; i < 64; i += n) {
    const auto v = hn::LoadU(d, reinterpret_cast<const int8_t*>(p + i));
    const auto space = hn::Eq(v, hn::Set(d, int8_t{' '}));
    m.letter |= MaskBits(d, InRange(d, hn::Or(v, hn::Set(d, int8_t{0x20})), 'a', 26)) << i;  // A-Z folds onto a-z
    m.upper |= MaskBits(d, InRange(d, v, 'A', 26)) << i;
    m.digit |= MaskBits(d, InRange(d, v, '0', 10)) << i;
    m.space |= MaskBits(d, space) << i;
    m.white |= MaskBits(d, hn::Or(space, InRange(d, v, '\t', 5))) << i;  // \t \n \v \f \r
    m.apostrophe |= MaskBits(d, hn::Eq(v, hn::Set(d, int8_t{'\''}))) << i;
    m.crlf |= MaskBits(d, hn::Or(hn::Eq(v, hn::Set(d, int8_t{'\r'})), hn::Eq(v, hn::Set(d, int8_t{'\n'})))) << i;
    m.slash |= MaskBits(d, hn::Eq(v, hn::Set(d, int8_t{'/'}))) << i;
    m.high |= MaskBits(d, hn::Lt(v, hn::Zero(d))) << i;
  }
  *out = m;
}

// Bit i: p[i] == byte, for i < 64 (replace_byte's 64-byte blocks).
inline HWY_NOINLINE uint64_t ByteMask64(const char* p, char byte) {
  const hn::CappedTag<int8_t, 64> d;
  const size_t n = hn::Lanes(d);
  const auto b = hn::Set(d, static_cast<int8_t>(byte));
  uint64_t m = 0;
  for (size_t i = 0; i < 64; i += n) {
    m |= MaskBits(d, hn::Eq(hn::LoadU(d, reinterpret_cast<const int8_t*>(p + i)), b)) << i;
  }
  return m;
}

// Cut classes of p[0, 64) (CutClasses): reads p[-2, 66). A byte is inside a
// U+2581 when it is the first, second or third of E2 96 81, which the loads
// at -2 .. +2 test in each lane at once.
inline HWY_NOINLINE void CutClasses64(const char* p, CutClasses* out) {
  const hn::CappedTag<int8_t, 64> d;
  const size_t n = hn::Lanes(d);
  const auto e2 = hn::Set(d, static_cast<int8_t>(0xE2)), x96 = hn::Set(d, static_cast<int8_t>(0x96)),
             x81 = hn::Set(d, static_cast<int8_t>(0x81));
  const auto metaspace = hn::Set(d, static_cast<int8_t>(CutClasses::kMetaspace)),
             other = hn::Set(d, static_cast<int8_t>(CutClasses::kOther));
  uint64_t starts = 0, meta = 0;
  for (size_t i = 0; i < 64; i += n) {
    const int8_t* q = reinterpret_cast<const int8_t*>(p + i);
    const auto v = hn::LoadU(d, q), before1 = hn::LoadU(d, q - 1), before2 = hn::LoadU(d, q - 2),
               after1 = hn::LoadU(d, q + 1), after2 = hn::LoadU(d, q + 2);
    const auto first = hn::And(hn::Eq(v, e2), hn::And(hn::Eq(after1, x96), hn::Eq(after2, x81)));
    const auto second = hn::And(hn::Eq(before1, e2), hn::And(hn::Eq(v, x96), hn::Eq(after1, x81)));
    const auto third = hn::And(hn::Eq(before2, e2), hn::And(hn::Eq(before1, x96), hn::Eq(v, x81)));
    const auto high = hn::IfThenElse(hn::Or(first, hn::Or(second, third)), metaspace, other);
    hn::StoreU(hn::IfThenElse(hn::Lt(v, hn::Zero(d)), high, v), d,
               reinterpret_cast<int8_t*>(out->cls + CutClasses::kClsAt + i));
    starts |= MaskBits(d, hn::Not(InRange(d, v, 0x80, 0x40))) << i;  // not a continuation byte
    meta |= MaskBits(d, first) << i;
  }
  out->starts = starts, out->meta = meta;
  // Each boundary's pair of classes as one table index, so that the window
  // does one load per byte for it instead of two and an add.
  out->cls[CutClasses::kClsAt - 1] = 0;
  const hn::CappedTag<uint16_t, 32> dw;
  const hn::Rebind<uint8_t, decltype(dw)> dn;
  const uint8_t* cls = out->cls + CutClasses::kClsAt;
  for (size_t i = 0; i < 64; i += hn::Lanes(dw)) {
    const auto before = hn::PromoteTo(dw, hn::LoadU(dn, cls + i - 1));
    const auto here = hn::PromoteTo(dw, hn::LoadU(dn, cls + i));
    hn::StoreU(hn::Add(hn::Mul(before, hn::Set(dw, CutClasses::kClasses)), here), dw, out->pairs + i);
  }
}

// ---- 16-byte run tests for the patterns' ASCII fast path: the number of
// leading bytes of p[0, 16) in a class, 16 when all are.

using D16 = hn::FixedTag<int8_t, 16>;

// The complement's bit 16 is set, so an all-true mask counts 16 without a branch.
template <class M>
HWY_INLINE unsigned Leading16(M in) {
  return static_cast<unsigned>(__builtin_ctz(~static_cast<uint32_t>(MaskBits(D16(), in))));
}

HWY_INLINE hn::Vec<D16> Load16(const char* p) { return hn::LoadU(D16(), reinterpret_cast<const int8_t*>(p)); }

// A-Z a-z
HWY_INLINE unsigned LeadingLetters16(const char* p) {
  const D16 d;
  return Leading16(InRange(d, hn::Or(Load16(p), hn::Set(d, int8_t{0x20})), 'a', 26));
}

// a-z
HWY_INLINE unsigned LeadingLower16(const char* p) { return Leading16(InRange(D16(), Load16(p), 'a', 26)); }

// White space (U+0020 \t \n \v \f \r); *crlf gets the bits of p[0, 16) that are CR or LF.
HWY_INLINE unsigned LeadingWhite16(const char* p, uint32_t* crlf) {
  const D16 d;
  const auto v = Load16(p);
  *crlf = static_cast<uint32_t>(
      MaskBits(d, hn::Or(hn::Eq(v, hn::Set(d, int8_t{'\r'})), hn::Eq(v, hn::Set(d, int8_t{'\n'})))));
  return Leading16(hn::Or(hn::Eq(v, hn::Set(d, int8_t{' '})), InRange(d, v, '\t', 5)));
}

#endif  // HWY_TARGET == HWY_SCALAR

}  // namespace sp::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard (per target)
