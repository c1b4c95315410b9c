// ByteSource: skip() passes over whole zstd frames by their headers, and
// reads on from exactly where it was asked to.
#include "sp/byte_source.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include "sp/error.h"
#include "test_support.h"

namespace sp {
namespace {

using test::TempDir;
using test::write_file;

// Text that compresses poorly (so frames are long), deterministic.
std::string noise(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  for (char& c : s) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    c = static_cast<char>('!' + seed % 90);
  }
  return s;
}

std::string frame(const std::string& data, bool with_size = true, bool checksum = true) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size ? 1 : 0);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum ? 1 : 0);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress2(c, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(c);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string read_rest(ByteSource& src) {
  std::string out, buf(1 << 16, '\0');
  for (size_t n; (n = src.read(buf.data(), buf.size())) > 0;) out.append(buf.data(), n);
  return out;
}

// Frames of 300 KB (with and without checksums), a skippable frame, an RLE-heavy frame and a last
// frame whose header gives no size: any skip reads on from exactly there.
TEST(ByteSource, ZstdSkipReadsOnFromExactlyThere) {
  TempDir d;
  const std::string a = noise(300000, 1), b = noise(300000, 2), rle(200000, 'z'), c = noise(100000, 3);
  const std::string skippable = std::string("\x50\x2A\x4D\x18\x04\x00\x00\x00meta", 12);
  write_file(d / "x.zst", frame(a) + skippable + frame(b, true, false) + frame(rle) + frame(c, false));
  const std::string data = a + b + rle + c;
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, uint64_t{299999}, uint64_t{300000}, uint64_t{300001},
                     uint64_t{600000}, uint64_t{700000}, uint64_t{800000}, uint64_t{850000}, uint64_t{data.size()}}) {
    auto src = open_byte_source(d / "x.zst");
    src->skip(n);
    EXPECT_EQ(read_rest(*src), data.substr(n)) << "after skipping " << n;
  }
  auto src = open_byte_source(d / "x.zst");
  EXPECT_THROW(src->skip(data.size() + 1), InputError);
}

// Whole frames are passed over without decoding: the file is read exactly
// to the end of the frames skipped (decoding reads ahead in large blocks).
TEST(ByteSource, ZstdSkipPassesWholeFramesByTheirHeaders) {
  TempDir d;
  const std::string a = noise(400000, 4), b = noise(400000, 5), c = noise(400000, 6);
  const std::string fa = frame(a), fb = frame(b), fc = frame(c);
  write_file(d / "x.zst", fa + fb + fc);
  auto src = open_byte_source(d / "x.zst");
  src->skip(a.size() + b.size());
  EXPECT_EQ(src->raw_bytes_read(), fa.size() + fb.size());
  EXPECT_EQ(read_rest(*src), c);
}

// A frame cut short is not jumped over: skipping into it decodes it and says it is truncated.
TEST(ByteSource, ZstdSkipIntoATruncatedFrameFails) {
  TempDir d;
  const std::string a = noise(200000, 7), b = noise(200000, 8);
  const std::string fb = frame(b);
  write_file(d / "x.zst", frame(a) + fb.substr(0, fb.size() / 2));
  auto src = open_byte_source(d / "x.zst");
  EXPECT_THROW(src->skip(a.size() + b.size()), InputError);
}

}  // namespace
}  // namespace sp
