// Runs a test body once per SIMD target of the pre-tokenizer kernels
// (src/pretokenizer_simd.h) that this build compiled and this CPU runs, with
// the kernels forced to that target, then restores the CPU's own choice.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "hwy/targets.h"
#include "pretokenizer_simd.h"

namespace sp::test {

// The targets for_each_simd_target visits (HWY_* bits): at least the best one.
inline int64_t runnable_simd_targets() { return simd::cpu_targets() & simd::compiled_targets(); }

template <class Body>
void for_each_simd_target(Body&& body) {
  const int64_t targets = runnable_simd_targets();
  for (int64_t rest = targets; rest != 0; rest &= rest - 1) {
    const int64_t t = rest & -rest;
    simd::set_cpu_targets_for_test(t);
    simd::choose_target_again();
    const std::string name = hwy::TargetName(t);
    ASSERT_EQ(simd::target_name(), name);  // the kernels really run on t
    SCOPED_TRACE("SIMD target " + name);
    std::printf("[ SIMD     ] %s\n", name.c_str());
    body(name);
    if (::testing::Test::HasFatalFailure()) break;
  }
  simd::set_cpu_targets_for_test(0);
  simd::choose_target_again();
}

}  // namespace sp::test
