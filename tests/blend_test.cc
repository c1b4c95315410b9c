// sp/blend.h: plans (weights by tokens, uniform, by group, by epochs; splits;
// path rewriting) and every format read back by the trainers' own parsing
// rules (tests/blend_reference.h).
#include "sp/blend.h"

#include <gtest/gtest.h>

#include <numeric>

#include "blend_reference.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "test_support.h"

namespace sp {
namespace {

using test::parse_data_args;
using test::parse_per_split;
using test::parse_sequences;
using test::TempDir;

// A dataset of `tokens` tokens in `documents` documents (one sequence each,
// the last document taking the remainder).
void make_dataset(const std::string& prefix, uint32_t tokens, size_t documents = 1,
                  TokenDtype dtype = TokenDtype::kUint16) {
  make_dirs(parent_dir(prefix));
  IndexedDatasetWriter w(prefix, dtype);
  uint32_t left = tokens;
  for (size_t d = 0; d < documents; ++d) {
    const uint32_t n = d + 1 == documents ? left : std::min(left, tokens / static_cast<uint32_t>(documents));
    left -= n;
    std::vector<uint32_t> ids(n, 7);
    const int32_t len[] = {static_cast<int32_t>(n)};
    w.add_document(ids, len);
  }
  w.finish();
}

BlendOptions options_for(const std::vector<std::string>& inputs) {
  BlendOptions o;
  o.inputs = inputs;
  return o;
}

std::vector<double> weights_of(const std::vector<BlendDataset>& blend) {
  std::vector<double> w;
  for (const auto& d : blend) w.push_back(d.weight);
  return w;
}

class Blend : public ::testing::Test {
 protected:
  TempDir dir;
};

TEST_F(Blend, WeightsByTokensReadBackExactlyUnderMegatronDataArgsRules) {
  make_dataset(dir / "tok/train_chunk_0", 3, 2);
  make_dataset(dir / "tok/train_chunk_1", 5, 1, TokenDtype::kInt32);
  make_dataset(dir / "tok/train_chunk_2", 13, 4);
  const auto blend = plan_blend(options_for({dir / "tok"}));
  ASSERT_EQ(blend.size(), 3u);
  EXPECT_EQ(blend[1].tokens, 5u) << ".bin bytes / 4 for int32";
  const auto parsed = parse_data_args(format_blend(blend, BlendFormat::kMegatronArgs));
  ASSERT_TRUE(parsed.weights) << "Megatron must read weight/prefix pairs";
  EXPECT_EQ(parsed.prefixes, (std::vector<std::string>{dir / "tok/train_chunk_0", dir / "tok/train_chunk_1",
                                                       dir / "tok/train_chunk_2"}));
  // float() gets the very doubles computed, digits that do not terminate included.
  EXPECT_EQ(*parsed.weights, (std::vector<double>{3.0 / 21, 5.0 / 21, 13.0 / 21}));
}

TEST_F(Blend, UniformWeighting) {
  make_dataset(dir / "a", 3);
  make_dataset(dir / "b", 300);
  make_dataset(dir / "c", 1);
  auto o = options_for({dir / "a", dir / "b.bin", dir / "c.idx"});
  o.weighting = BlendWeighting::kUniform;
  const auto parsed = parse_data_args(format_blend(plan_blend(o), BlendFormat::kMegatronArgs));
  ASSERT_TRUE(parsed.weights);
  EXPECT_EQ(*parsed.weights, (std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3}));
  EXPECT_EQ(parsed.prefixes[1], dir / "b");
}

TEST_F(Blend, GroupWeightsByGlobAreNormalisedAndSharedByTokens) {
  make_dataset(dir / "tok/train_chunk_0", 10);
  make_dataset(dir / "tok/train_chunk_1", 30);
  make_dataset(dir / "tok/arxiv/a", 5);
  make_dataset(dir / "tok/arxiv/b", 15);
  auto o = options_for({dir / "tok"});
  o.recursive = true;
  o.group_weights = {parse_group_rule("train_chunk_*=4", "weight"), parse_group_rule("arxiv/*=1", "weight")};
  const auto blend = plan_blend(o);
  ASSERT_EQ(blend.size(), 4u);
  EXPECT_EQ(blend[0].name, "arxiv/a");  // byte order of the prefixes
  const auto parsed = parse_data_args(format_blend(blend, BlendFormat::kMegatronArgs));
  ASSERT_TRUE(parsed.weights);
  const auto& w = *parsed.weights;
  EXPECT_DOUBLE_EQ(w[0], 0.2 * 5 / 20);
  EXPECT_DOUBLE_EQ(w[1], 0.2 * 15 / 20);
  EXPECT_DOUBLE_EQ(w[2], 0.8 * 10 / 40);
  EXPECT_DOUBLE_EQ(w[3], 0.8 * 30 / 40);
  EXPECT_NEAR(std::accumulate(w.begin(), w.end(), 0.0), 1.0, 1e-15);
}

TEST_F(Blend, FirstMatchingWeightRuleAppliesAndEveryTrainDatasetNeedsOne) {
  make_dataset(dir / "t/x_0", 10);
  make_dataset(dir / "t/y_0", 10);
  auto o = options_for({dir / "t"});
  o.group_weights = {parse_group_rule("x_*=3", "weight"), parse_group_rule("*=1", "weight")};
  EXPECT_EQ(weights_of(plan_blend(o)), (std::vector<double>{0.75, 0.25}));
  o.group_weights = {parse_group_rule("x_*=3", "weight")};
  EXPECT_THROW(plan_blend(o), UsageError) << "y_0 matches no --weight";
  o.group_weights = {parse_group_rule("*=1", "weight"), parse_group_rule("z_*=1", "weight")};
  EXPECT_THROW(plan_blend(o), UsageError) << "z_* matches nothing";
}

TEST_F(Blend, EpochsUpsampleAGroup) {
  make_dataset(dir / "t/web_0", 30);
  make_dataset(dir / "t/web_1", 50);
  make_dataset(dir / "t/books", 20);
  auto o = options_for({dir / "t"});
  o.epochs = {parse_group_rule("books=3", "epochs")};
  const auto blend = plan_blend(o);
  ASSERT_EQ(blend[0].name, "books");
  EXPECT_EQ(weights_of(blend), (std::vector<double>{60.0 / 140, 30.0 / 140, 50.0 / 140}));
  o.group_weights = {parse_group_rule("*=1", "weight")};
  EXPECT_THROW(plan_blend(o), UsageError) << "--weight with --epochs";
}

TEST_F(Blend, GroupRuleSyntax) {
  const auto r = parse_group_rule("a=b/*=0.25", "weight");
  EXPECT_EQ(r.pattern, "a=b/*");
  EXPECT_EQ(r.value, 0.25);
  for (const char* bad : {"x", "=1", "x=", "x=0", "x=-1", "x=abc", "x=1e999", "x=nan", "x=1 "})
    EXPECT_THROW(parse_group_rule(bad, "weight"), UsageError) << bad;
}

TEST_F(Blend, ValidAndTestSplitsUnderMegatronPerSplitRules) {
  make_dataset(dir / "t/train_0", 10);
  make_dataset(dir / "t/train_1", 30);
  make_dataset(dir / "t/val_0", 1);
  make_dataset(dir / "t/val_1", 3);
  auto o = options_for({dir / "t"});
  o.valid = {"val_*"};
  o.path_prefix = "/workspace/data/";
  auto parsed = parse_per_split(format_blend(plan_blend(o), BlendFormat::kMegatronSplitJson));
  ASSERT_TRUE(parsed["train"] && parsed["valid"]);
  EXPECT_FALSE(parsed["test"]) << "null: Megatron builds no test blend";
  EXPECT_EQ(parsed["train"]->prefixes,
            (std::vector<std::string>{"/workspace/data/train_0", "/workspace/data/train_1"}));
  EXPECT_EQ(*parsed["train"]->weights, (std::vector<double>{0.25, 0.75}));
  EXPECT_EQ(parsed["valid"]->prefixes, (std::vector<std::string>{"/workspace/data/val_0", "/workspace/data/val_1"}));
  EXPECT_EQ(*parsed["valid"]->weights, (std::vector<double>{0.25, 0.75}));
  // megatron-args has one blend only.
  EXPECT_THROW(format_blend(plan_blend(o), BlendFormat::kMegatronArgs), UsageError);
  o.test = {"val_1"};
  EXPECT_THROW(plan_blend(o), UsageError) << "val_1 in both --valid and --test";
  o.valid = {"val_0"};
  parsed = parse_per_split(format_blend(plan_blend(o), BlendFormat::kMegatronSplitJson));
  ASSERT_TRUE(parsed["test"]);
  EXPECT_EQ(parsed["test"]->prefixes, (std::vector<std::string>{"/workspace/data/val_1"}));
  EXPECT_EQ(*parsed["test"]->weights, (std::vector<double>{1.0}));
  o.test = {"nothing_*"};
  EXPECT_THROW(plan_blend(o), UsageError);
  o.test = {};
  o.valid = {"*"};
  EXPECT_THROW(plan_blend(o), UsageError) << "empty train split";
}

TEST_F(Blend, SequencesFileHasEveryPrefixOfTheBlendWithTheIndexCounts) {
  make_dataset(dir / "t/a", 10, 3);
  make_dataset(dir / "t/b", 40, 7);
  make_dataset(dir / "t/v", 4, 2);
  auto o = options_for({dir / "t"});
  o.valid = {"v"};
  o.path_prefix = "/mnt";
  const auto blend = plan_blend(o);
  const auto split = parse_per_split(format_blend(blend, BlendFormat::kMegatronSplitJson));
  const auto seqs = parse_sequences(format_blend(blend, BlendFormat::kMegatronSequencesJson));
  EXPECT_EQ(seqs.size(), 3u);
  // pretrain_gpt.py looks every blend prefix up; _IndexReader then uses the
  // counts in place of the header's, so they must be the header's.
  for (const char* s : {"train", "valid"}) {
    for (const std::string& prefix : split.at(s)->prefixes) {
      ASSERT_TRUE(seqs.count(prefix)) << "KeyError: " << prefix;
      const IndexedDataset ds = read_indexed_dataset(dir / ("t/" + base_name(prefix)));
      EXPECT_EQ(seqs.at(prefix).first, ds.sequence_count());
      EXPECT_EQ(seqs.at(prefix).second, ds.document_indices.size()) << "document_count is the array's length";
    }
  }
  EXPECT_EQ(seqs.at("/mnt/b"), (std::pair<uint64_t, uint64_t>{7, 8}));
}

TEST_F(Blend, SequencesFileRefusesMixedDtypes) {
  make_dataset(dir / "t/a", 10);
  make_dataset(dir / "t/b", 10, 1, TokenDtype::kInt32);
  const auto blend = plan_blend(options_for({dir / "t"}));
  EXPECT_THROW(format_blend(blend, BlendFormat::kMegatronSequencesJson), Error);
  EXPECT_NO_THROW(format_blend(blend, BlendFormat::kMegatronArgs));
}

TEST_F(Blend, PathWithSpacesIsRefusedForDataArgsButKeptWholeInTheJsonLists) {
  make_dataset(dir / "my data/part 1", 10);
  make_dataset(dir / "my data/part2", 10);
  const auto blend = plan_blend(options_for({dir / "my data"}));
  try {
    format_blend(blend, BlendFormat::kMegatronArgs);
    ADD_FAILURE() << "a path with a space was written to the whitespace-split format";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("whitespace"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("part 1"), std::string::npos) << e.what();
  }
  const auto parsed = parse_per_split(format_blend(blend, BlendFormat::kMegatronSplitJson));
  EXPECT_EQ(parsed.at("train")->prefixes, (std::vector<std::string>{dir / "my data/part 1", dir / "my data/part2"}));
  const auto seqs = parse_sequences(format_blend(blend, BlendFormat::kMegatronSequencesJson));
  EXPECT_TRUE(seqs.count(dir / "my data/part 1"));
  // Whitespace at an end would be stripped by Megatron: refused everywhere.
  auto o = options_for({dir / "my data"});
  o.path_prefix = " /mnt";
  const auto stripped = plan_blend(o);
  EXPECT_THROW(format_blend(stripped, BlendFormat::kMegatronSplitJson), Error);
  EXPECT_THROW(format_blend(stripped, BlendFormat::kNemoYaml), Error);
}

TEST_F(Blend, NemoFlatListAndOverrideReadBack) {
  make_dataset(dir / "t/a", 1);
  make_dataset(dir / "t/b", 99999);
  auto o = options_for({dir / "t"});
  o.path_prefix = "/workspace/t";
  const std::string yaml = format_blend(plan_blend(o), BlendFormat::kNemoYaml);
  // 1 / 100000 prints as 1e-05, which PyYAML would keep as a string.
  EXPECT_NE(yaml.find("- 1.0e-05\n"), std::string::npos) << yaml;
  for (const auto& lists : {test::parse_nemo_yaml(yaml), test::parse_nemo_override(yaml)}) {
    ASSERT_EQ(lists.size(), 1u) << yaml;
    const auto parsed = test::get_blend_from_list(lists.at(""));
    ASSERT_TRUE(parsed.weights);
    EXPECT_EQ(parsed.prefixes, (std::vector<std::string>{"/workspace/t/a", "/workspace/t/b"}));
    EXPECT_EQ(*parsed.weights, (std::vector<double>{1.0 / 100000, 99999.0 / 100000}));
  }
}

TEST_F(Blend, NemoDictOfSplits) {
  make_dataset(dir / "t/tr", 6);
  make_dataset(dir / "t/va", 2);
  make_dataset(dir / "t/te", 2);
  auto o = options_for({dir / "t"});
  o.valid = {"va"};
  o.test = {"te"};
  o.path_prefix = "/w";
  const std::string yaml = format_blend(plan_blend(o), BlendFormat::kNemoYaml);
  for (const auto& lists : {test::parse_nemo_yaml(yaml), test::parse_nemo_override(yaml)}) {
    ASSERT_EQ(lists.size(), 3u) << yaml;
    for (const auto& [key, path] : {std::pair<std::string, std::string>{"train", "/w/tr"},
                                    {"validation", "/w/va"}, {"test", "/w/te"}}) {
      const auto parsed = test::get_blend_from_list(lists.at(key));
      EXPECT_EQ(parsed.prefixes, std::vector<std::string>{path}) << key;
      EXPECT_EQ(*parsed.weights, std::vector<double>{1.0}) << key;
    }
  }
  o.test = {};
  EXPECT_THROW(format_blend(plan_blend(o), BlendFormat::kNemoYaml), UsageError) << "no test split for NeMo's dict";
}

TEST_F(Blend, NemoRefusesPathsOmegaConfWouldInterpret) {
  make_dataset(dir / "t/a", 1);
  auto o = options_for({dir / "t"});
  for (const char* bad : {"/mnt/${x}", "/mnt/it's", "/mnt/q\"", "/mnt/b\\s"}) {
    o.path_prefix = bad;
    EXPECT_THROW(format_blend(plan_blend(o), BlendFormat::kNemoYaml), Error) << bad;
  }
}

TEST_F(Blend, InconsistentDatasetsAreErrors) {
  make_dataset(dir / "odd/a", 10);
  test::write_file(dir / "odd/a.bin", test::read_file(dir / "odd/a.bin") + "x");
  EXPECT_THROW(plan_blend(options_for({dir / "odd"})), Error) << ".bin not a whole number of tokens";
  make_dataset(dir / "empty/a", 0);
  EXPECT_THROW(plan_blend(options_for({dir / "empty"})), Error) << "weight 0 by tokens";
  auto uniform = options_for({dir / "empty"});
  uniform.weighting = BlendWeighting::kUniform;
  EXPECT_EQ(plan_blend(uniform).size(), 1u);
  // Two directories whose datasets share names collide under --path-prefix.
  make_dataset(dir / "x/c", 1);
  make_dataset(dir / "y/c", 1);
  auto o = options_for({dir / "x", dir / "y"});
  EXPECT_EQ(plan_blend(o).size(), 2u);
  o.path_prefix = "/w";
  EXPECT_THROW(plan_blend(o), Error);
  EXPECT_THROW(plan_blend(options_for({dir / "nothing"})), Error);
  EXPECT_THROW(plan_blend(options_for({})), UsageError);
}

TEST_F(Blend, FormatAndWeightingNames) {
  EXPECT_EQ(parse_blend_format("megatron-args"), BlendFormat::kMegatronArgs);
  EXPECT_EQ(parse_blend_format("megatron-split-json"), BlendFormat::kMegatronSplitJson);
  EXPECT_EQ(parse_blend_format("megatron-sequences-json"), BlendFormat::kMegatronSequencesJson);
  EXPECT_EQ(parse_blend_format("nemo-yaml"), BlendFormat::kNemoYaml);
  EXPECT_THROW(parse_blend_format("yaml"), UsageError);
  EXPECT_EQ(parse_blend_weighting("uniform"), BlendWeighting::kUniform);
  EXPECT_THROW(parse_blend_weighting("docs"), UsageError);
}

}  // namespace
}  // namespace sp
