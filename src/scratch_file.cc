#include "sp/scratch_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "sp/error.h"
#include "sp/io.h"
#include "sp/fs.h"

namespace sp {

ScratchFile::ScratchFile(std::string near_path, bool try_tmpfile, size_t buffer_bytes)
    : near_(std::move(near_path)), capacity_(std::max<size_t>(buffer_bytes, 1)) {
  if (try_tmpfile) {
    fd_ = ::open(parent_dir(near_).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    anonymous_ = fd_ >= 0;
  }
  if (fd_ < 0) {
    // No O_TMPFILE here (EOPNOTSUPP on e.g. some network file systems; EISDIR
    // on kernels before 3.11): a private name, gone again a moment later.
    const std::string temp = temp_path_for(near_);
    fd_ = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0 && errno == EEXIST) {  // our host and pid: left by a dead process that had our pid
      ::unlink(temp.c_str());
      fd_ = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd_ < 0) throw Error(errno_message("cannot create scratch file", temp));
    if (::unlink(temp.c_str()) != 0) {
      const std::string why = errno_message("cannot unlink scratch file", temp);
      ::close(fd_);
      throw Error(why);
    }
  }
  buf_.reset(new char[capacity_]);
}

ScratchFile::ScratchFile(std::string path, uint64_t keep_bytes, size_t buffer_bytes)
    : near_(path), named_(std::move(path)), capacity_(std::max<size_t>(buffer_bytes, 1)) {
  fd_ = ::open(named_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(errno_message("cannot open", named_));
  if (::ftruncate(fd_, static_cast<off_t>(keep_bytes)) != 0) {
    const std::string why = errno_message("cannot cut back", named_);
    ::close(fd_);
    throw Error(why);
  }
  written_ = keep_bytes;
  buf_.reset(new char[capacity_]);
}

std::unique_ptr<ScratchFile> ScratchFile::resumable(const std::string& path, uint64_t keep_bytes, size_t buffer_bytes) {
  return std::unique_ptr<ScratchFile>(new ScratchFile(path, keep_bytes, buffer_bytes));
}

void ScratchFile::sync() {
  flush();
  if (sync_outputs() && ::fdatasync(fd_) != 0 && errno != EINVAL) throw Error(errno_message("cannot sync", near_));
}

void ScratchFile::remove() {
  if (!named_.empty() && ::unlink(named_.c_str()) != 0 && errno != ENOENT)
    throw Error(errno_message("cannot remove", named_));
}

ScratchFile::~ScratchFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ScratchFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n) {
    if (used_ == capacity_) flush();
    const size_t k = std::min(n, capacity_ - used_);
    std::memcpy(buf_.get() + used_, p, k);
    used_ += k, p += k, n -= k;
  }
}

void ScratchFile::flush() {
  pwrite_all(fd_, buf_.get(), used_, written_, "scratch file beside " + near_);
  written_ += used_;
  used_ = 0;
}

void ScratchFile::read_all(const std::function<void(const char*, size_t)>& consume, size_t piece) {
  flush();
  std::vector<char> buf(std::max<size_t>(piece, 1));
  uint64_t off = 0;
  while (off < written_) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), written_ - off));
    // Full pieces, so callers may rely on their size.
    const size_t got = pread_full(fd_, buf.data(), want, off, "scratch file beside " + near_);
    if (got != want) throw Error("scratch file beside '" + near_ + "' is shorter than what was written");
    consume(buf.data(), got);
    off += got;
  }
}

}  // namespace sp
