#include "sp/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <new>
#include <vector>

#include "sp/error.h"
#include "sp/io.h"

namespace sp {

namespace {
EVP_MD_CTX* C(void* p) { return static_cast<EVP_MD_CTX*>(p); }
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw std::bad_alloc();
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(C(ctx_)); }

void Sha256::reset() {
  if (EVP_DigestInit_ex(C(ctx_), EVP_sha256(), nullptr) != 1) throw Error("SHA-256 initialisation failed");
}

void Sha256::update(const void* data, size_t n) {
  if (n && EVP_DigestUpdate(C(ctx_), data, n) != 1) throw Error("SHA-256 update failed");
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(C(ctx_), md, &len) != 1) throw Error("SHA-256 finalisation failed");
  static const char* hex = "0123456789abcdef";
  std::string s(2 * len, '0');
  for (unsigned i = 0; i < len; ++i) s[2 * i] = hex[md[i] >> 4], s[2 * i + 1] = hex[md[i] & 15];
  return s;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

void sha256_update_from_file(Sha256& h, const std::string& path, uint64_t length) {
  const UniqueFd fd = open_for_reading(path);
  std::vector<char> buf(size_t{1} << 20);
  for (uint64_t done = 0; done < length;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    const size_t got = pread_full(fd.get(), buf.data(), want, done, path);
    if (got == 0) throw Error("'" + path + "' is shorter than expected while hashing");
    h.update(buf.data(), got);
    done += got;
  }
}

std::string sha256_file(const std::string& path) {
  Sha256 h;
  const UniqueFd fd = open_for_reading(path);
  std::vector<char> buf(size_t{1} << 20);
  for (uint64_t done = 0;;) {
    const size_t got = pread_full(fd.get(), buf.data(), buf.size(), done, path);
    if (got == 0) break;
    h.update(buf.data(), got);
    done += got;
  }
  return h.hex_digest();
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace sp
