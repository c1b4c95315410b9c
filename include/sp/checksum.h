// Content checksums of output files, as kept in completion records.
//
// The checksum of a file is XXH3-64 over the list of XXH3-64 hashes of its
// consecutive 16 MiB leaves (the last one shorter), written as
// "xxh3tree16m:<16 hex digits>". The tree lets a 15 GB .bin be checked by all
// cores at once, and lets a writer that sees its bytes in order (sp_extract)
// compute the same value on the way through. XXH3 (libxxhash) runs at memory
// speed, so checking costs about as much as reading the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sp {

inline constexpr uint64_t kChecksumLeafBytes = uint64_t{16} << 20;

// Computes a checksum incrementally from bytes given in file order.
class ChecksumStream {
 public:
  ChecksumStream();
  ~ChecksumStream();
  ChecksumStream(const ChecksumStream&) = delete;
  ChecksumStream& operator=(const ChecksumStream&) = delete;

  // A stream that continues after `leaves` whole leaves, given by their hashes
  // (leaves() of a stream that saw those bytes): a resumed writer carries on
  // without reading them again.
  explicit ChecksumStream(const std::vector<uint64_t>& leaves);

  void update(const void* data, size_t n);
  // The hashes of the whole leaves given so far.
  const std::vector<uint64_t>& leaves() const;
  // The checksum of everything given so far; the stream is then spent.
  std::string finish();

 private:
  struct State;
  State* state_;
};

// The checksum of the file at `path`, its leaves hashed in parallel on the
// current oneTBB arena. Throws Error when the file cannot be read.
std::string file_checksum(const std::string& path);

// XXH3-64 of the first and the last 64 KiB of a file (the whole file when it
// is smaller), as "xxh3ends64k:<hex>": a cheap content hint for inputs, which
// may be terabytes; together with size and mtime it notices an input that was
// replaced. Throws Error.
std::string ends_fingerprint(const std::string& path);

}  // namespace sp
