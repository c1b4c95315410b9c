// run_tokenize_job called directly, as a library user would: batch mode gives
// tokenize_file's bytes per input, the fused path one chunk per plan entry,
// a dry run writes nothing, and inconsistent options or colliding inputs are
// usage errors before any work.
#include "sp/tokenize_job.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sp/error.h"
#include "sp/tokenize.h"
#include "sp/tokenizer.h"
#include "test_support.h"

namespace sp {
namespace {

std::string corpus(int seed, int docs) {
  std::string s;
  for (int i = 0; i < docs; ++i)
    s += "{\"text\": \"document " + std::to_string(seed) + "-" + std::to_string(i) + " says hello, world\"}\n";
  return s;
}

class TokenizeJob : public ::testing::Test {
 protected:
  void SetUp() override {
    SP_REQUIRE_FIXTURE(!test::gpt2_dir().empty(), "GPT-2 vocab not fetched (third_party/gpt2/fetch_vocab.sh)");
    o.tokenizer.vocab_file = test::gpt2_dir() + "/vocab.json";
    o.tokenizer.merge_file = test::gpt2_dir() + "/merges.txt";
    o.tokenize.append_eod = true;
    o.tokenize.checkpoint_every = 0;
    o.progress.mode = ProgressMode::kOff;
    o.quiet = true;
    o.threads = 2;
  }
  // tokenize_file's outputs for `input` at dir/ref/<name>, as the job's reference.
  std::string reference(const std::string& input, const std::string& name) {
    const std::string prefix = output_prefix_for(dir / ("ref_" + name), "text");
    tokenize_file(load_tokenizer(o.tokenizer), input, {prefix}, o.tokenize, nullptr);
    return prefix;
  }
  void expect_same_pair(const std::string& prefix, const std::string& ref) {
    for (const char* ext : {".bin", ".idx"}) {
      ASSERT_TRUE(test::file_exists(prefix + ext)) << prefix + ext;
      EXPECT_EQ(test::read_file(prefix + ext), test::read_file(ref + ext)) << prefix + ext;
    }
  }
  test::TempDir dir;
  TokenizeJobOptions o;
};

TEST_F(TokenizeJob, BatchModeWritesWhatTokenizeFileWritesForEachInput) {
  test::write_file(dir / "a.jsonl", corpus(1, 40));
  test::write_file(dir / "b.jsonl", corpus(2, 70));
  o.inputs = {dir / "a.jsonl", dir / "b.jsonl"};
  o.output_dir = dir / "out";
  o.stats_json = dir / "stats.json";
  EXPECT_EQ(run_tokenize_job(o), 0);
  expect_same_pair(dir / "out/a.jsonl_text_document", reference(dir / "a.jsonl", "a"));
  expect_same_pair(dir / "out/b.jsonl_text_document", reference(dir / "b.jsonl", "b"));
  EXPECT_NE(test::read_file(dir / "stats.json").find("\"documents\": 110"), std::string::npos)
      << test::read_file(dir / "stats.json");
}

TEST_F(TokenizeJob, FusedRunOnTwoShardsWritesOneChunkOfBoth) {
  test::run_command("mkdir -p " + dir / "shards");
  test::write_file(dir / "shards/a.jsonl", corpus(1, 30));
  test::write_file(dir / "shards/b.jsonl", corpus(2, 30));
  test::write_file(dir / "joined.jsonl", corpus(1, 30) + corpus(2, 30));  // what sp_concat would write
  o.input_dir = dir / "shards";
  o.output_dir = dir / "out";
  o.plan.files_per_chunk = 2;
  EXPECT_EQ(run_tokenize_job(o), 0);
  expect_same_pair(dir / "out/train_chunk_0.jsonl_text_document", reference(dir / "joined.jsonl", "joined"));
  EXPECT_FALSE(test::file_exists(dir / "out/train_chunk_1.jsonl_text_document.idx"));
  EXPECT_FALSE(test::file_exists(dir / "out/train_chunk_0.jsonl"));  // no chunk file
  EXPECT_TRUE(test::file_exists(dir / "out/sp_concat_plan.tsv"));
}

TEST_F(TokenizeJob, DryRunPrintsThePlanAndWritesNothing) {
  test::run_command("mkdir -p " + dir / "shards");
  test::write_file(dir / "shards/a.jsonl", corpus(1, 5));
  test::write_file(dir / "shards/b.jsonl", corpus(2, 5));
  o.input_dir = dir / "shards";
  o.output_dir = dir / "out";
  o.plan.files_per_chunk = 1;
  o.dry_run = true;
  testing::internal::CaptureStdout();
  const int status = run_tokenize_job(o);
  const std::string plan = testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0);
  EXPECT_NE(plan.find("train_chunk_1.jsonl"), std::string::npos) << plan;
  EXPECT_NE(plan.find("no chunk file is written"), std::string::npos) << plan;
  EXPECT_FALSE(test::file_exists(dir / "out"));
}

TEST_F(TokenizeJob, InconsistentOptionsAndCollidingInputsAreUsageErrors) {
  test::run_command("mkdir -p " + dir / "x " + dir / "y");
  test::write_file(dir / "x/in.jsonl", corpus(1, 3));
  test::write_file(dir / "y/in.jsonl", corpus(2, 3));
  o.output_dir = dir / "out";
  o.inputs = {dir / "x/in.jsonl"};
  o.input_dir = dir / "x";
  EXPECT_THROW(run_tokenize_job(o), UsageError);
  o.input_dir.clear();
  o.output_prefix = dir / "o";
  EXPECT_THROW(run_tokenize_job(o), UsageError);  // both an output prefix and an output directory
  o.output_prefix.clear();
  o.inputs = {dir / "x/in.jsonl", dir / "y/in.jsonl"};  // both would write out/in.jsonl_text_document
  try {
    run_tokenize_job(o);
    ADD_FAILURE() << "no UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("would both write"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(test::file_exists(dir / "out"));
}

}  // namespace
}  // namespace sp
