#include "sp/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "sp/error.h"
#include "sp/fs.h"

namespace sp {

namespace {

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : ByteSource(path) {
    if (path == "-") {
      fd_ = STDIN_FILENO;
      owned_ = false;
    } else {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) throw Error(errno_message("cannot open", path));
      (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
  }
  ~FileSource() override {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  size_t read(char* dst, size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, dst, n);
      if (r >= 0) {
        consumed_ += static_cast<uint64_t>(r);
        return static_cast<size_t>(r);
      }
      if (errno != EINTR) throw Error(errno_message("cannot read", path_));
    }
  }
  uint64_t raw_bytes_read() const override { return consumed_; }
  void skip(uint64_t n) override {
    if (!owned_) return ByteSource::skip(n);  // standard input cannot seek
    struct stat st;
    if (::fstat(fd_, &st) != 0) throw Error(errno_message("cannot stat", path_));
    const off_t at = ::lseek(fd_, 0, SEEK_CUR);
    if (at < 0) throw Error(errno_message("cannot seek in", path_));
    if (static_cast<uint64_t>(st.st_size - at) < n)
      throw InputError(path_, 0, "ends before byte " + std::to_string(static_cast<uint64_t>(at) + n));
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) < 0) throw Error(errno_message("cannot seek in", path_));
    consumed_ += n;
  }

 private:
  int fd_ = -1;
  bool owned_ = true;
  uint64_t consumed_ = 0;
};

// Streaming zstd: handles concatenated frames and skippable frames (libzstd
// does both inside ZSTD_decompressStream); memory is the window plus two
// buffers. A stream that ends inside a frame is reported as truncated.
class ZstdSource final : public ByteSource {
 public:
  explicit ZstdSource(const std::string& path)
      : ByteSource(path), file_(path), in_(ZSTD_DStreamInSize()), dctx_(ZSTD_createDCtx()) {
    if (!dctx_) throw Error("out of memory creating a zstd context for " + path);
    // Accept windows up to 2 GiB (zstd --long=31); the default limit is 128 MiB.
    ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, 31);
  }
  ~ZstdSource() override { ZSTD_freeDCtx(dctx_); }

  size_t read(char* dst, size_t n) override {
    ZSTD_outBuffer out{dst, n, 0};
    while (out.pos == 0) {
      if (pos_ == filled_) {
        if (eof_) {
          if (frame_open_) throw InputError(path_, 0, "truncated zstd data (the file ends inside a frame)");
          return 0;
        }
        filled_ = file_.read(in_.data(), in_.size());
        pos_ = 0;
        if (filled_ == 0) {
          eof_ = true;
          if (!seen_any_) throw InputError(path_, 0, "empty file is not valid zstd data");
          continue;
        }
        seen_any_ = true;
      }
      ZSTD_inBuffer in{in_.data(), filled_, pos_};
      size_t ret = ZSTD_decompressStream(dctx_, &out, &in);
      pos_ = in.pos;
      if (ZSTD_isError(ret)) throw InputError(path_, 0, std::string("corrupt zstd data: ") + ZSTD_getErrorName(ret));
      frame_open_ = ret != 0;
      // A full output buffer may leave data inside zstd: return what we have.
      if (out.pos == out.size) break;
    }
    return out.pos;
  }
  uint64_t raw_bytes_read() const override { return file_.raw_bytes_read(); }

 private:
  FileSource file_;
  std::vector<char> in_;
  ZSTD_DCtx* dctx_;
  size_t pos_ = 0, filled_ = 0;
  bool eof_ = false, frame_open_ = false, seen_any_ = false;
};

}  // namespace

void ByteSource::skip(uint64_t n) {
  std::vector<char> discard(static_cast<size_t>(std::min<uint64_t>(n, uint64_t{1} << 20)));
  for (uint64_t left = n; left > 0;) {
    const size_t r = read(discard.data(), static_cast<size_t>(std::min<uint64_t>(left, discard.size())));
    if (r == 0) throw InputError(path_, 0, "ends " + std::to_string(left) + " bytes before byte " + std::to_string(n));
    left -= r;
  }
}

bool is_zstd_path(const std::string& path) { return ends_with(path, ".zst") || ends_with(path, ".zstd"); }

std::unique_ptr<ByteSource> open_byte_source(const std::string& path) {
  if (is_zstd_path(path)) return std::make_unique<ZstdSource>(path);
  return std::make_unique<FileSource>(path);
}

size_t read_full(ByteSource& src, char* dst, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t r = src.read(dst + got, n - got);
    if (r == 0) break;
    got += r;
  }
  return got;
}

}  // namespace sp
