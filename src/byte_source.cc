#include "sp/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
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

// Files one after another, a '\n' added after a non-empty file that lacks one,
// decompressed ahead of the reader in parallel.
//
// Why: the reader is the single serial stage of the tokenize pipeline, and
// zstd decodes at about 1 GB/s per core, so decoding on it capped the fused
// path below the staged chain (sp_extract decoding 16 files at once) on 16
// cores, and far below what tokenization reaches on 128. Here files_ahead
// files (the one being read and the next ones) are each decoded by a thread
// of the source's own into a queue of at most kPiecesQueued pieces of
// kPieceBytes; read() hands the pieces out in file order. Memory is bounded by
// files_ahead * (kPiecesQueued + 1) * kPieceBytes plus a zstd window per file
// being decoded, whatever the files' sizes. A file larger than its queue is
// decoded at one core's speed while it is read (a zstd frame is sequential),
// but beside the reader rather than on it. The bound is per file, not shared:
// with one pool, files further on could hold every buffer while the file
// being read waits for one.
//
// The threads are std::threads, not oneTBB tasks: a decoder waits on its full
// queue, and a oneTBB task that blocks holds one of the pipeline arena's slots
// (with as many decoders as slots, the arena's workers could all wait while
// the serial reading stage waits on them). Waiting threads cost nothing; the
// OS runs the busy ones beside the pipeline's.
//
// kPieceBytes = 1 MiB: the pipeline's block size (TokenizeOptions::block_bytes),
// large enough that the hand-off (a lock, a memcpy) costs nothing against the
// decoding, small enough that files ahead stay within a few MiB each.
// kPiecesQueued = 2: the file being read keeps a piece ready while its decoder
// fills the next; more only adds memory (first touches cost, measurably on a
// small machine).
//
// Errors (cannot open, I/O, corrupt or truncated zstd) are kept with their
// file and thrown by read() once the data before them, of that file and of
// every earlier one, has been read, as reading the files in turn would.
// Destruction stops the decoders after the piece they are on and joins them.
class ConcatSource final : public ByteSource {
 public:
  static constexpr size_t kPiecesQueued = 2;
  static constexpr size_t kPieceBytes = size_t{1} << 20;

