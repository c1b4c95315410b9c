// Scratch files: the bytes written come back in full pieces, and at no point
// does the file have a name in its directory, with O_TMPFILE or with the
// create-and-unlink fallback.
#include "sp/scratch_file.h"

#include <gtest/gtest.h>

#include <string>

#include "sp/error.h"
#include "test_support.h"

namespace sp {
namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

void round_trip(bool try_tmpfile) {
  test::TempDir d;
  test::write_file(d / "out.idx", "unrelated");
  const std::string data = pattern((size_t{3} << 20) + 12345);  // several buffers' worth
  {
    ScratchFile f(d / "out.idx.lengths", try_tmpfile, size_t{1} << 16);
    if (!try_tmpfile) {
      EXPECT_FALSE(f.anonymous_from_start());
    }
    for (size_t at = 0; at < data.size(); at += 1000) f.write(data.data() + at, std::min<size_t>(1000, data.size() - at));
    EXPECT_EQ(f.size(), data.size());
    EXPECT_EQ(test::list_dir(d.path()), std::vector<std::string>{"out.idx"}) << "the scratch file has a name";
    std::string back;
    size_t pieces = 0, short_pieces = 0;
    f.read_all(
        [&](const char* p, size_t n) {
          back.append(p, n);
          ++pieces;
          short_pieces += n != 4096;
        },
        4096);
    EXPECT_TRUE(back == data);
    EXPECT_EQ(pieces, (data.size() + 4095) / 4096);
    EXPECT_EQ(short_pieces, data.size() % 4096 ? 1u : 0u) << "only the last piece may be short";
    f.write("tail", 4);  // still writable after reading back
    back.clear();
    f.read_all([&](const char* p, size_t n) { back.append(p, n); });
    EXPECT_TRUE(back == data + "tail");
  }
  EXPECT_EQ(test::list_dir(d.path()), std::vector<std::string>{"out.idx"});
}

// O_TMPFILE where the test directory's file system has it (ext4, xfs, btrfs,
// tmpfs), else the fallback: either way, never a name.
TEST(ScratchFile, RoundTripsWithoutAName) { round_trip(true); }

TEST(ScratchFile, RoundTripsWithoutANameUsingTheFallback) { round_trip(false); }

// The exception asked for by name: a resumable scratch file keeps its name
// after the object goes, is continued after the bytes a later one keeps, and
// goes only with remove().
TEST(ScratchFile, ResumableKeepsItsNameUntilRemoved) {
  test::TempDir d;
  const std::string data = pattern(100000);
  {
    auto f = ScratchFile::resumable(d / "x.lengths.sp-part", 0, 1024);
    f->write(data.data(), data.size());
    f->sync();
  }
  EXPECT_EQ(test::read_file(d / "x.lengths.sp-part"), data);
  auto f = ScratchFile::resumable(d / "x.lengths.sp-part", 60000, 1024);
  EXPECT_EQ(f->size(), 60000u);
  f->write("end", 3);
  std::string back;
  f->read_all([&](const char* p, size_t n) { back.append(p, n); });
  EXPECT_TRUE(back == data.substr(0, 60000) + "end");
  f->remove();
  EXPECT_TRUE(test::list_dir(d.path()).empty());
}

TEST(ScratchFile, MissingDirectoryIsAClearError) {
  test::TempDir d;
  for (bool tmpfile : {true, false}) {
    try {
      ScratchFile f(d / "missing/out.idx.docs", tmpfile);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(d / "missing/out.idx.docs"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sp
