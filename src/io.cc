#include "sp/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sp/error.h"

namespace sp {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

UniqueFd open_for_reading(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw IoError(errno, errno_message("cannot open", path));
  return fd;
}

std::string read_file(const std::string& path) {
  UniqueFd owned;
  int fd = STDIN_FILENO;
  if (path != "-") {
    owned = open_for_reading(path);
    fd = owned.get();
  }
  const std::string& name = path == "-" ? std::string("<stdin>") : path;
  std::string text;
  struct stat st;
  // A regular file is read into a buffer of its size at once; anything else
  // (a pipe, a FIFO) in pieces until the end.
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    text.resize(static_cast<size_t>(st.st_size));
    const size_t got = pread_full(fd, text.data(), text.size(), 0, name);
    text.resize(got);
    // A file that grew after the fstat: take the rest too.
    char buf[1 << 16];
    for (uint64_t off = got;;) {
      const size_t n = pread_full(fd, buf, sizeof buf, off, name);
      if (n == 0) break;
      text.append(buf, n);
      off += n;
    }
    return text;
  }
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) throw Error("cannot read '" + name + "': it is a directory");
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw IoError(errno, errno_message("cannot read", name));
    if (r == 0) break;
    text.append(buf, static_cast<size_t>(r));
  }
  return text;
}

size_t pread_full(int fd, void* dst, size_t n, uint64_t offset, const std::string& path) {
  char* p = static_cast<char*>(dst);
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw IoError(errno, errno_message("cannot read", path));
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

// write(2), or pwrite(2) when offset >= 0, until everything is out (either
// may write less than asked, or be interrupted).
static void write_loop(int fd, const char* p, size_t n, int64_t offset, const std::string& path) {
  while (n) {
    const ssize_t w = offset < 0 ? ::write(fd, p, n) : ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError(errno, errno_message("cannot write", path));
    }
    if (w == 0) throw IoError(ENOSPC, "cannot write '" + path + "': the device accepts no more bytes");
    p += w, n -= static_cast<size_t>(w);
    if (offset >= 0) offset += w;
  }
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  write_loop(fd, static_cast<const char*>(data), n, -1, path);
}

void pwrite_all(int fd, const void* data, size_t n, uint64_t offset, const std::string& path) {
  write_loop(fd, static_cast<const char*>(data), n, static_cast<int64_t>(offset), path);
}

}  // namespace sp
