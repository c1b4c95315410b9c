// The whole tokenization job behind sp_tokenize, once its flags are read:
// list the inputs (or plan the fused path's chunks), share them between the
// ranks, keep the outputs whose completion records match, tokenize the rest,
// and end with one summary and one statistics file for the job.
//
// Guarantees: the outputs are those of tokenize_file (one input, or batch
// mode: one per input) or tokenize_chunk (the fused path: one per chunk of
// the pinned plan, sp/concat.h), byte for byte, whatever the rank count,
// thread count or number of inputs run at once. Under MPI every rank calls
// run_tokenize_job with the same options; the ranks draw inputs largest first
// (sp/job.h) and rank 0 prints the summary and writes stats_json for the whole
// job; with only RANK/WORLD_SIZE each rank reports its own (stats_json gets
// ".rank<R>"). Messages go to standard error prefixed with the label (and the
// rank, sp/rank.h rank_prefix); the dry run's plan goes to standard output.
// Inputs that are missing or name no files are an Error; two inputs that
// would write the same outputs, or options that contradict each other, a
// UsageError; a bad line with OnError::kStop an InputError (file:line:
// reason) that ends the job; a signal ends it with Interrupted once the
// summary of what finished is printed, with no statistics file.
#pragma once

#include <string>
#include <vector>

#include "sp/concat.h"
#include "sp/progress.h"
#include "sp/tokenize.h"
#include "sp/tokenizer.h"

namespace sp {

struct TokenizeJobOptions {
  TokenizerOptions tokenizer;
  TokenizeOptions tokenize;  // tokenize.overwrite also rebuilds outputs whose records match
  // The inputs: files (one, possibly "-", with output_prefix; any number with
  // output_dir), or input_dir: its *.jsonl, *.json (and .zst) files in batch
  // mode, its shards (*.jsonl.zst, *.jsonl) on the fused path.
  std::vector<std::string> inputs;
  std::string input_dir;
  // One input: <output_prefix>_<key>_document.bin/.idx. Batch mode:
  // <output_dir>/<input path relative to input_dir, or its name, without .zst>_<key>_document.*.
  // Fused path: <output_dir>/<plan.prefix><i>.jsonl_<key>_document.* and the plan file.
  std::string output_prefix, output_dir;
  // The fused path when plan.target_size or plan.files_per_chunk is set (with
  // input_dir and output_dir, which fill plan.input_dir and plan.output_dir).
  ConcatPlanOptions plan;
  bool dry_run = false;  // fused path: print the plan, write nothing
  bool quiet = false;    // no notes and no summary (progress is progress.mode's)
  int threads = 0;       // worker threads; 0: default_threads()
  int files_at_once = 0; // inputs run at once in this process; 0: one per 4 workers
  std::string stats_json;  // "": none
  // The progress line's mode and interval (label and item name are set here).
  ProgressOptions progress;
  bool per_rank_progress = false;
  std::string label = "sp_tokenize";  // the name messages start with
};

// Runs the job; returns the exit status (0) or throws as above.
int run_tokenize_job(const TokenizeJobOptions& options);

}  // namespace sp
