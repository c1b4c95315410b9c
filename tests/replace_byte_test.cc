// replace_byte (src/replace_byte.h): the 64-byte blocks (once per SIMD
// target), the eight-byte path and the tail agree with a plain loop for
// every position of the byte, runs squeezed or not, runs and matchless
// stretches across block edges included; the output buffer is exactly the
// room the contract asks, so a write past it fails under ASan.
#include "replace_byte.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "simd_targets.h"

namespace sp {
namespace {

std::string plain(const std::string& in, char byte, const std::string& with, bool squeeze) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != byte) {
      out += in[i];
      continue;
    }
    out += with;
    if (squeeze)
      while (i + 1 < in.size() && in[i + 1] == byte) ++i;
  }
  return out;
}

std::string fast(const std::string& in, char byte, const std::string& with, bool squeeze) {
  const auto out = std::make_unique<char[]>(in.size() * std::max<size_t>(1, with.size()) + 16);
  // An exact-size copy of the input, so a read past its end fails under ASan too.
  const auto copy = std::make_unique<char[]>(in.size() + 1);
  std::memcpy(copy.get(), in.data(), in.size());
  const char* end = replace_byte(std::string_view(copy.get(), in.size()), byte, with, squeeze, out.get());
  return std::string(static_cast<const char*>(out.get()), end);
}

TEST(ReplaceByte, AgreesWithAPlainLoop) {
  uint32_t state = 1;
  for (int round = 0; round < 5000; ++round) {
    std::string in;
    for (int i = round % 40; i > 0; --i) {
      state = state * 1103515245 + 12345;
      const unsigned r = (state >> 16) % 8;
      // spaces, bytes with the high bit (one that is a space's with it), letters
      in += r < 3 ? ' ' : r < 4 ? '\xE2' : r < 5 ? '\xA0' : static_cast<char>('a' + r);
    }
    for (bool squeeze : {false, true})
      for (const std::string with : {"\xE2\x96\x81", "", "_", "0123456789"})
        ASSERT_EQ(fast(in, ' ', with, squeeze), plain(in, ' ', with, squeeze)) << "'" << in << "'";
  }
  EXPECT_EQ(fast("a  b", ' ', "\xE2\x96\x81", true), "a\xE2\x96\x81" "b");
  EXPECT_EQ(fast("", ' ', "x", false), "");
}

// Texts of up to 600 bytes made of words, runs of the byte and stretches
// without it (1 to 150 bytes, so over 16 and over 64), so that matches,
// runs and copies start and end at every offset of the 64-byte blocks.
TEST(ReplaceByte, LongTextsAgreeWithAPlainLoopOnEveryTarget) {
  test::for_each_simd_target([](const std::string& target) {
    uint32_t state = 7;
    auto next = [&state](uint32_t below) {
      state = state * 1103515245 + 12345;
      return (state >> 8) % below;
    };
    for (int round = 0; round < 3000; ++round) {
      std::string in;
      const size_t size = next(600);
      while (in.size() < size) {
        switch (next(4)) {
          case 0: in.append(1 + next(3), ' '); break;
          case 1: in.append(1 + next(150), ' '); break;
          case 2: in.append(1 + next(150), static_cast<char>('a' + next(26))); break;
          default: in += std::string("word\xE2\x96\x81x").substr(0, 1 + next(8)) + ' ';
        }
      }
      for (bool squeeze : {false, true})
        for (const std::string with : {"\xE2\x96\x81", "", "0123456789"})
          ASSERT_EQ(fast(in, ' ', with, squeeze), plain(in, ' ', with, squeeze)) << target << " '" << in << "'";
    }
  });
}

}  // namespace
}  // namespace sp
