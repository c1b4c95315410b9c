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

#include "sp/error.h"

namespace sp::simd {

HWY_EXPORT(Classify64);

namespace {

std::atomic<int64_t> g_targets{0};  // 0 until chosen

int64_t choose_targets() {
  const int64_t available = hwy::SupportedTargets() & HWY_TARGETS;
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
  const Classify64Function f = pick(HWY_DISPATCH_TABLE(Classify64), dispatch_targets());
  classify64_kernel.store(f, std::memory_order_relaxed);
  f(p, m);
}

}  // namespace

std::atomic<Classify64Function> classify64_kernel{&classify64_first_use};

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
  choose_pattern_scanners_again();
}

}  // namespace sp::simd
#endif  // HWY_ONCE
