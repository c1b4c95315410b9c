// open_byte_source on a .zst file. Two modes, picked by the first input byte:
//  - raw: the rest of the input is the file. The source must throw sp::Error
//    (an InputError naming the file) or return data, and it must agree with
//    a plain in-memory libzstd decode of the same bytes: the same data, and an
//    error exactly when that decode fails, ends inside a frame, or the file
//    is empty.
//  - round trip: the rest is plain text, written as one to three zstd frames
//    (an empty frame and a skippable frame mixed in as chosen); reading it
//    back gives the text exactly, and the file cut short by one byte throws.
// Reads use the chunk size the first byte picks, 1 byte to 64 KiB.
// A fuzzed frame header may ask for a 2 GiB window (the toolkit accepts zstd
// --long=31), so run with -malloc_limit_mb=4096 (scripts/fuzz.sh does).
#include <zstd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "sp/byte_source.h"
#include "sp/error.h"

namespace {

// Decompressed output beyond this is not compared (a few bytes of zstd can
// stand for gigabytes).
constexpr size_t kMaxOutput = size_t{8} << 20;

struct Decoded {
  std::string data;
  bool failed = false;     // what sp::ByteSource must report as an error
  bool truncated = false;  // stopped at kMaxOutput: only the prefix is known
};

// The reference: libzstd's streaming decoder fed one input byte per call, output in large steps. A call
// that fails reports none of the output it made, and one call may decode several blocks and then meet a bad
// checksum or a corrupt block: fed the whole file at once, the reference would drop data that a reader
// taking smaller steps rightly returns before its error. One byte per call makes each failing call the one
// that reads the offending byte, so everything decodable before it has been reported.
Decoded reference_decode(std::string_view file) {
  Decoded r;
  if (file.empty()) {
    r.failed = true;
    return r;
  }
  // Reused across inputs: fresh megabytes per run would dominate the fuzzer's time.
  static ZSTD_DCtx* const dctx_ptr = ZSTD_createDCtx();
  static std::vector<char> buf(size_t{1} << 20);
  ZSTD_DCtx* dctx = dctx_ptr;
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 31);
  ZSTD_inBuffer in{file.data(), 0, 0};
  size_t ret = 0;
  for (;;) {
    in.size = std::min(file.size(), in.pos + 1);
    ZSTD_outBuffer out{buf.data(), buf.size(), 0};
    const size_t in_before = in.pos;
    ret = ZSTD_decompressStream(dctx, &out, &in);
    if (ZSTD_isError(ret)) {
      r.failed = true;
      return r;
    }
    r.data.append(buf.data(), out.pos);
    if (r.data.size() >= kMaxOutput) {
      r.data.resize(kMaxOutput);
      r.truncated = true;
      return r;
    }
    // Done when all input is consumed and zstd holds nothing back.
    if (in.pos == file.size() && out.pos < out.size) break;
    if (in.pos == in_before && out.pos == 0) break;  // no progress: nothing more will come
  }
  r.failed = ret != 0;  // the file ends inside a frame
  return r;
}

struct Read {
  std::string data;
  bool threw = false;
  std::string error;
};

// Reads until the end, an error, or `limit` bytes.
Read read_source(const std::string& path, size_t chunk, size_t limit) {
  Read r;
  try {
    auto src = sp::open_byte_source(path);
    static std::vector<char> buf(size_t{1} << 16);
    while (r.data.size() < limit) {
      const size_t n = src->read(buf.data(), chunk);
      if (n == 0) break;
      FUZZ_CHECK(n <= chunk, "read returned %zu of %zu", n, chunk);
      r.data.append(buf.data(), n);
    }
  } catch (const sp::InputError& e) {
    FUZZ_CHECK(e.file == path, "error names '%s', not the file", e.file.c_str());
    r.threw = true;
    r.error = e.what();
  }
  return r;
}

bool same_prefix(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  return a.compare(0, n, b, 0, n) == 0;
}

std::string compress_frame(std::string_view text, int level) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), level);
  FUZZ_CHECK(!ZSTD_isError(n), "ZSTD_compress: %s", ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

// A skippable frame (magic 0x184D2A5?, little-endian length, payload).
std::string skippable_frame(std::string_view payload) {
  std::string f = "\x50\x2A\x4D\x18";
  const auto n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) f += static_cast<char>((n >> (8 * i)) & 0xFF);
  return f + std::string(payload);
}

void raw_file(const std::string& path, std::string_view file, size_t chunk) {
  sp::fuzz::write_bytes(path, file);
  const Decoded want = reference_decode(file);
  // Byte-sized reads cost a call each: read less of a large output then.
  const size_t limit = std::min(kMaxOutput, chunk << 16);
  const Read got = read_source(path, chunk, limit);
  // Data returned before an error (or a limit) must still be what libzstd decodes.
  FUZZ_CHECK(same_prefix(got.data, want.data), "data differs from libzstd's (%s)", got.error.c_str());
  if (got.data.size() >= limit) {
    FUZZ_CHECK(want.truncated || want.data.size() >= got.data.size(), "more data than libzstd decodes");
    return;
  }
  if (want.truncated) {
    FUZZ_CHECK(!got.threw, "error where libzstd decodes over %zu bytes: %s", kMaxOutput, got.error.c_str());
    return;
  }
  FUZZ_CHECK(got.threw == want.failed, "threw=%d but libzstd failed=%d (%s)", got.threw, want.failed,
             got.error.c_str());
  if (!got.threw) FUZZ_CHECK(got.data == want.data, "%zu bytes, libzstd %zu", got.data.size(), want.data.size());
}

void round_trip(const std::string& path, uint8_t mode, std::string_view text, size_t chunk) {
  // Up to three frames split at points taken from the text's length.
  const size_t cut1 = text.size() / 3, cut2 = (mode & 0x08) ? text.size() / 2 : cut1;
  const int level = 1 + (mode >> 1) % 3;
  std::string file = compress_frame(text.substr(0, cut1), level);
  if (mode & 0x02) file += compress_frame("", level);  // an empty frame
  file += compress_frame(text.substr(cut1, cut2 - cut1), level);
  if (mode & 0x04) file += skippable_frame(text.substr(0, 16));
  file += compress_frame(text.substr(cut2), level);
  if (mode & 0x10) file += skippable_frame("");  // a skippable frame last

  sp::fuzz::write_bytes(path, file);
  const Read whole = read_source(path, chunk, kMaxOutput);
  FUZZ_CHECK(!whole.threw && whole.data == text, "round trip of %zu bytes gave %zu (%s)", text.size(),
             whole.data.size(), whole.error.c_str());

  sp::fuzz::write_bytes(path, std::string_view(file).substr(0, file.size() - 1));
  const Read cut = read_source(path, chunk, kMaxOutput);
  FUZZ_CHECK(cut.threw, "a file cut short by one byte read as %zu bytes without an error", cut.data.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const size_t kChunks[4] = {1, 7, 4096, 65536};
  const size_t chunk = kChunks[mode >> 6];
  const std::string path = sp::fuzz::scratch_dir() + "/input.jsonl.zst";
  if (mode & 1)
    round_trip(path, mode, rest, chunk);
  else
    raw_file(path, rest, chunk);
  return 0;
}
