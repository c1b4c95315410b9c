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
#include "sp/io.h"

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
  // Up to n bytes at file offset `at`, leaving the read position alone; 0 for
  // standard input (it cannot be read out of order).
  size_t peek(void* dst, size_t n, uint64_t at) const { return owned_ ? pread_full(fd_, dst, n, at, path_) : 0; }
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

  // Whole frames that lie within the n bytes are passed over by their headers
  // alone (content size, block sizes), without decoding them, as long as
  // nothing is buffered and no frame is open (a source resumed from its
  // start); the rest is decompressed and discarded. A frame whose size its
  // header does not give, or that looks truncated, is decoded (and reported)
  // as usual.
  void skip(uint64_t n) override {
    uint64_t content = 0, length = 0;
    while (n > 0 && pos_ == filled_ && !frame_open_ && !eof_ &&
           whole_frame_at(file_.raw_bytes_read(), &content, &length) && content <= n) {
      file_.skip(length);
      seen_any_ = true;
      n -= content;
    }
    if (n > 0) ByteSource::skip(n);
  }

 private:
  // The frame at file offset `at`: its decoded size and its length in the
  // file (RFC 8878: frame header, block headers, optional checksum).
  bool whole_frame_at(uint64_t at, uint64_t* content, uint64_t* length) const {
    unsigned char h[18];  // the largest frame header
    const size_t got = file_.peek(h, sizeof h, at);
    if (got < 8) return false;
    const uint32_t magic = h[0] | h[1] << 8 | h[2] << 16 | static_cast<uint32_t>(h[3]) << 24;
    uint64_t end;
    if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {  // skippable: 4-byte size after the magic
      *content = 0;
      end = at + 8 + (h[4] | h[5] << 8 | h[6] << 16 | static_cast<uint64_t>(h[7]) << 24);
    } else {
      const unsigned long long size = ZSTD_getFrameContentSize(h, got);
      if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) return false;
      const unsigned fhd = h[4], fcs = fhd >> 6, single = (fhd >> 5) & 1;
      static const unsigned kDictIdBytes[4] = {0, 1, 2, 4}, kSizeBytes[4] = {0, 2, 4, 8};
      end = at + 5 + (single ? 0 : 1) + kDictIdBytes[fhd & 3] + (fcs == 0 ? single : kSizeBytes[fcs]);
      for (bool last = false; !last;) {
        unsigned char b[3];
        if (file_.peek(b, 3, end) != 3) return false;
        const uint32_t block = b[0] | b[1] << 8 | b[2] << 16;
        const uint32_t type = (block >> 1) & 3;
        if (type == 3) return false;  // reserved: corrupt; decoding will say so
        end += 3 + (type == 1 ? 1 : block >> 3);  // an RLE block stores one byte
        last = block & 1;
      }
      if ((fhd >> 2) & 1) end += 4;  // content checksum
      *content = size;
    }
    unsigned char probe;
    if (end > at && file_.peek(&probe, 1, end - 1) != 1) return false;  // truncated
    *length = end - at;
    return true;
  }

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
