// The first stage of every pipeline: bytes from an input file, decompressed on
// the fly when it is zstd (".zst"/".zstd"), read in large blocks with memory
// bounded by the block size whatever the file size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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

// Reads exactly as much as possible: loops read() until n bytes or the end.
size_t read_full(ByteSource& src, char* dst, size_t n);

}  // namespace sp
