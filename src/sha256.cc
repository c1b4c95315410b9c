#include "sp/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <new>
#include <vector>

#include "sp/error.h"

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
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(errno_message("cannot open", path));
  std::vector<char> buf(size_t{1} << 20);
  uint64_t left = length;
  while (left) {
    ssize_t r = ::read(fd, buf.data(), left < buf.size() ? static_cast<size_t>(left) : buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      std::string msg = errno_message("cannot read", path);
      ::close(fd);
      throw Error(msg);
    }
    if (r == 0) {
      ::close(fd);
      throw Error("'" + path + "' is shorter than expected while hashing");
    }
    h.update(buf.data(), static_cast<size_t>(r));
    left -= static_cast<uint64_t>(r);
  }
  ::close(fd);
}

std::string sha256_file(const std::string& path) {
  Sha256 h;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(errno_message("cannot open", path));
  std::vector<char> buf(size_t{1} << 20);
  for (;;) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      std::string msg = errno_message("cannot read", path);
      ::close(fd);
      throw Error(msg);
    }
    if (r == 0) break;
    h.update(buf.data(), static_cast<size_t>(r));
  }
  ::close(fd);
  return h.hex_digest();
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace sp
