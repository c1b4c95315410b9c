// The low-level I/O every tool goes through, with one error policy: each
// failure throws sp::IoError (an sp::Error with the errno) whose message names the operation and the path
// ("cannot read 'x': Input/output error"); EINTR is retried; a short read or
// write is continued, never mistaken for the end. Nothing here prints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sp {

// An owning file descriptor: closed when it goes out of scope.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// open(path, O_RDONLY | O_CLOEXEC); throws Error ("cannot open 'path': ...").
UniqueFd open_for_reading(const std::string& path);

// The whole file ("-" = standard input). Throws Error.
std::string read_file(const std::string& path);

// Up to n bytes at `offset` (fewer only at the end of the file); throws Error.
size_t pread_full(int fd, void* dst, size_t n, uint64_t offset, const std::string& path);

// All n bytes, at the file position (write_all) or at `offset` (pwrite_all);
// `path` names the file in the error. Throws Error (ENOSPC, EIO, ...).
void write_all(int fd, const void* data, size_t n, const std::string& path);
void pwrite_all(int fd, const void* data, size_t n, uint64_t offset, const std::string& path);

}  // namespace sp
