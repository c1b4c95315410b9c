// sp_merge: merge Megatron indexed datasets into one, byte-identical to
// Megatron-LM's tools/merge_datasets.py, streaming, parallel and resumable.
#include <tbb/task_arena.h>

#include <cstdio>

#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/merge.h"
#include "sp/progress.h"
#include "sp/threads.h"

namespace {

const sp::cli::Program kProgram{
    "sp_merge", "merge Megatron indexed datasets (.bin/.idx) into one, as Megatron-LM's tools/merge_datasets.py",
    "sp_merge --output-prefix OUT [--input DIR] INPUT... [options]",
    sp::with_output_flags(sp::with_progress_flags({
        {"output-prefix", "OUT", "Write OUT.bin, OUT.idx and OUT.sp-record (its completion record)."},
        {"input", "PATH",
         "An input, as Megatron's --input (a directory); the same as giving PATH after the flags. Inputs are "
         "dataset prefixes, .bin/.idx files, or directories (every pair in them, in byte-wise order of prefix).",
         "", true},
        {"part-size", "SIZE",
         "Copy in parts of SIZE bytes (K/M/G/T = powers of 1024): the unit of parallel copying and of resuming.",
         "256M"},
        {"overwrite", "", "Rebuild OUT even when its completion record says it is complete."},
        {"threads", "N", "Parts copied at once; 0 = this rank's share of the CPUs.", "0"},
    })),
    "The inputs are merged in the order given (a directory's datasets sorted as Megatron sorts them), with\n"
    "the bytes Megatron's IndexedDatasetBuilder.add_index + finalize write: the first input's dtype (every\n"
    "input must have it), sequence lengths concatenated, pointers recomputed across the merged .bin,\n"
    "document indices offset by the sequences before each input. Inputs whose index is not consistent\n"
    "(negative lengths, pointers that are not the running offsets, a .bin of another size, document\n"
    "indices that do not run from 0 to the sequence count) are refused, as are inputs of different token\n"
    "dtypes, and of different tokenizers when their completion records (written by sp_tokenize and\n"
    "sp_merge) say so; inputs without a record are named in a note. OUT must not be an input, nor inside an\n"
    "input directory. Multimodal datasets (Megatron's --multimodal, with sequence modes) are not supported.\n"
    "\n"
    "Memory stays bounded (a few MiB per thread) whatever the size. The merge is built in\n"
    "OUT.bin.sp-merge-part and OUT.idx.sp-merge-part; only when every part is written are OUT.bin and then\n"
    "OUT.idx renamed into place (an existing OUT is untouched until then) and OUT.sp-record written.\n"
    "Resuming: every finished part is listed with its checksum in OUT.sp-merge-journal. A rerun of the same\n"
    "command after a kill, a crash or Ctrl-C (same inputs, unchanged; same --part-size) verifies the listed\n"
    "parts against their checksums and copies only the others; with other inputs or part size it starts\n"
    "afresh. A rerun whose OUT.sp-record matches keeps OUT and writes nothing. Exit status: 0 done,\n"
    "1 bad input or I/O error, 2 usage error.\n"
    "\n"
    "Examples:\n"
    "  sp_merge --output-prefix /data/merged_text_document /data/tokenized/\n"
    "  sp_merge --output-prefix merged a_text_document b_text_document.bin c_text_document.idx\n"};

int body(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv, /*allow_positional=*/true);
  sp::apply_output_flags(args);
  if (!args.has("output-prefix")) throw sp::UsageError("--output-prefix is required");
  std::vector<std::string> inputs = args.all("input");
  inputs.insert(inputs.end(), args.positional.begin(), args.positional.end());
  if (inputs.empty()) throw sp::UsageError("give the datasets to merge (prefixes, .bin/.idx files or directories)");
  sp::MergeOptions options;
  options.part_bytes = args.get_size("part-size", 0);
  if (options.part_bytes < 8) throw sp::UsageError("--part-size must be at least 8 bytes");
  options.overwrite = args.flag("overwrite");
  const int threads = sp::resolve_threads(args.get_int("threads", 0));
  const bool quiet = args.flag("quiet");
  const std::string out = args.get("output-prefix");

  sp::ProgressOptions po;
  po.label = "sp_merge";
  po.item_name = "parts";  // the total is known only once the inputs are read
  sp::apply_progress_flags(args, po);
  sp::Progress progress(po);
  sp::MergeStats stats;
  tbb::task_arena arena(threads);
  const auto stop = sp::run_interruptible(
      [&] { arena.execute([&] { stats = sp::merge_datasets(inputs, out, options, &progress); }); });
  progress.finish();
  if (stop) {
    std::fprintf(stderr, "sp_merge: stopped; the parts finished so far are kept for a rerun of the same command\n");
    throw *stop;
  }
  for (const std::string& note : stats.notes) std::fprintf(stderr, "sp_merge: note: %s\n", note.c_str());
  if (!quiet) {
    const double t = progress.elapsed_seconds();
    if (stats.kept) {
      std::fprintf(stderr, "sp_merge: %s is complete (its record matches the %zu inputs): nothing to do\n", out.c_str(),
                   stats.inputs.size());
    } else {
      std::fprintf(stderr,
                   "sp_merge: %zu inputs -> %s | %s tokens | %llu documents, %llu sequences, %llu tokens | %s + %s | "
                   "%llu parts, %llu resumed (verified), %llu redone | %s | %.1f MB/s\n",
                   stats.inputs.size(), out.c_str(), stats.dtype_description.c_str(),
                   static_cast<unsigned long long>(stats.documents), static_cast<unsigned long long>(stats.sequences),
                   static_cast<unsigned long long>(stats.tokens), sp::cli::format_size(stats.bin_bytes).c_str(),
                   sp::cli::format_size(stats.idx_bytes).c_str(), static_cast<unsigned long long>(stats.parts),
                   static_cast<unsigned long long>(stats.parts_resumed),
                   static_cast<unsigned long long>(stats.parts_redone), sp::cli::format_duration(t).c_str(),
                   sp::mb_per_s(stats.bin_bytes + stats.idx_bytes, t));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_merge", body, argc, argv); }
