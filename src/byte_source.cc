#include "sp/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <cstring>
#include <vector>

#include "sp/error.h"
#include "sp/fs.h"
#include "sp/io.h"

namespace sp {

namespace {

uint32_t le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }

// One zstd frame read from its headers alone (RFC 8878): a frame header (its
// length from its descriptor, 3.1.1.1), blocks (a 3-byte header and its
// payload each), an optional checksum; or a skippable frame (its magic, a
// 4-byte size and that many bytes), which decompresses to nothing.
struct ZstdFrame {
  enum Kind { kSized, kUnsized, kTruncated, kCorrupt } kind = kCorrupt;
  uint64_t content = 0;  // kSized: its decompressed size
  uint64_t end = 0;      // kSized: the file offset just after it
  const char* why = "";  // kCorrupt: what is wrong
};
// read_at(dst, n, at) gives up to n bytes at file offset `at`.
ZstdFrame read_zstd_frame(const std::function<size_t(unsigned char*, size_t, uint64_t)>& read_at, uint64_t at,
                          uint64_t file_size) {
  ZstdFrame f;
  unsigned char h[18] = {};  // the largest frame header (ZSTD_FRAMEHEADERSIZE_MAX)
  const size_t got = read_at(h, sizeof h, at);
  if (got < 8) return f.kind = ZstdFrame::kTruncated, f;
  if ((le32(h) & 0xFFFFFFF0u) == 0x184D2A50u) {  // skippable
    f.end = at + 8 + le32(h + 4);
  } else {
    const unsigned long long content = ZSTD_getFrameContentSize(h, got);
    if (content == ZSTD_CONTENTSIZE_ERROR) return f.why = "not a zstd frame", f;
    if (content == ZSTD_CONTENTSIZE_UNKNOWN) return f.kind = ZstdFrame::kUnsized, f;
    f.content = content;
    const unsigned fhd = h[4];
    const bool single_segment = fhd & 0x20, checksum = fhd & 0x04;
    static constexpr unsigned kDictIdBytes[] = {0, 1, 2, 4}, kSizeBytes[] = {0, 2, 4, 8};
    const unsigned size_bytes = (fhd >> 6) == 0 ? (single_segment ? 1 : 0) : kSizeBytes[fhd >> 6];
    f.end = at + 5 + (single_segment ? 0 : 1) + kDictIdBytes[fhd & 3] + size_bytes;
    for (bool last = false; !last;) {
      unsigned char b[3];
      if (read_at(b, 3, f.end) != 3) return f.kind = ZstdFrame::kTruncated, f;
      const uint32_t block = b[0] | b[1] << 8 | b[2] << 16;
      last = block & 1;
      const unsigned type = (block >> 1) & 3;
      if (type == 3) return f.why = "reserved block type", f;
      f.end += 3 + (type == 1 ? 1 : block >> 3);  // an RLE block stores one byte
    }
    f.end += checksum ? 4 : 0;
  }
  f.kind = f.end > file_size ? ZstdFrame::kTruncated : ZstdFrame::kSized;
  return f;
}

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
  uint64_t size() const {  // 0 for standard input
    struct stat st;
    if (owned_ && ::fstat(fd_, &st) != 0) throw Error(errno_message("cannot stat", path_));
    return owned_ ? static_cast<uint64_t>(st.st_size) : 0;
  }
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
    const uint64_t file_size = file_.size();
    const auto read_at = [this](unsigned char* dst, size_t k, uint64_t at) { return file_.peek(dst, k, at); };
    while (n > 0 && pos_ == filled_ && !frame_open_ && !eof_) {
      const uint64_t at = file_.raw_bytes_read();
      const ZstdFrame f = read_zstd_frame(read_at, at, file_size);
      if (f.kind != ZstdFrame::kSized || f.content > n) break;
      file_.skip(f.end - at);
      seen_any_ = true;
      n -= f.content;
    }
    if (n > 0) ByteSource::skip(n);
  }

 private:
  FileSource file_;
  std::vector<char> in_;
  ZSTD_DCtx* dctx_;
  size_t pos_ = 0, filled_ = 0;
  bool eof_ = false, frame_open_ = false, seen_any_ = false;
};

// Files one after another, a '\n' added after a non-empty file that lacks one.
class ConcatSource final : public ByteSource {
 public:
  ConcatSource(std::string name, std::vector<std::string> paths, std::vector<uint64_t> expected)
      : ByteSource(std::move(name)), paths_(std::move(paths)), expected_(std::move(expected)) {
    if (!expected_.empty() && expected_.size() != paths_.size())
      throw Error("internal: open_concat_source needs one expected size per file");
  }

