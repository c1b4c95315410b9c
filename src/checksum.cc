#include "sp/checksum.h"

#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "sp/error.h"
#include "sp/io.h"
#include "sp/threads.h"

namespace sp {

namespace {

std::string format(const char* kind, uint64_t h) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s:%016llx", kind, static_cast<unsigned long long>(h));
  return buf;
}

// The root: XXH3 over the leaves' hashes, little-endian, in order.
std::string root_of(const std::vector<uint64_t>& leaves) {
  std::vector<unsigned char> bytes(leaves.size() * 8);
  for (size_t i = 0; i < leaves.size(); ++i)
    for (int b = 0; b < 8; ++b) bytes[i * 8 + b] = static_cast<unsigned char>(leaves[i] >> (8 * b));
  return format("xxh3tree16m", XXH3_64bits(bytes.data(), bytes.size()));
}

}  // namespace

struct ChecksumStream::State {
  XXH3_state_t* leaf = XXH3_createState();
  uint64_t in_leaf = 0;
  std::vector<uint64_t> leaves;
  State() { XXH3_64bits_reset(leaf); }
  ~State() { XXH3_freeState(leaf); }
};

ChecksumStream::ChecksumStream() : state_(new State) {}
ChecksumStream::ChecksumStream(const std::vector<uint64_t>& leaves) : state_(new State) { state_->leaves = leaves; }

const std::vector<uint64_t>& ChecksumStream::leaves() const { return state_->leaves; }
ChecksumStream::~ChecksumStream() { delete state_; }

void ChecksumStream::update(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n) {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, kChecksumLeafBytes - state_->in_leaf));
    XXH3_64bits_update(state_->leaf, p, take);
    state_->in_leaf += take;
    p += take, n -= take;
    if (state_->in_leaf == kChecksumLeafBytes) {
      state_->leaves.push_back(XXH3_64bits_digest(state_->leaf));
      XXH3_64bits_reset(state_->leaf);
      state_->in_leaf = 0;
    }
  }
}

std::string ChecksumStream::finish() {
  // An empty file has one (empty) leaf, as file_checksum counts it.
  if (state_->in_leaf > 0 || state_->leaves.empty()) state_->leaves.push_back(XXH3_64bits_digest(state_->leaf));
  return root_of(state_->leaves);
}

std::string file_checksum(const std::string& path) {
  const UniqueFd fd = open_for_reading(path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw Error(errno_message("cannot stat", path));
  if (!S_ISREG(st.st_mode)) throw Error("'" + path + "' is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const size_t n = std::max<size_t>(1, static_cast<size_t>((size + kChecksumLeafBytes - 1) / kChecksumLeafBytes));
  std::vector<uint64_t> leaves(n);
  // Each leaf is read in small pieces into a streaming state: memory stays at
  // one piece per worker, not one leaf.
  constexpr size_t kPiece = size_t{1} << 20;
  parallel_for_each_index(n, [&](size_t i) {
    std::unique_ptr<char[]> buf(new char[kPiece]);
    std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(), XXH3_freeState);
    const uint64_t begin = i * kChecksumLeafBytes, end = std::min(size, begin + kChecksumLeafBytes);
    XXH3_64bits_reset(state.get());
    for (uint64_t off = begin; off < end;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kPiece, end - off));
      if (pread_full(fd.get(), buf.get(), want, off, path) != want)
        throw Error("'" + path + "' shrank while its checksum was computed");
      XXH3_64bits_update(state.get(), buf.get(), want);
      off += want;
    }
    leaves[i] = XXH3_64bits_digest(state.get());
  });
  return root_of(leaves);
}

std::string ends_fingerprint(const std::string& path) {
  constexpr size_t kEnd = size_t{64} << 10;
  const UniqueFd fd = open_for_reading(path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw Error(errno_message("cannot stat", path));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::vector<char> buf(2 * kEnd);
  size_t got;
  if (size <= buf.size()) {
    got = pread_full(fd.get(), buf.data(), buf.size(), 0, path);
  } else {
    got = pread_full(fd.get(), buf.data(), kEnd, 0, path);
    got += pread_full(fd.get(), buf.data() + got, kEnd, size - kEnd, path);
  }
  return format("xxh3ends64k", XXH3_64bits(buf.data(), got));
}

}  // namespace sp
