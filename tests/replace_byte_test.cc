// replace_byte (src/replace_byte.h): the eight-byte path and the tail agree
// with a plain loop for every position of the byte, runs squeezed or not.
#include "replace_byte.h"

#include <gtest/gtest.h>

#include <string>

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
  std::string out(in.size() * std::max<size_t>(1, with.size()) + 8, '\0');
  out.resize(static_cast<size_t>(replace_byte(in, byte, with, squeeze, out.data()) - out.data()));
  return out;
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

}  // namespace
}  // namespace sp
