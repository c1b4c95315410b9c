// A fixed-size, zero-filled, 64-byte aligned array for the big lookup tables of the hot loops
// (BPE caches, vocabulary): megabytes that are probed at random. Backed by
// anonymous memory aligned to 2 MiB with transparent huge pages requested,
// so a table costs a few page faults instead of thousands (a fresh process
// pays each one, and under virtualization they are slow) and a probe rarely
// misses the TLB. Where huge pages are off it is plain zeroed memory.
//
// T must be trivially copyable with all-zero bytes as its empty value.
#pragma once

#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

namespace sp {

namespace detail {
// Zero-filled memory of at least `bytes`; never fails (throws std::bad_alloc).
void* large_table_allocate(size_t bytes);
void large_table_free(void* p, size_t bytes);
}  // namespace detail

template <class T>
class LargeTable {
  static_assert(std::is_trivially_copyable_v<T>, "LargeTable holds plain data");

 public:
  LargeTable() = default;
  explicit LargeTable(size_t size) { assign_zero(size); }
  LargeTable(const LargeTable& o) : LargeTable(o.size_) {
    if (size_) std::memcpy(data_, o.data_, size_ * sizeof(T));
  }
  LargeTable(LargeTable&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  LargeTable& operator=(LargeTable o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  ~LargeTable() { release(); }

  // Replaces the contents with `size` zeroed elements.
  void assign_zero(size_t size) {
    release();
    if (size == 0) return;
    data_ = static_cast<T*>(detail::large_table_allocate(size * sizeof(T)));
    size_ = size;
  }
  void fill_zero() {
    if (size_) std::memset(static_cast<void*>(data_), 0, size_ * sizeof(T));
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  void release() {
    if (data_) detail::large_table_free(data_, size_ * sizeof(T));
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sp
