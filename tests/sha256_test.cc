#include "sp/sha256.h"

#include <gtest/gtest.h>

#include "sp/error.h"
#include "test_support.h"

using sp::test::TempDir;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sp::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sp::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsOneShotAndResets) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  sp::Sha256 h;
  h.update(data.substr(0, 1));
  h.update(data.substr(1, 65535));
  h.update(data.substr(65536));
  EXPECT_EQ(h.hex_digest(), sp::sha256_hex(data));
  h.reset();
  h.update("abc");
  EXPECT_EQ(h.hex_digest(), sp::sha256_hex("abc"));
}

TEST(Sha256, FilePrefixAndWhole) {
  TempDir d;
  sp::test::write_file(d / "f", "hello world");
  EXPECT_EQ(sp::sha256_file(d / "f"), sp::sha256_hex("hello world"));
  sp::Sha256 h;
  sp::sha256_update_from_file(h, d / "f", 5);
  EXPECT_EQ(h.hex_digest(), sp::sha256_hex("hello"));
  sp::Sha256 h2;
  EXPECT_THROW(sp::sha256_update_from_file(h2, d / "f", 50), sp::Error);
  EXPECT_THROW(sp::sha256_file(d / "missing"), sp::Error);
}

TEST(Sha256, HexCheck) {
  EXPECT_TRUE(sp::is_sha256_hex(std::string(64, 'a')));
  EXPECT_TRUE(sp::is_sha256_hex(std::string(64, 'F')));
  EXPECT_FALSE(sp::is_sha256_hex(std::string(63, 'a')));
  EXPECT_FALSE(sp::is_sha256_hex(std::string(64, 'g')));
}
