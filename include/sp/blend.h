// sp_blend's core: the dataset blend a Megatron-LM or NeMo training job reads,
// made from each dataset's .idx header and .bin size alone (O(1) per dataset:
// no token is read, so a blend of 74 chunks of 600 B tokens takes a moment).
//
// Guarantees:
// - Weights: proportional to tokens (.bin bytes / dtype size, the count
//   Megatron's own blend uses) or uniform, optionally shared out by group
//   (--weight PATTERN=W: a group gets W / sum of all W, shared among its
//   datasets by the base weighting) or multiplied per group (--epochs
//   PATTERN=N); normalised to sum 1 within each split, and printed so that
//   Python's float() reads back the very double computed (shortest round trip).
// - Every blend it writes parses under the trainer's rules to exactly the
//   datasets and weights planned; a path a format cannot carry (whitespace in
//   the whitespace-split --data-args-path file, leading or trailing
//   whitespace that Megatron strips, invalid UTF-8, characters NeMo's
//   OmegaConf would interpret) is refused with an Error naming it, never
//   written altered.
// - The output file is written atomically (sp/fs.h AtomicFile): a failed run
//   leaves no file at that path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sp/indexed_dataset.h"

namespace sp {

// What the trainer reads, one format per --format name:
//   megatron-args            Megatron's --data-args-path file: "w1 p1 w2 p2 ..." (split on whitespace)
//   megatron-split-json      --per-split-data-args-path: {"train": [w, p, ...], "valid": ..., "test": ...}
//   megatron-sequences-json  --per-dataset-sequences-path: {prefix: [sequence count, document-index count]}
//   nemo-yaml                NeMo's model.data.data_prefix, as YAML and as a command-line override
enum class BlendFormat { kMegatronArgs, kMegatronSplitJson, kMegatronSequencesJson, kNemoYaml };
// The --format name; throws UsageError listing the names on anything else.
BlendFormat parse_blend_format(std::string_view name);

enum class BlendWeighting { kTokens, kUniform };
// "tokens" or "uniform"; throws UsageError otherwise.
BlendWeighting parse_blend_weighting(std::string_view name);

// "PATTERN=VALUE" as --weight and --epochs take it; VALUE must be a finite
// number above 0. Throws UsageError naming `flag` otherwise.
struct GroupRule {
  std::string pattern;  // fnmatch(3) pattern, flags 0: '*' also matches '/'
  double value = 1;
};
GroupRule parse_group_rule(std::string_view text, std::string_view flag);

enum class BlendSplit { kTrain, kValid, kTest };

struct BlendOptions {
  std::vector<std::string> inputs;  // directories, prefixes, .bin/.idx files (expand_dataset_paths)
  bool recursive = false;           // directories: also their subdirectories
  BlendWeighting weighting = BlendWeighting::kTokens;
  std::vector<GroupRule> group_weights;  // --weight: groups' shares of the train split
  std::vector<GroupRule> epochs;         // --epochs: multipliers of train datasets' weights
  std::vector<std::string> valid, test;  // patterns of the datasets that form those splits
  std::string path_prefix;  // when set, paths written are path_prefix + "/" + name
  BlendFormat format = BlendFormat::kMegatronArgs;
  std::string output;  // file to write (atomically); empty: stdout
};

struct BlendDataset {
  std::string prefix;  // on this machine
  // What patterns match: the prefix relative to the directory given (with
  // '/' below it), or the base name of a prefix given directly.
  std::string name;
  std::string path;  // as written in the blend: absolute, or path_prefix + "/" + name
  IndexHeader header;
  uint64_t tokens = 0;
  BlendSplit split = BlendSplit::kTrain;
  double weight = 0;  // normalised within its split
};

// The blend `options` describe (format and output are not used), datasets
// in input order (a directory's in expand_dataset_paths' order). A rule's
// pattern is matched against each dataset's name; the first --weight or
// --epochs rule that matches applies. Throws UsageError on contradicting
// options (--weight with --epochs, a name in both --valid and --test, a
// pattern that matches nothing, a train dataset that no --weight matches,
// an empty train split), Error on unreadable or inconsistent datasets (a .bin
// size not a multiple of the dtype size, no tokens where weights are by
// tokens, two datasets written as one path).
std::vector<BlendDataset> plan_blend(const BlendOptions& options);

// The text of `format` for a planned blend. Throws UsageError when the format
// cannot hold the blend's splits (megatron-args has a single blend), Error on
// a path the format cannot carry and, for megatron-sequences-json, on dtypes
// Megatron would misread: it then reads every dataset with the one dtype
// the tokenizer implies (uint16 or int32), so they must all share it.
std::string format_blend(const std::vector<BlendDataset>& blend, BlendFormat format);

// plan_blend, format_blend, then the text to options.output (atomically) or
// stdout. Returns the plan, for a summary.
std::vector<BlendDataset> write_blend(const BlendOptions& options);

}  // namespace sp
