// run_concat_job called directly (no argv): a small job's chunks, its dry run, and its exit status.
#include "sp/concat_job.h"

#include <gtest/gtest.h>

#include "sp/fs.h"
#include "test_support.h"

namespace sp {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;

ConcatJobOptions options_for(const TempDir& dir) {
  ConcatJobOptions o;
  o.plan.input_dir = dir / "in";
  o.plan.output_dir = dir / "out";
  o.plan.files_per_chunk = 2;
  o.threads = 2;
  o.quiet = true;
  o.progress.mode = ProgressMode::kOff;
  return o;
}

void write_inputs(const TempDir& dir) {
  make_dirs(dir / "in");
  write_file(dir / "in/a.jsonl", "{\"text\":\"a\"}\n");
  write_file(dir / "in/b.jsonl", "{\"text\":\"b\"}");  // no final newline: the chunk adds one
  write_file(dir / "in/c.jsonl", "{\"text\":\"c\"}\n{\"text\":\"cc\"}\n");
}

TEST(ConcatJob, ChunksAreTheInputsConcatenatedAndTheJobSucceeds) {
  TempDir dir;
  write_inputs(dir);
  EXPECT_EQ(run_concat_job(options_for(dir)), 0);
  EXPECT_EQ(read_file(dir / "out/train_chunk_0.jsonl"), "{\"text\":\"a\"}\n{\"text\":\"b\"}\n");
  EXPECT_EQ(read_file(dir / "out/train_chunk_1.jsonl"), "{\"text\":\"c\"}\n{\"text\":\"cc\"}\n");
  // A rerun keeps the complete chunks and still succeeds.
  EXPECT_EQ(run_concat_job(options_for(dir)), 0);
  EXPECT_EQ(read_file(dir / "out/train_chunk_0.jsonl"), "{\"text\":\"a\"}\n{\"text\":\"b\"}\n");
}

TEST(ConcatJob, DryRunWritesNothing) {
  TempDir dir;
  write_inputs(dir);
  ConcatJobOptions o = options_for(dir);
  o.dry_run = true;
  EXPECT_EQ(run_concat_job(o), 0);
  EXPECT_FALSE(path_exists(dir / "out/train_chunk_0.jsonl"));
}

TEST(ConcatJob, NoInputsIsNothingToDo) {
  TempDir dir;
  make_dirs(dir / "in");
  EXPECT_EQ(run_concat_job(options_for(dir)), 0);
  EXPECT_FALSE(path_exists(dir / "out/train_chunk_0.jsonl"));
}

}  // namespace
}  // namespace sp
