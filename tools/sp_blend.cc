// sp_blend: the dataset blend a Megatron-LM or NeMo training job reads
// (--data-args-path, --per-split-data-args-path, --per-dataset-sequences-path,
// model.data.data_prefix), from the datasets' .idx headers and .bin sizes.
#include <cstdio>

#include "sp/blend.h"
#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"

namespace {

const sp::cli::Program kProgram{
    "sp_blend",
    "write a Megatron-LM or NeMo dataset blend from .bin/.idx datasets (headers only, no token scan)",
    "sp_blend DIR-or-PREFIX... [--format megatron-args] [--weight PATTERN=W]... [--valid PATTERN]... "
    "[--path-prefix /workspace/data] [--output FILE]",
    sp::with_output_flags({
        {"format", "NAME",
         "megatron-args (a --data-args-path file: 'w1 p1 w2 p2 ...'), megatron-split-json "
         "(--per-split-data-args-path: train/valid/test), megatron-sequences-json (--per-dataset-sequences-path: "
         "{prefix: [sequences, document indices]}) or nemo-yaml (model.data.data_prefix, YAML and an override).",
         "megatron-args"},
        {"output", "FILE", "Write the blend to FILE (atomically) instead of stdout."},
        {"weighting", "HOW", "Base weight of a dataset: tokens (.bin bytes / dtype size) or uniform.", "tokens"},
        {"weight", "PATTERN=W",
         "Give the train datasets whose name matches PATTERN a share W of the blend, divided among them by the base "
         "weighting; shares are normalised to sum 1. The first matching --weight applies; every train dataset must "
         "match one.",
         "", true},
        {"epochs", "PATTERN=N",
         "Multiply the weight of the train datasets matching PATTERN by N (upsampling: 2 = seen twice as often per "
         "token; 0.5 = half). The first matching --epochs applies. Not with --weight.",
         "", true},
        {"valid", "PATTERN", "Datasets whose name matches PATTERN form the valid split instead of train.", "", true},
        {"test", "PATTERN", "Datasets whose name matches PATTERN form the test split instead of train.", "", true},
        {"path-prefix", "DIR",
         "Write each dataset as DIR/<name> (the training job's mount point) instead of its absolute path here."},
        {"recursive", "", "Also take datasets in subdirectories of the directories given."},
        {"quiet", "", "No summary on stderr."},
    }),
    "Each argument is a directory (its <prefix>.bin/.idx pairs, in byte order of their names), a dataset\n"
    "prefix, or a .bin/.idx file. A dataset's NAME is its prefix relative to the directory given\n"
    "(\"arxiv/chunk_0\" with --recursive), or the base name of a prefix given directly. --weight, --epochs,\n"
    "--valid and --test patterns are fnmatch(3) globs matched against the whole NAME, with '*' also\n"
    "matching '/' (Python's fnmatch rules): 'train_chunk_*' and 'arxiv/*'. Weights are normalised to sum\n"
    "1 within each split and printed exactly (shortest round-trip digits). Valid and test datasets are\n"
    "weighted by the base weighting only. A path a format cannot carry (whitespace in megatron-args, which\n"
    "Megatron splits on whitespace) is an error, never written altered.\n"
    "\n"
    "Examples:\n"
    "  sp_blend /data/tokens --path-prefix /workspace/tokens --output blend.txt        # --data-args-path\n"
    "  sp_blend /data/tokens --format megatron-sequences-json --path-prefix /workspace/tokens\n"
    "  sp_blend /data/tokens --recursive --weight 'train_chunk_*=0.8' --weight 'arxiv/*=0.2'\n"
    "  sp_blend /data/tokens --format megatron-split-json --valid 'val_*' --test 'test_*'\n"
    "  sp_blend /data/tokens --format nemo-yaml --epochs 'arxiv/*=2'\n"};

int body(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv, /*allow_positional=*/true);
  sp::apply_output_flags(args);
  sp::BlendOptions options;
  options.inputs = args.positional;
  if (options.inputs.empty()) throw sp::UsageError("name at least one dataset directory or prefix");
  options.recursive = args.flag("recursive");
  options.format = sp::parse_blend_format(args.get("format"));
  options.weighting = sp::parse_blend_weighting(args.get("weighting"));
  for (const auto& w : args.all("weight")) options.group_weights.push_back(sp::parse_group_rule(w, "weight"));
  for (const auto& e : args.all("epochs")) options.epochs.push_back(sp::parse_group_rule(e, "epochs"));
  options.valid = args.all("valid");
  options.test = args.all("test");
  options.path_prefix = args.get("path-prefix");
  options.output = args.get("output");
  if (!options.output.empty()) sp::check_output_file_path(options.output, "--output");

  const auto blend = sp::write_blend(options);
  if (!args.flag("quiet")) {
    uint64_t tokens = 0;
    size_t split[3] = {};
    for (const auto& d : blend) tokens += d.tokens, ++split[static_cast<int>(d.split)];
    std::fprintf(stderr, "sp_blend: %zu datasets (train %zu, valid %zu, test %zu), %llu tokens -> %s\n", blend.size(),
                 split[0], split[1], split[2], static_cast<unsigned long long>(tokens),
                 options.output.empty() ? "stdout" : options.output.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_blend", body, argc, argv); }
