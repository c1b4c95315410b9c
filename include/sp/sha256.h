// SHA-256 for verifying downloads (OpenSSL EVP underneath: it picks the CPU's
// SHA extensions when present). Incremental, so a download can be hashed as
// its bytes arrive instead of being re-read afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sp {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void reset();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Lower-case hex of the digest; the object must be reset() before reuse.
  std::string hex_digest();

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so OpenSSL headers stay out of ours
};

std::string sha256_hex(std::string_view data);

// Feeds the first `length` bytes of the file at `path` into `h` (for resuming
// a hashed download from its partial file). Throws Error on I/O failure or when
// the file is shorter than `length`.
void sha256_update_from_file(Sha256& h, const std::string& path, uint64_t length);

// Whole file; throws Error.
std::string sha256_file(const std::string& path);

// True for exactly 64 hex digits (either case).
bool is_sha256_hex(std::string_view s);

}  // namespace sp
