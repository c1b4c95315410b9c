// Reading several files as one stream the way sp_concat joins them, finding a
// line of that stream again in its file, zstd's decompressed sizes from frame
// headers (with and without the size recorded, several frames, skippable
// frames, damaged data), and skip() passing over whole frames by them. The
// concatenated stream is decoded ahead on threads: many shards, errors in file
// order, destruction mid-stream, skip().
#include "sp/byte_source.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <chrono>
#include <thread>

#include "sp/error.h"
#include "sp/fs.h"
#include "test_support.h"

namespace sp {
namespace {

using test::TempDir;
using test::write_file;

// One frame that records its content size (ZSTD_compress knows the size).
std::string frame_with_size(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// One frame without its content size, as a stream compressed from a pipe is.
std::string frame_without_size(const std::string& data) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(data.size()) + 64, '\0');
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  ZSTD_inBuffer i{data.data(), data.size(), 0};
  const size_t left = ZSTD_compressStream2(cctx, &o, &i, ZSTD_e_end);
  EXPECT_EQ(left, 0u);
  ZSTD_freeCCtx(cctx);
  out.resize(o.pos);
  return out;
}

std::string skippable_frame(const std::string& payload) {
  std::string out = "\x50\x2A\x4D\x18";
  for (int k = 0; k < 4; ++k) out += static_cast<char>((payload.size() >> (8 * k)) & 0xFF);
  return out + payload;
}

// Text of many blocks' worth, so the header walk crosses several blocks.
std::string big_text(size_t lines) {
  std::string s;
  for (size_t i = 0; i < lines; ++i) s += "{\"text\": \"line " + std::to_string(i * 7919 % 100003) + "\"}\n";
  return s;
}

std::string read_all(ByteSource& src) {
  std::string out;
  char buf[7];  // small reads: newlines added between files must not depend on the read size
  for (size_t n; (n = src.read(buf, sizeof buf)) > 0;) out.append(buf, n);
  return out;
}

TEST(ConcatSource, JoinsFilesAsSpConcatDoes) {
  TempDir dir;
  write_file(dir / "a.jsonl", "a1\na2\n");
  write_file(dir / "b.jsonl.zst", frame_with_size("b1\nb2"));  // no final newline: one is added
  write_file(dir / "c.jsonl.zst", frame_with_size(""));         // empty: nothing, not even a newline
  write_file(dir / "d.jsonl", "d1");
  write_file(dir / "e.jsonl.zst", frame_without_size("e1\n") + frame_with_size("e2\n"));
  const std::vector<std::string> paths = {dir / "a.jsonl", dir / "b.jsonl.zst", dir / "c.jsonl.zst", dir / "d.jsonl",
                                          dir / "e.jsonl.zst"};
  auto src = open_concat_source("chunk", paths);
  EXPECT_EQ(src->path(), "chunk");
  EXPECT_EQ(read_all(*src), "a1\na2\nb1\nb2\nd1\ne1\ne2\n");
  uint64_t on_disk = 0;
  for (const auto& p : paths) on_disk += file_size(p);
  EXPECT_EQ(src->raw_bytes_read(), on_disk);
}

TEST(ConcatSource, AFileThatChangedSizeSinceThePlanIsAnError) {
  TempDir dir;
  write_file(dir / "a.jsonl", "a1\n");
  write_file(dir / "b.jsonl.zst", frame_with_size("b1\nb2\n"));
  auto ok = open_concat_source("chunk", {dir / "a.jsonl", dir / "b.jsonl.zst"}, {3, 6});
  EXPECT_EQ(read_all(*ok), "a1\nb1\nb2\n");
  auto changed = open_concat_source("chunk", {dir / "a.jsonl", dir / "b.jsonl.zst"}, {3, 5});
  try {
    read_all(*changed);
    FAIL() << "a size other than the planned one was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "b.jsonl.zst"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("6 bytes, but was 5"), std::string::npos) << e.what();
  }
}

TEST(ConcatSource, LinesOfTheStreamAreFoundInTheirFiles) {
  TempDir dir;
  write_file(dir / "a.jsonl", "a1\na2\n");
  write_file(dir / "b.jsonl.zst", frame_with_size("b1\nb2"));
  write_file(dir / "c.jsonl", "");
  write_file(dir / "d.jsonl", "d1\n\nd3\n");
  const std::vector<std::string> paths = {dir / "a.jsonl", dir / "b.jsonl.zst", dir / "c.jsonl", dir / "d.jsonl"};
  const auto found = locate_concat_lines(paths, {1, 2, 3, 4, 5, 7});
  const std::vector<std::pair<std::string, uint64_t>> want = {
      {dir / "a.jsonl", 1}, {dir / "a.jsonl", 2}, {dir / "b.jsonl.zst", 1},
      {dir / "b.jsonl.zst", 2}, {dir / "d.jsonl", 1}, {dir / "d.jsonl", 3}};
  EXPECT_EQ(found, want);
  EXPECT_THROW(locate_concat_lines(paths, {8}), Error);
}

TEST(ZstdContentSize, SumsTheFramesThatRecordIt) {
  TempDir dir;
  const std::string a = big_text(40000), b = "tail\n";  // a: ~1 MB, many 128 KiB blocks
  write_file(dir / "one.zst", frame_with_size(a));
  write_file(dir / "two.zst", frame_with_size(a) + skippable_frame("not data") + frame_with_size(b));
  write_file(dir / "empty.zst", frame_with_size(""));
  EXPECT_EQ(zstd_content_size(dir / "one.zst"), a.size());
  EXPECT_EQ(zstd_content_size(dir / "two.zst"), a.size() + b.size());
  EXPECT_EQ(zstd_content_size(dir / "empty.zst"), 0u);
  bool counted = false;
  EXPECT_EQ(decompressed_size(dir / "two.zst", &counted), a.size() + b.size());
  EXPECT_FALSE(counted);
}

TEST(ZstdContentSize, WithoutItTheSizeIsCountedByDecompressing) {
  TempDir dir;
  const std::string a = big_text(30000);
  write_file(dir / "stream.zst", frame_with_size("x\n") + frame_without_size(a));
  write_file(dir / "plain.jsonl", a);
  EXPECT_EQ(zstd_content_size(dir / "stream.zst"), std::nullopt);
  bool counted = false;
  EXPECT_EQ(decompressed_size(dir / "stream.zst", &counted), a.size() + 2);
  EXPECT_TRUE(counted);
  counted = false;
  EXPECT_EQ(decompressed_size(dir / "plain.jsonl", &counted), a.size());
  EXPECT_FALSE(counted);
}

TEST(ZstdContentSize, DamagedDataIsAnInputError) {
  TempDir dir;
  const std::string whole = frame_with_size(big_text(20000));
  write_file(dir / "cut.zst", whole.substr(0, whole.size() / 2));
  write_file(dir / "empty.zst", "");
  write_file(dir / "text.zst", "this is not zstd data at all\n");
  for (const char* name : {"cut.zst", "empty.zst", "text.zst"}) {
    try {
      (void)zstd_content_size(dir / name);
      ADD_FAILURE() << name << " was accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.file, dir / name);
    }
  }
}

// Text that compresses poorly (so frames are long), deterministic.
std::string noise(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  for (char& c : s) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    c = static_cast<char>('!' + seed % 90);
  }
  return s;
}

