// SIMD kernels of the pre-tokenizer scanners, one build per instruction set
// through Google Highway, and the choice among them. Each kernel turns bytes
// into per-byte class bit masks; what a piece is stays with the scanners
// (pretokenizer.cc, pretokenizer_patterns.cc), so every target cuts the same
// pieces. The target is chosen once per process, at first use: the best one
// the CPU supports among those compiled (x86-64: SSSE3, SSE4, AVX2, AVX3 and
// the scalar fallback; aarch64: NEON, SVE, SVE2), or the one named by the
// SP_SIMD_TARGET environment variable (Highway's names, e.g. AVX2, SSE4, NEON,
// SVE, SCALAR; one not compiled or not supported here is a UsageError).
//
// Highway is used from its headers only: the CPU's targets are read here
// (cpu_targets) rather than from libhwy.so, whose load-time timer calibration
// executes RDTSCP, which valgrind rejects on machines whose CPUID hides it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "hwy/targets.h"
#include "sp/pretokenizer.h"

namespace sp::simd {

// Per-byte class masks of 64 bytes of text (bit i = byte i), as the
// pre-tokenizer windows read them; a byte >= 0x80 is only `high`.
struct ClassMasks {
  uint64_t letter = 0;      // A-Z a-z
  uint64_t upper = 0;       // A-Z (the o200k shape's case classes)
  uint64_t digit = 0;       // 0-9
  uint64_t space = 0;       // U+0020
  uint64_t white = 0;       // U+0020 \t \n \v \f \r
  uint64_t apostrophe = 0;  // '
  uint64_t crlf = 0;        // \r \n (the cl100k and o200k shapes' line breaks)
  uint64_t slash = 0;       // / (the o200k shape's punctuation trailer)
  uint64_t high = 0;        // >= 0x80 (part of a multi-byte character)
};

using Classify64Function = void (*)(const char* p, ClassMasks* m);

// The kernel for this process's target; starts as a function that chooses the
// target, stores the chosen kernel here and runs it, so after the first
// window a call costs one load and one indirect call.
extern std::atomic<Classify64Function> classify64_kernel;

// Class masks of p[0, 64).
inline ClassMasks classify64(const char* p) {
  ClassMasks m;
  classify64_kernel.load(std::memory_order_relaxed)(p, &m);
  return m;
}

// What the window of a SentencePiece-style vocabulary's cuts (bpe_cuts.h)
// reads of 64 bytes: each byte's class as BpeCuts numbers characters (an
// ASCII byte is its own class; every byte of a U+2581 is kMetaspace, every
// byte of any other character kOther), the index in BpeCuts' table of the
// classes on each side of each boundary, where characters start, and where
// a U+2581 starts.
struct CutClasses {
  static constexpr uint8_t kMetaspace = 128, kOther = 129;
  static constexpr uint16_t kClasses = 130;
  // Byte i's class at cls[kClsAt + i]; cls[kClsAt - 1] is 0, so that the
  // pair before byte 0 is read from the same array (it is not used).
  static constexpr size_t kClsAt = 8;
  alignas(64) uint8_t cls[kClsAt + 64];
  alignas(64) uint16_t pairs[64];  // class of byte i - 1 times kClasses, plus that of byte i
  uint64_t starts;  // bit i: byte i is not a UTF-8 continuation byte (0x80-0xBF)
  uint64_t meta;    // bit i: bytes i, i + 1, i + 2 are E2 96 81
};

// The classes of p[0, 64); reads p[-2, 66). Bytes before p that are part of
// no character starting before p (the text starts at p, or p starts a
// character) give the same answer whatever they are.
using CutClasses64Function = void (*)(const char* p, CutClasses* out);
extern std::atomic<CutClasses64Function> cut_classes64_kernel;
inline void cut_classes64(const char* p, CutClasses* out) {
  cut_classes64_kernel.load(std::memory_order_relaxed)(p, out);
}

// Bit i set where p[i] == byte, for the 64 bytes at p (replace_byte.h).
using ByteMask64Function = uint64_t (*)(const char* p, char byte);
extern std::atomic<ByteMask64Function> byte_mask64_kernel;
inline uint64_t byte_mask64(const char* p, char byte) {
  return byte_mask64_kernel.load(std::memory_order_relaxed)(p, byte);
}

// The windows' first step (gpt2_pretoken_window, the cl100k and o200k
// shapes' windows): fills w.bytes with text[pos, pos + 64), spaces after the text's
// end and after the 64 bytes, and returns how many of them are text; or
// returns 0 (w.covered = 0) without copying when a byte of the first 8 is
// non-ASCII (most pieces of non-Latin text, and the neighbours of a curly
// quote in English), where the window could cover a piece or two at most,
// which the scanner finds for less than the cost of building the window.
inline size_t fill_window(std::string_view text, size_t pos, PretokenWindow& w) {
  constexpr size_t kN = PretokenWindow::kBytes;
  const size_t avail = std::min(text.size() - pos, kN);
  const char* src = text.data() + pos;
  if (avail >= 8) {
    uint64_t head;
    std::memcpy(&head, src, 8);
    if (head & 0x8080808080808080ull) {
      w.covered = 0;
      return 0;
    }
  } else if (static_cast<uint8_t>(src[0]) >= 0x80) {
    w.covered = 0;
    return 0;
  }
  if (avail == kN) {
    std::memcpy(w.bytes, src, kN);
  } else {
    std::memcpy(w.bytes, src, avail);
    std::memset(w.bytes + avail, ' ', kN - avail);
  }
  std::memset(w.bytes + kN, ' ', sizeof w.bytes - kN);
  return avail;
}

// The Highway targets this CPU runs (HWY_* bits): each needs every extension
// Highway compiles that target with (HWY_TARGET_STR), and the OS's support
// for the wider registers.
int64_t cpu_targets();

// The Highway targets to dispatch among: cpu_targets() and the compiled ones,
// or just the SP_SIMD_TARGET one. Computed once.
int64_t dispatch_targets();

// A table of one function's builds, indexed as Highway's HWY_EXPORT tables
// are (entry 0 unused), defined in the file that built them, after the passes.
#define SP_SIMD_TABLE(FUNC) {nullptr, HWY_CHOOSE_TARGET_LIST(FUNC), HWY_CHOOSE_FALLBACK(FUNC)}

// The entry of an SP_SIMD_TABLE for `targets`: the best of them compiled in
// the calling file (Highway's own index rule, without its global state).
template <class Function>
Function pick(Function const* table, int64_t targets) {
  hwy::ChosenTarget chosen;
  chosen.Update(targets);
  return table[chosen.GetIndex()];
}

// The targets compiled into the kernels (HWY_TARGETS of the library: HWY_*
// bits), whatever the CPU supports.
int64_t compiled_targets();

// Name of the target the kernels run now, e.g. "AVX2".
const char* target_name();

// For tests: from now on cpu_targets() returns `targets` (0: the CPU's own
// again); takes effect at choose_target_again.
void set_cpu_targets_for_test(int64_t targets);

// For tests: choose the target again (after set_cpu_targets_for_test or a
// change of SP_SIMD_TARGET), for the kernels here and the patterns'
// scanners. Not thread-safe against concurrent scanning.
void choose_target_again();

// Resets the patterns' chosen scanners (pretokenizer_patterns.cc).
void choose_pattern_scanners_again();

}  // namespace sp::simd
