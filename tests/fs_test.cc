// Atomic output files, directory listing, JSON quoting and byte sources.
#include "sp/fs.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include "sp/byte_source.h"
#include "sp/error.h"
#include "sp/json_out.h"
#include "test_support.h"

namespace sp {
namespace {

using test::file_exists;
using test::list_dir;
using test::read_file;
using test::TempDir;
using test::write_file;

TEST(AtomicFile, NothingAtTheFinalNameUntilCommit) {
  TempDir d;
  const std::string path = d / "out.bin";
  {
    AtomicFile f(path, 16);  // tiny buffer: exercises flushes and large writes
    f.write("hello ");
    f.write(std::string(100, 'x'));
    EXPECT_FALSE(test::file_exists(path));
    EXPECT_TRUE(test::file_exists(f.temp_path()));
    EXPECT_EQ(f.size(), 106u);
    f.commit();
  }
  EXPECT_EQ(read_file(path), "hello " + std::string(100, 'x'));
  EXPECT_EQ(list_dir(d.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, ReservedRangesFilledOutOfOrder) {
  TempDir d;
  const std::string path = d / "out.bin";
  AtomicFile f(path, 8);
  f.write("head", 4);
  const uint64_t a = f.reserve(5);
  f.write("mid", 3);  // goes after the reserved range
  const uint64_t b = f.reserve(3);
  const uint64_t empty = f.reserve(0);
  f.write("tail", 4);
  EXPECT_EQ(a, 4u);
  EXPECT_EQ(b, 12u);
  EXPECT_EQ(empty, 15u);
  EXPECT_EQ(f.size(), 19u);
  f.write_at(b, "BBB", 3);
  f.write_at(a, "AAAAA", 5);
  f.commit();
  EXPECT_EQ(read_file(path), "headAAAAAmidBBBtail");
}

// Found by the fuzzers under UndefinedBehaviorSanitizer: writing an empty
// vector (null data()) reached memcpy. Fails only in scripts/sanitize.sh.
TEST(AtomicFile, WritingNothingFromANullPointerIsANoOp) {
  TempDir d;
  AtomicFile f(d / "out.bin");
  f.write(nullptr, 0);
  f.write("x", 1);
  f.write(nullptr, 0);
  f.commit();
  EXPECT_EQ(read_file(d / "out.bin"), "x");
}

TEST(AtomicFile, DiscardedOrDestroyedLeavesNothing) {
  TempDir d;
  write_file(d / "keep.bin", "old");
  {
    AtomicFile f(d / "keep.bin");
    f.write("new content that never lands");
  }
  EXPECT_EQ(read_file(d / "keep.bin"), "old");
  EXPECT_EQ(list_dir(d.path()), std::vector<std::string>{"keep.bin"});
}

// A resumable part: its fixed name is no "<final>.tmp-" name, it outlives an
// uncommitted object, and a later one continues after the bytes it keeps.
TEST(AtomicFile, ResumablePartOutlivesItsWriterAndIsContinued) {
  TempDir d;
  {
    AtomicFile f(d / "out.bin", d / "out.bin.sp-part", 0, 4);
    f.write("hello, wor");
    f.sync();
  }
  EXPECT_EQ(list_dir(d.path()), std::vector<std::string>{"out.bin.sp-part"});
  EXPECT_EQ(read_file(d / "out.bin.sp-part"), "hello, wor");
  {
    AtomicFile f(d / "out.bin", d / "out.bin.sp-part", 5, 4);  // ", wor" is cut off
    EXPECT_EQ(f.size(), 5u);
    f.write(" world");
    const uint64_t at = f.reserve(1);
    f.write_at(at, "!", 1);
    f.commit();
  }
  EXPECT_EQ(list_dir(d.path()), std::vector<std::string>{"out.bin"});
  EXPECT_EQ(read_file(d / "out.bin"), "hello world!");
  {
    AtomicFile f(d / "gone.bin", d / "gone.bin.sp-part", 0);
    f.write("x");
    f.discard();
  }
  EXPECT_EQ(list_dir(d.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, MissingDirectoryIsAClearError) {
  TempDir d;
  try {
    AtomicFile f(d / "no/such/dir/x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir"), std::string::npos) << e.what();
  }
}

// open_locked: one holder at a time; without `create` a missing file is no
// error; the lock goes with the descriptor. (The retry when the holder renames
// the file between another's open and lock is exercised through the tools:
// extract_test's ARunThatOpenedThePartialBeforeAnotherCommittedIt...)
TEST(OpenLocked, OneHolderAndNoFileWithoutCreate) {
  TempDir d;
  const std::string path = d / "work.part";
  bool busy = true;
  EXPECT_FALSE(open_locked(path, /*create=*/false, &busy));
  EXPECT_FALSE(busy);
  EXPECT_FALSE(file_exists(path));
  UniqueFd held = open_locked(path, /*create=*/true, &busy);
  ASSERT_TRUE(held);
  EXPECT_FALSE(busy);
  EXPECT_FALSE(open_locked(path, /*create=*/true, &busy));
  EXPECT_TRUE(busy);
  EXPECT_FALSE(open_locked(path, /*create=*/false, &busy));
  EXPECT_TRUE(busy);
  held.reset();
  EXPECT_TRUE(open_locked(path, /*create=*/false, &busy));
  EXPECT_FALSE(busy);
  try {
    open_locked(d / "no/such/dir/work.part", /*create=*/true, &busy);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir"), std::string::npos) << e.what();
  }
}

TEST(ListFiles, RecursiveSortedBytewiseAndFiltered) {
  TempDir d;
  make_dirs(d / "b/sub");
  make_dirs(d / "a");
  write_file(d / "b/sub/z.jsonl", "1");
  write_file(d / "b/a.jsonl", "22");
  write_file(d / "a/B.jsonl", "333");
  write_file(d / "a/notes.txt", "x");
  write_file(d / "C.jsonl", "");
  auto files = list_files(d.path(), [](std::string_view rel) { return ends_with(rel, ".jsonl"); });
  std::vector<std::string> rel;
  for (const auto& f : files) rel.push_back(f.relative);
  EXPECT_EQ(rel, (std::vector<std::string>{"C.jsonl", "a/B.jsonl", "b/a.jsonl", "b/sub/z.jsonl"}));
  EXPECT_EQ(files[1].size, 3u);
  EXPECT_EQ(files[1].path, d.path() + "/a/B.jsonl");
  EXPECT_THROW(list_files(d / "missing", [](std::string_view) { return true; }), Error);
}

TEST(ListFiles, ReportsDanglingSymlinksInsteadOfSkippingThemSilently) {
  TempDir d;
  make_dirs(d / "in/sub");
  make_dirs(d / "elsewhere");
  write_file(d / "in/a.jsonl", "1");
  write_file(d / "elsewhere/b.jsonl", "22");
  ASSERT_EQ(::symlink((d / "elsewhere/b.jsonl").c_str(), (d / "in/b.jsonl").c_str()), 0);   // fine: followed
  ASSERT_EQ(::symlink((d / "gone/c.jsonl").c_str(), (d / "in/sub/c.jsonl").c_str()), 0);    // dangling file
  ASSERT_EQ(::symlink((d / "unmounted").c_str(), (d / "in/shards").c_str()), 0);            // dangling directory
  std::vector<std::string> dangling;
  auto files = list_files(d / "in", [](std::string_view rel) { return ends_with(rel, ".jsonl"); }, &dangling);
  std::vector<std::string> rel;
  for (const auto& f : files) rel.push_back(f.relative);
  EXPECT_EQ(rel, (std::vector<std::string>{"a.jsonl", "b.jsonl"}));
  EXPECT_EQ(dangling, (std::vector<std::string>{d / "in/shards", d / "in/sub/c.jsonl"}));
  // Without the out-parameter the listing is the same.
  EXPECT_EQ(list_files(d / "in", [](std::string_view) { return true; }).size(), 2u);
}

TEST(CheckOutputFilePath, RefusesWhatCouldNeverBeWritten) {
  TempDir d;
  make_dirs(d / "dir");
  write_file(d / "plain", "x");
  EXPECT_NO_THROW(check_output_file_path(d / "stats.json", "--stats-json"));
  EXPECT_NO_THROW(check_output_file_path(d / "plain", "--stats-json"));  // replaced when written
  for (const std::string& bad : {d / "missing/stats.json", d / "plain/stats.json", d / "dir", std::string()}) {
    try {
      check_output_file_path(bad, "--stats-json");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--stats-json: ", 0), 0u) << e.what();
    }
  }
}

TEST(Paths, Helpers) {
  EXPECT_EQ(parent_dir("a/b/c.txt"), "a/b");
  EXPECT_EQ(parent_dir("c.txt"), ".");
  EXPECT_EQ(parent_dir("/c.txt"), "/");
  EXPECT_EQ(base_name("a/b/c.txt"), "c.txt");
  EXPECT_TRUE(ends_with("x.jsonl.zst", ".zst"));
  EXPECT_FALSE(ends_with("zst", ".zst"));
}

TEST(JsonQuote, EscapesAndRepairsInvalidUtf8) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  EXPECT_EQ(json_quote("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(json_quote("bad\xFF"), "\"bad\xEF\xBF\xBD\"");
  EXPECT_EQ(json_quote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // encoded surrogate
}

std::string read_all(ByteSource& s, size_t chunk) {
  std::string out, buf(chunk, '\0');
  while (size_t n = s.read(buf.data(), buf.size())) out.append(buf.data(), n);
  return out;
}

TEST(ByteSource, PlainAndZstdStreams) {
  TempDir d;
  std::string data;
  for (int i = 0; i < 50000; ++i) data += "{\"text\":\"line " + std::to_string(i) + "\"}\n";
  write_file(d / "a.jsonl", data);
  std::string z(ZSTD_compressBound(data.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), data.data(), data.size(), 1));
  write_file(d / "a.jsonl.zst", z + z);  // two frames back to back
  auto plain = open_byte_source(d / "a.jsonl");
  EXPECT_EQ(read_all(*plain, 1000), data);
  EXPECT_EQ(plain->raw_bytes_read(), data.size());
  auto zs = open_byte_source(d / "a.jsonl.zst");
  EXPECT_EQ(read_all(*zs, 777), data + data);
  EXPECT_EQ(zs->raw_bytes_read(), 2 * z.size());
}

TEST(ByteSource, CorruptTruncatedAndMissingInputs) {
  TempDir d;
  std::string data(100000, 'q');
  std::string z(ZSTD_compressBound(data.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), data.data(), data.size(), 1));
  write_file(d / "cut.zst", z.substr(0, z.size() / 2));
  write_file(d / "junk.zst", "this is not zstd at all");
  write_file(d / "empty.zst", "");
  for (const char* name : {"cut.zst", "junk.zst", "empty.zst"}) {
    auto s = open_byte_source(d / name);
    try {
      read_all(*s, 4096);
      FAIL() << name << " read without error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(open_byte_source(d / "missing.jsonl"), Error);
}

}  // namespace
}  // namespace sp
