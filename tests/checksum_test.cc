// Output checksums: the streaming and the parallel whole-file computation agree
// with each other and with the definition (XXH3 over the 16 MiB leaves' XXH3s),
// and change when any byte or the length changes.
#include "sp/checksum.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstdio>
#include <random>

#include "sp/error.h"
#include "test_support.h"

namespace sp {
namespace {

using test::TempDir;
using test::write_file;

// The definition, written out directly.
std::string reference(const std::string& data) {
  std::string leaves;
  for (uint64_t off = 0; off < data.size() || off == 0; off += kChecksumLeafBytes) {
    const uint64_t n = std::min<uint64_t>(kChecksumLeafBytes, data.size() - off);
    const uint64_t h = XXH3_64bits(data.data() + off, n);
    for (int b = 0; b < 8; ++b) leaves += static_cast<char>(h >> (8 * b));
    if (data.empty()) break;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "xxh3tree16m:%016llx",
                static_cast<unsigned long long>(XXH3_64bits(leaves.data(), leaves.size())));
  return buf;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(Checksum, StreamAndFileAgreeWithTheDefinitionAtLeafBoundaries) {
  TempDir dir;
  const size_t leaf = static_cast<size_t>(kChecksumLeafBytes);
  for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, leaf - 1, leaf, leaf + 1, 2 * leaf + 77}) {
    const std::string data = random_bytes(n, static_cast<uint32_t>(n));
    write_file(dir / "f", data);
    const std::string want = reference(data);
    EXPECT_EQ(file_checksum(dir / "f"), want) << n;
    // Fed in uneven pieces, across leaf boundaries.
    ChecksumStream s;
    std::mt19937 rng(7);
    for (size_t off = 0; off < n;) {
      const size_t take = std::min<size_t>(n - off, 1 + rng() % (3 << 20));
      s.update(data.data() + off, take);
      off += take;
    }
    EXPECT_EQ(s.finish(), want) << n;
  }
}

// A stream continued from another's whole leaves (a resumed writer) gives the checksum of the whole.
TEST(Checksum, StreamContinuedFromWholeLeavesAgrees) {
  const size_t leaf = static_cast<size_t>(kChecksumLeafBytes);
  const std::string data = random_bytes(2 * leaf + 1000, 11);
  for (size_t cut : {size_t{0}, size_t{5}, leaf - 1, leaf, leaf + 3, 2 * leaf, 2 * leaf + 999}) {
    ChecksumStream first;
    first.update(data.data(), cut);
    EXPECT_EQ(first.leaves().size(), cut / leaf);
    ChecksumStream resumed(first.leaves());
    const size_t from = first.leaves().size() * leaf;  // the bytes after the whole leaves are hashed again
    resumed.update(data.data() + from, data.size() - from);
    EXPECT_EQ(resumed.finish(), reference(data)) << cut;
  }
}

TEST(Checksum, ChangesWithOneByteOrTheLength) {
  TempDir dir;
  std::string data = random_bytes(kChecksumLeafBytes + 1000, 3);
  write_file(dir / "f", data);
  const std::string a = file_checksum(dir / "f");
  data[kChecksumLeafBytes + 10] ^= 1;
  write_file(dir / "f", data);
  const std::string b = file_checksum(dir / "f");
  data.pop_back();
  write_file(dir / "f", data);
  const std::string c = file_checksum(dir / "f");
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_NE(a, c);
}

TEST(Checksum, MissingFileOrDirectoryIsAnError) {
  TempDir dir;
  EXPECT_THROW(file_checksum(dir / "nope"), Error);
  EXPECT_THROW(file_checksum(dir.path()), Error);
}

TEST(Checksum, EndsFingerprintSeesTheHeadAndTheTail) {
  TempDir dir;
  std::string data = random_bytes(1 << 20, 5);
  write_file(dir / "f", data);
  const std::string a = ends_fingerprint(dir / "f");
  data[3] ^= 1;
  write_file(dir / "f", data);
  const std::string b = ends_fingerprint(dir / "f");
  data[3] ^= 1;
  data[data.size() - 3] ^= 1;
  write_file(dir / "f", data);
  const std::string c = ends_fingerprint(dir / "f");
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  write_file(dir / "small", "abc");
  EXPECT_EQ(ends_fingerprint(dir / "small").rfind("xxh3ends64k:", 0), 0u);
}

}  // namespace
}  // namespace sp
