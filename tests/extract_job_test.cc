// run_extract_job called directly (no argv): a .jsonl.zst made with the zstd CLI becomes its JSONL.
#include "sp/extract_job.h"

#include <gtest/gtest.h>

#include "sp/fs.h"
#include "test_support.h"

namespace sp {
namespace {

using test::read_file;
using test::run_command;
using test::shell_quote;
using test::TempDir;
using test::write_file;

ExtractJobOptions options_for(const TempDir& dir) {
  ExtractJobOptions o;
  o.input_dir = dir / "in";
  o.output_dir = dir / "out";
  o.extract.validate = true;
  o.threads = 2;
  o.quiet = true;
  o.progress.mode = ProgressMode::kOff;
  return o;
}

TEST(ExtractJob, ZstdShardBecomesItsJsonl) {
  TempDir dir;
  const std::string jsonl = "{\"text\":\"one\"}\n{\"text\":\"two\"}\n";
  make_dirs(dir / "in/sub");
  write_file(dir / "in/sub/shard.jsonl", jsonl);
  ASSERT_EQ(run_command("zstd -q --rm " + shell_quote(dir / "in/sub/shard.jsonl")).exit_code, 0);
  ASSERT_TRUE(path_exists(dir / "in/sub/shard.jsonl.zst"));
  EXPECT_EQ(run_extract_job(options_for(dir)), 0);
  EXPECT_EQ(read_file(dir / "out/sub/shard.jsonl"), jsonl);
}

TEST(ExtractJob, CorruptShardFailsTheJob) {
  TempDir dir;
  make_dirs(dir / "in");
  write_file(dir / "in/bad.jsonl.zst", "not a zstd frame");
  EXPECT_EQ(run_extract_job(options_for(dir)), 1);
  EXPECT_FALSE(path_exists(dir / "out/bad.jsonl"));
}

}  // namespace
}  // namespace sp