  ConcatSource(std::string name, std::vector<std::string> paths, std::vector<uint64_t> expected, size_t files_ahead)
      : ByteSource(std::move(name)),
        paths_(std::move(paths)),
        expected_(std::move(expected)),
        files_ahead_(std::max<size_t>(files_ahead, 1)),
        files_(paths_.size()) {
    if (!expected_.empty() && expected_.size() != paths_.size())
      throw Error("internal: open_concat_source needs one expected size per file");
  }
  ~ConcatSource() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    space_.notify_all();
    for (std::thread& t : decoders_) t.join();
  }

  size_t read(char* dst, size_t n) override {
    if (n == 0) return 0;
    if (decoders_.empty() && !paths_.empty()) start();
    for (;;) {
      if (at_ < piece_.size) {
        const size_t k = std::min(n, piece_.size - at_);
        std::memcpy(dst, piece_.data.get() + at_, k);
        at_ += k;
        size_ += k;
        last_ = dst[k - 1];
        return k;
      }
      if (reading_ == paths_.size()) return 0;
      if (next_piece()) continue;
      // The end of this file: check it, then its missing newline, if any.
      if (!expected_.empty() && size_ != expected_[reading_])
        throw Error("'" + paths_[reading_] + "' decompresses to " + std::to_string(size_) + " bytes, but was " +
                    std::to_string(expected_[reading_]) + " when the plan was made (did it change?)");
      const bool add_newline = last_ != '\n';
      {
        std::lock_guard<std::mutex> lock(mutex_);
        done_raw_ += files_[reading_].raw;
        ++reading_;  // lets a decoder start the file files_ahead_ on
      }
      space_.notify_all();
      piece_raw_ = 0;
      size_ = 0;
      last_ = '\n';
      if (add_newline) {
        dst[0] = '\n';
        return 1;
      }
    }
  }
  uint64_t raw_bytes_read() const override { return done_raw_ + piece_raw_; }

 private:
  struct Piece {
    std::unique_ptr<char[]> data;
    size_t size = 0;
    uint64_t raw = 0;  // the file's bytes on disk read when the piece was complete
  };
  struct File {  // one file's decoding, shared under mutex_
    std::deque<Piece> queued;
    bool done = false;         // no more pieces will come
    std::exception_ptr error;  // thrown once the pieces before it are read
    uint64_t raw = 0;          // when done: the file's bytes on disk read
  };

  void start() {
    const size_t n = std::min(files_ahead_, paths_.size());
    decoders_.reserve(n);
    try {
      for (size_t i = 0; i < n; ++i) decoders_.emplace_back([this] { decode_files(); });
    } catch (...) {  // a thread could not be started: stop those that were
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
      }
      space_.notify_all();
      for (std::thread& t : decoders_) t.join();
      decoders_.clear();
      throw;
    }
  }

  // Takes the next piece of the file being read into piece_ (its buffer goes
  // back to spare_); false at the file's end. Rethrows the file's error.
  bool next_piece() {
    std::unique_lock<std::mutex> lock(mutex_);
    File& f = files_[reading_];
    ready_.wait(lock, [&] { return !f.queued.empty() || f.done; });
    if (piece_.data) spare_.push_back(std::move(piece_.data));
    piece_ = Piece{};
    at_ = 0;
    if (f.queued.empty()) {
      if (f.error) std::rethrow_exception(f.error);
      return false;
    }
    piece_ = std::move(f.queued.front());
    f.queued.pop_front();
    piece_raw_ = piece_.raw;
    lock.unlock();
    space_.notify_all();
    return true;
  }

  // A decoder: takes the next file not yet started within files_ahead_ of the
  // one being read and decodes it into its queue, until none is left or the
  // source stops.
  void decode_files() {
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] { return stopping_ || started_ == paths_.size() || started_ < reading_ + files_ahead_; });
        if (stopping_ || started_ == paths_.size()) return;
        i = started_++;
      }
      if (!decode(i)) return;
    }
  }

  // Decodes file i into pieces; false when the source stopped meanwhile.
  bool decode(size_t i) {
    File& f = files_[i];
    std::exception_ptr error;
    uint64_t raw = 0;
    try {
      auto src = open_byte_source(paths_[i]);
      for (bool end = false; !end;) {
        Piece p;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (!spare_.empty()) p.data = std::move(spare_.back()), spare_.pop_back();
        }
        if (!p.data) p.data.reset(new char[kPieceBytes]);
        try {
          while (p.size < kPieceBytes) {
            const size_t r = src->read(p.data.get() + p.size, kPieceBytes - p.size);
            if (r == 0) {
              end = true;
              break;
            }
            p.size += r;
          }
        } catch (...) {  // the bytes before the error are delivered first
          error = std::current_exception();
          end = true;
        }
        raw = p.raw = src->raw_bytes_read();
        if (p.size == 0) break;
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] { return stopping_ || f.queued.size() < kPiecesQueued; });
        if (stopping_) return false;
        f.queued.push_back(std::move(p));
        lock.unlock();
        ready_.notify_one();
      }
    } catch (...) {  // opening, or a piece's buffer
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      f.done = true;
      f.error = error;
      f.raw = raw;
    }
    ready_.notify_one();
    return true;
  }

  const std::vector<std::string> paths_;
  const std::vector<uint64_t> expected_;
  const size_t files_ahead_;

  // Shared by the reader and the decoders, under mutex_. ready_: a piece or a
  // file's end was queued; space_: a queue has room, the window moved, or the
  // source is stopping.
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::vector<File> files_;
  std::vector<std::unique_ptr<char[]>> spare_;  // buffers of pieces read, for reuse
  size_t reading_ = 0;  // the file read() is in; paths_.size() at the end
  size_t started_ = 0;  // files handed to decoders
  bool stopping_ = false;

  // The reader's own.
  std::vector<std::thread> decoders_;
  Piece piece_;             // the piece being read
  size_t at_ = 0;           // read up to here
  uint64_t done_raw_ = 0;   // bytes on disk of the files read to their end
  uint64_t piece_raw_ = 0;  // the current file's bytes on disk behind piece_
  uint64_t size_ = 0;       // bytes of the current file so far
  char last_ = '\n';        // its last byte
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
                                               std::vector<uint64_t> expected_sizes, size_t files_ahead) {
  return std::make_unique<ConcatSource>(std::move(name), std::move(paths), std::move(expected_sizes), files_ahead);
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
