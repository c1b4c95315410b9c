// The first stage of every pipeline: bytes from an input file, decompressed on
// the fly when it is zstd (".zst"/".zstd"), read in large blocks with memory
// bounded by the block size whatever the file size. Also: several files read
// as one stream exactly as sp_concat joins them into a chunk (the fused path),
// and a file's decompressed size without decompressing it where zstd's frame
// headers record it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sp {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes into dst; 0 means end of data. Throws Error for I/O
  // failures and InputError (file, 0, reason) for corrupt or truncated zstd.
  virtual size_t read(char* dst, size_t n) = 0;
  // Bytes consumed from the file so far (compressed bytes for zstd): progress
  // and ETA are measured against the file size.
  virtual uint64_t raw_bytes_read() const = 0;
  // Passes over the next n bytes of data as read() would return them (a
  // resumed run continuing where its checkpoint stands): a plain file seeks;
  // zstd passes over whole frames by their headers (where they give their
  // content size) and decodes and discards the rest. Throws InputError (file,
  // 0, reason) when the data ends first.
  virtual void skip(uint64_t n);
  const std::string& path() const { return path_; }

 protected:
  explicit ByteSource(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

bool is_zstd_path(const std::string& path);

// Opens path ("-" for standard input); zstd is chosen by suffix. Throws Error
// naming the file when it cannot be opened.
std::unique_ptr<ByteSource> open_byte_source(const std::string& path);

// Reads `paths` one after the other, each decompressed when it is zstd, as
// one stream named `name`: the bytes sp_concat writes into a chunk of these
// files (a '\n' after every non-empty file that does not end with one).
// raw_bytes_read() counts the files' bytes on disk. With expected_sizes (one
// per path), a file whose decompressed size differs throws Error naming it
// (it changed since a plan was made from those sizes). Files are decompressed
// ahead of the reader, files_ahead at a time (the one being read and the
// next), each on a thread of the source's own, with a few MiB per file
// whatever their sizes; a file's error (cannot open, corrupt zstd) is thrown
// by read() only once the bytes before it have been read, as if the files were
// read in turn. Destroying the source stops and joins those threads promptly.
// read(), skip() and raw_bytes_read() are for one thread at a time, as for
// every ByteSource.
std::unique_ptr<ByteSource> open_concat_source(std::string name, std::vector<std::string> paths,
                                               std::vector<uint64_t> expected_sizes = {}, size_t files_ahead = 4);

// Where lines (1-based, ascending) of the stream open_concat_source(paths)
// gives lie: (the file, its line there) for each. Reads the files up to the
// last of them, once: it is for error messages, not for every line. Throws
// Error when the stream has fewer lines.
std::vector<std::pair<std::string, uint64_t>> locate_concat_lines(const std::vector<std::string>& paths,
                                                                 const std::vector<uint64_t>& lines);

// The decompressed size of a zstd file from its frame headers, when every
// frame records its content size (the zstd tool does for files it knows the
// size of; a stream compressed from a pipe does not): nullopt otherwise.
// Reads the frame and block headers only (a few bytes per 128 KiB block).
// Skippable frames count for nothing. Throws InputError (path, 0, reason)
// for data that is not zstd or ends inside a frame.
std::optional<uint64_t> zstd_content_size(const std::string& path);

// A file's size after decompression: its size for a plain file; for zstd the
// frame headers' sum, else (headers without sizes) by decompressing it once
// to count, which sets *counted when given.
uint64_t decompressed_size(const std::string& path, bool* counted = nullptr);

// Reads exactly as much as possible: loops read() until n bytes or the end.
size_t read_full(ByteSource& src, char* dst, size_t n);

}  // namespace sp
