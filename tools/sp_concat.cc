// sp_concat: group JSONL files into large chunks (e.g. SlimPajama's 59,166
// shards into ~34 GB training chunks) by a deterministic plan, newline-safe,
// in parallel across ranks and threads, resumable.
#include "sp/cli.h"
#include "sp/concat_job.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/job.h"
#include "sp/progress.h"
#include "sp/threads.h"

namespace {

const sp::cli::Program kProgram{
    "sp_concat",
    "concatenate *.jsonl files into large chunks by a deterministic plan",
    "sp_concat --input-dir DIR --output-dir OUT [--target-size 34G | --files-per-chunk N] [--prefix train_chunk_] "
    "[--remove-source] [--dry-run]",
    sp::with_output_flags(sp::with_job_flags(sp::with_progress_flags({
        {"input-dir", "DIR", "Directory searched recursively for *.jsonl files."},
        {"output-dir", "OUT", "Where the chunks <prefix><i>.jsonl and the plan file sp_concat_plan.tsv go."},
        {"target-size", "SIZE",
         "Fill each chunk until the next file would take it past SIZE (bytes; K/M/G/T = powers of 1024). "
         "A larger file gets a chunk of its own.",
         "34G"},
        {"files-per-chunk", "N", "Instead of --target-size: exactly N files per chunk (the last may have fewer)."},
        {"prefix", "PREFIX", "Chunk file name prefix.", "train_chunk_"},
        {"remove-source", "",
         "Delete each input once the chunk holding it is complete, verified (checksum read back, every input "
         "compared with its bytes in the chunk) and synced to disk."},
        {"overwrite", "",
         "Rebuild chunks even when their completion record says they are complete (and ignore checkpoints)."},
        {"checkpoint-every", "SIZE",
         "Build each chunk in CHUNK.sp-part and commit a checkpoint (CHUNK.sp-checkpoint: the inputs copied "
         "and synced) every SIZE of input and on SIGTERM/SIGINT, so a rerun copies only the other inputs "
         "(K/M/G/T; 0 = no checkpoints: write under a temporary name).",
         "1G"},
        {"dry-run", "", "Print the plan (chunk -> files, sizes) on stdout and write nothing."},
        {"threads", "N", "Copies at once in this process; 0 = this rank's share of the CPUs.", "0"},
    }))),
    "Files are taken in byte-wise order of their paths relative to DIR, so the plan is the same on\n"
    "every machine and whatever the number of ranks or threads. An input that does not end with a\n"
    "newline gets one, so no two documents share a line; bytes are otherwise copied unchanged\n"
    "(copy_file_range, so the kernel or file system moves the data). The first run pins its plan in\n"
    "OUT/sp_concat_plan.tsv; reruns (after a kill, or with inputs already removed by --remove-source)\n"
    "follow that file. Chunks are written under temporary names and renamed when complete; then\n"
    "OUT/<chunk>.sp-record (JSON) records the inputs' identity and the chunk's size and checksum. A\n"
    "rerun keeps exactly the chunks whose record matches them and their inputs, and rebuilds the rest\n"
    "(saying why). Inside a chunk, a checkpoint lists the inputs copied and synced (every\n"
    "--checkpoint-every of input, and at SIGTERM or SIGINT), so the rerun of an interrupted chunk\n"
    "copies only the rest, with the same bytes; its partial (CHUNK.sp-part) is resumed only when\n"
    "its checkpoint names the same inputs.\n"
    "\n"
    "Ranks: under mpirun (or another MPI launcher) the ranks draw chunks, largest first, from one\n"
    "counter as they finish, rank 0 prints one progress line and one summary for the whole job, and a\n"
    "rank that fails ends the job. With only RANK/WORLD_SIZE (bcprun --array-type PYTORCH, torchrun)\n"
    "each rank takes a fixed size-balanced share and reports its own. Either way a chunk's bytes do not\n"
    "depend on which rank wrote it.\n"
    "\n"
    "Examples:\n"
    "  sp_concat --input-dir /data/jsonl/train --output-dir /data/chunks --dry-run\n"
    "  sp_concat --input-dir /data/jsonl/train --output-dir /data/chunks --target-size 34G\n"
    "  mpirun -np 8 sp_concat --input-dir /data/jsonl/train --output-dir /data/chunks --remove-source\n"};

int body(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv);
  sp::apply_output_flags(args);
  if (!args.has("input-dir")) throw sp::UsageError("--input-dir is required");
  if (!args.has("output-dir")) throw sp::UsageError("--output-dir is required");
  if (args.has("target-size") && args.has("files-per-chunk"))
    throw sp::UsageError("give either --target-size or --files-per-chunk, not both");
  sp::ConcatJobOptions o;
  o.quiet = args.flag("quiet");
  o.dry_run = args.flag("dry-run");
  o.threads = sp::resolve_threads(args.get_int("threads", 0));
  sp::ConcatPlanOptions& po = o.plan;
  po.input_dir = args.get("input-dir");
  po.output_dir = args.get("output-dir");
  po.prefix = args.get("prefix");
  if (po.prefix.empty() || po.prefix.find('/') != std::string::npos)
    throw sp::UsageError("--prefix must be a non-empty file name prefix without '/'");
  if (args.has("files-per-chunk")) {
    const int64_t n = args.get_int("files-per-chunk", 0);
    if (n < 1) throw sp::UsageError("--files-per-chunk must be at least 1");
    po.files_per_chunk = static_cast<uint64_t>(n);
  } else {
    po.target_size = args.get_size("target-size", 0);
    if (po.target_size == 0) throw sp::UsageError("--target-size must be more than 0");
  }
  sp::ConcatOptions& co = o.chunk;
  co.remove_source = args.flag("remove-source");
  co.overwrite = args.flag("overwrite");
  co.checkpoint_bytes = args.get_size("checkpoint-every", uint64_t{1} << 30);

  o.per_rank_progress = args.flag("progress-per-rank");
  sp::apply_progress_flags(args, o.progress);
  return sp::run_concat_job(o);
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_concat", body, argc, argv); }
