// LargeTable: zero-filled, cache-line aligned, deep copies, huge-page sized
// tables behave like small ones.
#include "sp/large_table.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace sp {
namespace {

struct alignas(64) Entry {
  uint64_t a, b;
  uint32_t c[4];
};

TEST(LargeTable, StartsZeroedAndAligned) {
  for (size_t n : {size_t{1}, size_t{1000}, size_t{1} << 15, (size_t{3} << 20) / sizeof(Entry) + 7}) {
    LargeTable<Entry> t(n);
    ASSERT_EQ(t.size(), n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u) << n;
    for (size_t i = 0; i < n; i += 97) ASSERT_EQ(t[i].a | t[i].b | t[i].c[0] | t[i].c[3], 0u) << n << " " << i;
    t[n - 1].a = 42;  // the last element is writable
    EXPECT_EQ(t[n - 1].a, 42u);
  }
}

TEST(LargeTable, FillZeroClearsEverything) {
  LargeTable<uint64_t> t(size_t{1} << 18);  // 2 MiB: the huge-page path
  for (size_t i = 0; i < t.size(); ++i) t[i] = i + 1;
  t.fill_zero();
  for (size_t i = 0; i < t.size(); ++i) ASSERT_EQ(t[i], 0u) << i;
}

TEST(LargeTable, CopiesAreDeepAndMovesTransfer) {
  LargeTable<uint32_t> a(size_t{1} << 19);
  a[5] = 7;
  LargeTable<uint32_t> b = a;
  b[5] = 9;
  EXPECT_EQ(a[5], 7u);
  EXPECT_EQ(b[5], 9u);
  LargeTable<uint32_t> c = std::move(b);
  EXPECT_EQ(c[5], 9u);
  EXPECT_TRUE(b.empty());
  c.assign_zero(3);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0] + c[1] + c[2], 0u);
  LargeTable<uint32_t> empty;
  EXPECT_TRUE(empty.empty());
  empty = a;
  EXPECT_EQ(empty[5], 7u);
}

}  // namespace
}  // namespace sp