  size_t read(char* dst, size_t n) override {
    if (n == 0) return 0;
    while (next_ <= paths_.size()) {
      if (!current_) {
        if (next_ == paths_.size()) break;
        current_ = open_byte_source(paths_[next_++]);
        size_ = 0;
        last_ = '\n';
      }
      const size_t got = current_->read(dst, n);
      if (got > 0) {
        size_ += got;
        last_ = dst[got - 1];
        return got;
      }
      // The end of this file: check it, then its missing newline, if any.
      const std::string& path = current_->path();
      if (!expected_.empty() && size_ != expected_[next_ - 1])
        throw Error("'" + path + "' decompresses to " + std::to_string(size_) + " bytes, but was " +
                    std::to_string(expected_[next_ - 1]) + " when the plan was made (did it change?)");
      done_raw_ += current_->raw_bytes_read();
      current_.reset();
      if (last_ != '\n') {
        dst[0] = '\n';
        return 1;
      }
    }
    return 0;
  }
  uint64_t raw_bytes_read() const override { return done_raw_ + (current_ ? current_->raw_bytes_read() : 0); }

 private:
  std::vector<std::string> paths_;
  std::vector<uint64_t> expected_;
  size_t next_ = 0;                          // the next file to open
  std::unique_ptr<ByteSource> current_;
  uint64_t size_ = 0;                        // bytes of the current file so far
  char last_ = '\n';                         // its last byte
  uint64_t done_raw_ = 0;                    // bytes on disk of the finished files
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

std::unique_ptr<ByteSource> open_concat_source(std::string name, std::vector<std::string> paths,
                                               std::vector<uint64_t> expected_sizes) {
  return std::make_unique<ConcatSource>(std::move(name), std::move(paths), std::move(expected_sizes));
}

std::vector<std::pair<std::string, uint64_t>> locate_concat_lines(const std::vector<std::string>& paths,
                                                                 const std::vector<uint64_t>& lines) {
  std::vector<std::pair<std::string, uint64_t>> out;
  uint64_t before = 0;  // lines of the files already passed
  std::vector<char> buf(size_t{1} << 20);
  auto take = [&](const std::string& path, uint64_t upto) {  // the wanted lines among the first `upto`
    while (out.size() < lines.size() && lines[out.size()] <= before + upto)
      out.emplace_back(path, lines[out.size()] - before);
  };
  for (size_t f = 0; f < paths.size() && out.size() < lines.size(); ++f) {
    auto src = open_byte_source(paths[f]);
    uint64_t n_lines = 0;
    char last = '\n';
    for (size_t n; out.size() < lines.size() && (n = src->read(buf.data(), buf.size())) > 0;) {
      n_lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
      last = buf[n - 1];
      take(paths[f], n_lines);
    }
    if (out.size() == lines.size()) break;
    n_lines += last != '\n';  // the newline the stream adds ends the file's last line
    take(paths[f], n_lines);
    before += n_lines;
  }
  if (out.size() < lines.size())
    throw Error("line " + std::to_string(lines[out.size()]) + " is past the end of the files (" +
                std::to_string(before) + " lines)");
  return out;
}

std::optional<uint64_t> zstd_content_size(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(errno_message("cannot open", path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) throw Error(errno_message("cannot stat", path));
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size == 0) throw InputError(path, 0, "empty file is not valid zstd data");
  auto read_at = [&](unsigned char* dst, size_t n, uint64_t at) {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd, dst + got, n - got, static_cast<off_t>(at + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error(errno_message("cannot read", path));
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  };
  uint64_t total = 0;
  for (uint64_t at = 0; at < file_size;) {
    const ZstdFrame f = read_zstd_frame(read_at, at, file_size);
    if (f.kind == ZstdFrame::kTruncated)
      throw InputError(path, 0, "truncated zstd data (the file ends inside a frame)");
    if (f.kind == ZstdFrame::kCorrupt) throw InputError(path, 0, std::string("corrupt zstd data: ") + f.why);
    if (f.kind == ZstdFrame::kUnsized) return std::nullopt;
    total += f.content;
    at = f.end;
  }
  return total;
}

uint64_t decompressed_size(const std::string& path, bool* counted) {
  if (!is_zstd_path(path)) return file_size(path);
  if (const auto size = zstd_content_size(path)) return *size;
  if (counted) *counted = true;
  auto src = open_byte_source(path);
  std::vector<char> buf(size_t{1} << 20);
  uint64_t total = 0;
  for (size_t n; (n = src->read(buf.data(), buf.size())) > 0;) total += n;
  return total;
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
