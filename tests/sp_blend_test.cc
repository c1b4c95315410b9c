// sp_blend end to end: the built tool over datasets written by
// IndexedDatasetWriter, its outputs read back by the trainers' parsing rules
// (tests/blend_reference.h), exit statuses, and atomic --output.
#include <gtest/gtest.h>

#include "blend_reference.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "test_support.h"

namespace sp {
namespace {

using test::CommandResult;
using test::read_file;
using test::run_command;
using test::shell_quote;
using test::TempDir;

void make_dataset(const std::string& prefix, uint32_t tokens, size_t documents = 1) {
  make_dirs(parent_dir(prefix));
  IndexedDatasetWriter w(prefix, TokenDtype::kUint16);
  for (size_t d = 0; d < documents; ++d) {
    const uint32_t n = d + 1 == documents ? tokens - (tokens / documents) * (documents - 1) : tokens / documents;
    std::vector<uint32_t> ids(n, 3);
    const int32_t len[] = {static_cast<int32_t>(n)};
    w.add_document(ids, len);
  }
  w.finish();
}

class SpBlend : public ::testing::Test {
 protected:
  void SetUp() override {
    make_dataset(dir / "tok/train_chunk_0", 100, 4);
    make_dataset(dir / "tok/train_chunk_1", 300, 2);
    make_dataset(dir / "tok/arxiv/a", 50, 5);
    make_dataset(dir / "tok/arxiv/b", 150, 3);
    make_dataset(dir / "tok/val_0", 40, 2);
  }
  CommandResult blend(const std::string& args) {
    return run_command(shell_quote(test::tool_path("sp_blend")) + " " + args);
  }
  std::string tok() const { return shell_quote(dir / "tok"); }
  TempDir dir;
};

TEST_F(SpBlend, DataArgsFileOnStdoutAndInOutputFile) {
  auto r = blend(tok());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("3 datasets"), std::string::npos) << r.err;
  const auto parsed = test::parse_data_args(r.out);
  ASSERT_TRUE(parsed.weights) << r.out;
  EXPECT_EQ(parsed.prefixes, (std::vector<std::string>{dir / "tok/train_chunk_0", dir / "tok/train_chunk_1",
                                                       dir / "tok/val_0"}));
  EXPECT_EQ(*parsed.weights, (std::vector<double>{100.0 / 440, 300.0 / 440, 40.0 / 440}));
  r = blend(tok() + " --quiet --output " + shell_quote(dir / "out/blend.txt"));
  EXPECT_EQ(r.exit_code, 2) << "the output's directory must exist";
  make_dirs(dir / "out");
  r = blend(tok() + " --quiet --output " + shell_quote(dir / "out/blend.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(read_file(dir / "out/blend.txt"), blend(tok()).out);
}

TEST_F(SpBlend, GroupWeightsValidSplitAndSequencesForTheMountPoint) {
  const std::string common = tok() + " --recursive --path-prefix /workspace/tok --weight 'train_chunk_*=0.8' "
                             "--weight 'arxiv/*=0.2' --valid 'val_*'";
  auto r = blend(common + " --format megatron-split-json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto split = test::parse_per_split(r.out);
  ASSERT_TRUE(split["train"] && split["valid"]) << r.out;
  EXPECT_FALSE(split["test"]);
  EXPECT_EQ(split["train"]->prefixes, (std::vector<std::string>{"/workspace/tok/arxiv/a", "/workspace/tok/arxiv/b",
                                                                "/workspace/tok/train_chunk_0",
                                                                "/workspace/tok/train_chunk_1"}));
  const auto& w = *split["train"]->weights;
  EXPECT_DOUBLE_EQ(w[0], 0.05);
  EXPECT_DOUBLE_EQ(w[1], 0.15);
  EXPECT_DOUBLE_EQ(w[2], 0.2);
  EXPECT_DOUBLE_EQ(w[3], 0.6);
  EXPECT_EQ(split["valid"]->prefixes, std::vector<std::string>{"/workspace/tok/val_0"});

  r = blend(common + " --format megatron-sequences-json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto seqs = test::parse_sequences(r.out);
  EXPECT_EQ(seqs.size(), 5u);
  for (const char* s : {"train", "valid"})
    for (const auto& prefix : split[s]->prefixes) {
      ASSERT_TRUE(seqs.count(prefix)) << "KeyError: " << prefix;
      const std::string name = prefix.substr(std::string("/workspace/tok/").size());
      const IndexedDataset ds = read_indexed_dataset(dir / ("tok/" + name));
      EXPECT_EQ(seqs.at(prefix), (std::pair<uint64_t, uint64_t>{ds.sequence_count(), ds.document_indices.size()}));
    }
}

TEST_F(SpBlend, NemoYamlWithEpochs) {
  auto r = blend(tok() + " --format nemo-yaml --epochs 'train_chunk_1=2' --path-prefix /w");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& lists : {test::parse_nemo_yaml(r.out), test::parse_nemo_override(r.out)}) {
    ASSERT_EQ(lists.count(""), 1u) << r.out;
    const auto parsed = test::get_blend_from_list(lists.at(""));
    EXPECT_EQ(parsed.prefixes, (std::vector<std::string>{"/w/train_chunk_0", "/w/train_chunk_1", "/w/val_0"}));
    EXPECT_EQ(*parsed.weights, (std::vector<double>{100.0 / 740, 600.0 / 740, 40.0 / 740}));
  }
}

TEST_F(SpBlend, PathWithSpaceIsRefusedForDataArgsAndNothingIsWritten) {
  make_dataset(dir / "sp ace/x", 10);
  make_dirs(dir / "out");
  const auto r = blend(shell_quote(dir / "sp ace") + " --output " + shell_quote(dir / "out/b.txt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("whitespace"), std::string::npos) << r.err;
  EXPECT_EQ(test::list_dir(dir / "out"), std::vector<std::string>{}) << "no output and no temporary";
  const auto ok = blend(shell_quote(dir / "sp ace") + " --format megatron-split-json");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(test::parse_per_split(ok.out)["train"]->prefixes, std::vector<std::string>{dir / "sp ace/x"});
}

TEST_F(SpBlend, UsageErrorsExitTwo) {
  for (const std::string& args : {std::string(""), tok() + " --format yaml", tok() + " --weight 0.5",
                                 tok() + " --weight 'x=0'", tok() + " --weighting docs",
                                 tok() + " --valid 'val_*'",  // megatron-args holds one blend
                                 tok() + " --test 'nope*' --format megatron-split-json",
                                 tok() + " --weight 'train_*=1'",  // val_0 matches no --weight
                                 tok() + " --weight '*=1' --epochs '*=2'"}) {
    const auto r = blend(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << args;
  }
  EXPECT_EQ(blend(shell_quote(dir / "missing")).exit_code, 1);
}

TEST_F(SpBlend, HelpSaysHowPatternsMatch) {
  const auto r = blend("--help");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* s :
       {"fnmatch", "relative to the directory", "--path-prefix", "megatron-sequences-json", "nemo-yaml"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

}  // namespace
}  // namespace sp