std::string frame_with_size_and_checksum(const std::string& data) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
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

// Frames of 300 KB (with and without checksums), a skippable frame, an
// RLE-heavy frame and a last frame whose header gives no size: any skip reads
// on from exactly there.
TEST(ZstdSkip, ReadsOnFromExactlyThere) {
  TempDir d;
  const std::string a = noise(300000, 1), b = noise(300000, 2), rle(200000, 'z'), c = noise(100000, 3);
  write_file(d / "x.zst", frame_with_size_and_checksum(a) + skippable_frame("meta") + frame_with_size(b) +
                              frame_with_size(rle) + frame_without_size(c));
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
TEST(ZstdSkip, PassesWholeFramesByTheirHeaders) {
  TempDir d;
  const std::string a = noise(400000, 4), b = noise(400000, 5), c = noise(400000, 6);
  const std::string fa = frame_with_size(a), fb = frame_with_size(b), fc = frame_with_size(c);
  write_file(d / "x.zst", fa + fb + fc);
  auto src = open_byte_source(d / "x.zst");
  src->skip(a.size() + b.size());
  EXPECT_EQ(src->raw_bytes_read(), fa.size() + fb.size());
  EXPECT_EQ(read_rest(*src), c);
}

// A frame cut short is not jumped over: skipping into it decodes it and says it is truncated.
TEST(ZstdSkip, IntoATruncatedFrameFails) {
  TempDir d;
  const std::string a = noise(200000, 7), b = noise(200000, 8);
  const std::string fb = frame_with_size(b);
  write_file(d / "x.zst", frame_with_size(a) + fb.substr(0, fb.size() / 2));
  auto src = open_byte_source(d / "x.zst");
  EXPECT_THROW(src->skip(a.size() + b.size()), InputError);
}


// 40 shards as a chunk holds them: zstd of one and of two frames (one without
// its size), plain files, empty ones of both kinds, some without a final
// newline, some of several MiB (many pieces, more than a decoder queues).
struct Shards {
  std::vector<std::string> paths;
  std::vector<uint64_t> sizes;  // decompressed
  std::string stream;           // what sp_concat writes
  std::vector<size_t> starts;   // where each shard begins in it
};
Shards make_shards(const TempDir& dir, size_t count) {
  Shards s;
  for (size_t i = 0; i < count; ++i) {
    std::string data = i % 7 == 3 ? "" : big_text(i % 10 == 9 ? 200000 : 50 + i * 37);
    if (i % 5 == 0 && !data.empty()) data += "{\"text\": \"no newline after this " + std::to_string(i) + "\"}";
    const bool zst = i % 4 != 1;
    const std::string path = dir / ("shard-" + std::to_string(i) + (zst ? ".jsonl.zst" : ".jsonl"));
    const size_t half = data.size() / 2;
    const std::string two_frames = frame_with_size(data.substr(0, half)) + frame_without_size(data.substr(half));
    write_file(path, !zst ? data : i % 3 == 0 ? frame_with_size(data) : two_frames);
    s.paths.push_back(path);
    s.starts.push_back(s.stream.size());
    s.sizes.push_back(data.size());
    s.stream += data;
    if (!data.empty() && data.back() != '\n') s.stream += '\n';
  }
  return s;
}

// Reads in sizes that vary (1 byte to 3 MiB), so pieces and files end inside
// reads and between them.
std::string read_varied(ByteSource& src) {
  std::string out, buf(3 << 20, '\0');
  static constexpr size_t kSizes[] = {1, 7, 4096, 1 << 20, 3 << 20, 100003};
  for (size_t k = 0, n; (n = src.read(buf.data(), kSizes[k % 6])) > 0; ++k) out.append(buf.data(), n);
  return out;
}

TEST(ConcatSource, ManyShardsReadAheadGiveTheConcatenation) {
  TempDir dir;
  const Shards s = make_shards(dir, 40);
  ASSERT_GT(s.stream.size(), size_t{10} << 20);  // several shards of many pieces each
  uint64_t on_disk = 0;
  for (const auto& p : s.paths) on_disk += file_size(p);
  for (size_t files_ahead : {1, 3, 8}) {
    auto src = open_concat_source("chunk", s.paths, s.sizes, files_ahead);
    const std::string got = read_varied(*src);
    ASSERT_EQ(got.size(), s.stream.size()) << files_ahead << " files ahead";
    EXPECT_TRUE(got == s.stream) << "the stream differs from the concatenation, " << files_ahead << " files ahead";
    EXPECT_EQ(src->read(nullptr, 0), 0u);
    char c;
    EXPECT_EQ(src->read(&c, 1), 0u);  // the end stays the end
    EXPECT_EQ(src->raw_bytes_read(), on_disk);
  }
  auto few = open_concat_source("chunk", {s.paths.begin(), s.paths.begin() + 12});
  EXPECT_TRUE(read_all(*few) == s.stream.substr(0, s.starts[12]));
}

// Shard 5 of 10 holds a good frame then damaged data, shard 7 is not zstd at
// all: everything before shard 5's damage is read first, then shard 5 is named.
TEST(ConcatSource, ACorruptShardFailsInFileOrderAfterTheBytesBeforeIt) {
  TempDir dir;
  Shards s = make_shards(dir, 10);
  const std::string good = big_text(20000);
  write_file(s.paths[5] = dir / "bad-5.jsonl.zst", frame_with_size(good) + "this is not a zstd frame at all....");
  write_file(s.paths[7] = dir / "bad-7.jsonl.zst", "not zstd either\n");
  const std::string before = s.stream.substr(0, s.starts[5]);
  auto src = open_concat_source("chunk", s.paths);
  std::string got, buf(1 << 16, '\0');
  try {
    for (size_t n; (n = src->read(buf.data(), buf.size())) > 0;) got.append(buf.data(), n);
    FAIL() << "damaged shards were read without an error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file, s.paths[5]);
    EXPECT_NE(e.reason.find("corrupt zstd data"), std::string::npos) << e.reason;
  }
  EXPECT_TRUE(got == before + good) << "read " << got.size() << " bytes, not the " << (before + good).size()
                                    << " before the damage";
  EXPECT_THROW(src->read(buf.data(), buf.size()), InputError);  // and again: the error stays

  // A shard that cannot be opened, likewise in its turn.
  s.paths[5] = dir / "missing.jsonl.zst";
  auto missing = open_concat_source("chunk", s.paths);
  got.clear();
  try {
    for (size_t n; (n = missing->read(buf.data(), buf.size())) > 0;) got.append(buf.data(), n);
    FAIL() << "a missing shard was not reported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.jsonl.zst"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(got == before);
}

TEST(ConcatSource, APlannedSizeThatDiffersIsFoundInItsTurn) {
  TempDir dir;
  Shards s = make_shards(dir, 30);
  s.sizes[20] += 1;
  auto src = open_concat_source("chunk", s.paths, s.sizes);
  std::string got, buf(1 << 16, '\0');
  try {
    for (size_t n; (n = src->read(buf.data(), buf.size())) > 0;) got.append(buf.data(), n);
    FAIL() << "a size other than the planned one was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(s.paths[20] + "' decompresses to"), std::string::npos) << e.what();
  }
  // All of shard 20's data came, not the newline after it.
  EXPECT_TRUE(got == s.stream.substr(0, s.starts[20] + s.sizes[20] - 1)) << got.size();
}

// Decoders wait on full queues while the reader is stopped: destroying the
// source must wake and join them (a pipeline that failed, a SIGTERM).
TEST(ConcatSource, DestroyedAfterAPartialReadReturnsPromptly) {
  TempDir dir;
  const Shards s = make_shards(dir, 40);
  for (size_t got_before : {size_t{0}, size_t{100}, size_t{5} << 20}) {
    auto src = open_concat_source("chunk", s.paths, {}, 8);
    std::string buf(got_before, '\0');
    ASSERT_EQ(read_full(*src, buf.data(), buf.size()), got_before);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the decoders fill their queues and wait
    const auto t0 = std::chrono::steady_clock::now();
    src.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "after reading " << got_before;
  }
}

TEST(ConcatSource, SkipLandsAnywhereInTheStream) {
  TempDir dir;
  const Shards s = make_shards(dir, 40);
  const uint64_t first_end = s.starts[1];  // shard 0 has no final newline: the stream adds it
  ASSERT_EQ(s.stream[first_end - 2], '}');
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, first_end - 1, first_end, first_end + 1, uint64_t{s.stream.size() / 3},
                     uint64_t{s.stream.size() / 2 + 12345}, uint64_t{s.stream.size() - 1}, uint64_t{s.stream.size()}}) {
    auto src = open_concat_source("chunk", s.paths, s.sizes);
    src->skip(n);
    EXPECT_TRUE(read_rest(*src) == s.stream.substr(n)) << "after skipping " << n;
  }
  auto src = open_concat_source("chunk", s.paths);
  EXPECT_THROW(src->skip(s.stream.size() + 1), InputError);
}

}  // namespace
}  // namespace sp
