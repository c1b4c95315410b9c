// Dispatch of the pre-tokenizer's SIMD kernels (pretokenizer_simd-inl.h): the
// target is chosen once, at first use, and the chosen kernel stored in a
// plain function pointer, so a 64-byte window pays one indirect call and no
// per-call target check (Highway's HWY_DYNAMIC_DISPATCH reads its global
// choice on every call).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "pretokenizer_simd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

#include "pretokenizer_simd-inl.h"

#if HWY_ONCE
#include <cstdlib>
#include <string>
#include <strings.h>
#if HWY_ARCH_X86
#include <cpuid.h>
#elif HWY_ARCH_ARM_A64
#include <sys/auxv.h>
#endif

#include "sp/error.h"

namespace sp::simd {

namespace {

constexpr Classify64Function kClassify64[] = SP_SIMD_TABLE(Classify64);
constexpr CutClasses64Function kCutClasses64[] = SP_SIMD_TABLE(CutClasses64);
constexpr ByteMask64Function kByteMask64[] = SP_SIMD_TABLE(ByteMask64);

std::atomic<int64_t> g_targets{0};         // 0 until chosen
std::atomic<int64_t> g_cpu_for_test{0};    // 0: none

int64_t choose_targets() {
  const int64_t available = cpu_targets() & HWY_TARGETS;
  const char* forced = std::getenv("SP_SIMD_TARGET");
  if (forced == nullptr || *forced == '\0') return available;
  std::string names;
  for (int64_t rest = available; rest != 0; rest &= rest - 1) {
    const int64_t t = rest & -rest;
    if (strcasecmp(forced, hwy::TargetName(t)) == 0) return t;
    names += std::string(names.empty() ? "" : ", ") + hwy::TargetName(t);
  }
  throw UsageError("SP_SIMD_TARGET=" + std::string(forced) +
                   " is not a SIMD target of this build that this CPU supports (those are: " + names + ")");
}

void classify64_first_use(const char* p, ClassMasks* m) {
  const Classify64Function f = pick(kClassify64, dispatch_targets());
  classify64_kernel.store(f, std::memory_order_relaxed);
  f(p, m);
}

void cut_classes64_first_use(const char* p, CutClasses* out) {
  const CutClasses64Function f = pick(kCutClasses64, dispatch_targets());
  cut_classes64_kernel.store(f, std::memory_order_relaxed);
  f(p, out);
}

uint64_t byte_mask64_first_use(const char* p, char byte) {
  const ByteMask64Function f = pick(kByteMask64, dispatch_targets());
  byte_mask64_kernel.store(f, std::memory_order_relaxed);
  return f(p, byte);
}

}  // namespace

std::atomic<Classify64Function> classify64_kernel{&classify64_first_use};
std::atomic<ByteMask64Function> byte_mask64_kernel{&byte_mask64_first_use};
std::atomic<CutClasses64Function> cut_classes64_kernel{&cut_classes64_first_use};

#if HWY_ARCH_X86
namespace {
// CPUID.1:ECX.F16C (clang's __builtin_cpu_supports does not know "f16c").
bool has_f16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
}  // namespace
#endif

int64_t cpu_targets() {
  if (const int64_t t = g_cpu_for_test.load(std::memory_order_relaxed)) return t;
  int64_t t = HWY_SCALAR | HWY_EMU128;  // the fallbacks run anywhere
#if HWY_ARCH_X86
  // libgcc's CPU model also checks that the OS saves the AVX / AVX-512 registers.
  __builtin_cpu_init();
  const bool ssse3 = __builtin_cpu_supports("sse2") && __builtin_cpu_supports("ssse3");
  const bool sse4 = ssse3 && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("sse4.2") &&
                    __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("aes");
  const bool avx2 = sse4 && __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
                    __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                    __builtin_cpu_supports("fma") && has_f16c();
  const bool avx3 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
  if (ssse3) t |= HWY_SSSE3;
  if (sse4) t |= HWY_SSE4;
  if (avx2) t |= HWY_AVX2;
  if (avx3) t |= HWY_AVX3;
#elif HWY_ARCH_ARM_A64
  t |= HWY_NEON;  // part of ARMv8-A
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  if (hwcap & HWCAP_SVE) t |= HWY_SVE;
  if ((hwcap & HWCAP_SVE) && (hwcap2 & HWCAP2_SVE2) && (hwcap2 & HWCAP2_SVEAES)) t |= HWY_SVE2;  // "+sve2-aes"
#endif
  return t;
}

void set_cpu_targets_for_test(int64_t targets) { g_cpu_for_test.store(targets, std::memory_order_relaxed); }

int64_t dispatch_targets() {
  int64_t t = g_targets.load(std::memory_order_relaxed);
  if (t == 0) {
    t = choose_targets();
    g_targets.store(t, std::memory_order_relaxed);
  }
  return t;
}

int64_t compiled_targets() { return HWY_TARGETS; }

const char* target_name() {
  const int64_t t = dispatch_targets();
  return hwy::TargetName(t & -t);  // the best: lower bits are the better targets
}

void choose_target_again() {
  g_targets.store(choose_targets(), std::memory_order_relaxed);
  classify64_kernel.store(&classify64_first_use, std::memory_order_relaxed);
  cut_classes64_kernel.store(&cut_classes64_first_use, std::memory_order_relaxed);
  byte_mask64_kernel.store(&byte_mask64_first_use, std::memory_order_relaxed);
  choose_pattern_scanners_again();
}

}  // namespace sp::simd
#endif  // HWY_ONCE
