#include "sp/large_table.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sp::detail {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
// Below this a table stays in ordinary pages: a mostly empty huge page
// would cost more memory than it saves faults.
constexpr size_t kHugeMin = size_t{1} << 20;

size_t mapped_bytes(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
}  // namespace

void* large_table_allocate(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kHugeMin) {
    // Map one huge page more than needed, then trim both ends so the table
    // starts on a 2 MiB boundary (mmap only promises 4 KiB alignment).
    const size_t len = mapped_bytes(bytes);
    void* raw = mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
    if (aligned > start) munmap(raw, aligned - start);
    const uintptr_t end = start + len + kHugePage;
    if (end > aligned + len) munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
    madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);  // advice only: fine if refused
    return reinterpret_cast<void*>(aligned);
  }
#endif
  // Cache-line aligned, like the huge-page tables (entries may be alignas(64)).
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return p;
}

void large_table_free(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kHugeMin) {
    munmap(p, mapped_bytes(bytes));
    return;
  }
#endif
  std::free(p);
}

}  // namespace sp::detail
