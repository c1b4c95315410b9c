// sp_extract: decompress every *.zst under a directory, in parallel across
// ranks and threads, safely (atomic outputs, resumable, failures isolated).
#include "sp/cli.h"
#include "sp/error.h"
#include "sp/extract_job.h"
#include "sp/fs.h"
#include "sp/job.h"
#include "sp/progress.h"
#include "sp/threads.h"

namespace {

const sp::cli::Program kProgram{
    "sp_extract",
    "decompress every *.zst file under a directory (zstd, streaming, resumable)",
    "sp_extract --input-dir DIR [--output-dir OUT] [--threads N] [--remove-source] [--validate]",
    sp::with_output_flags(sp::with_job_flags(sp::with_progress_flags({
        {"input-dir", "DIR", "Directory searched recursively for *.zst files."},
        {"output-dir", "OUT",
         "Where outputs go, keeping paths relative to DIR and dropping '.zst'. Default: beside each source."},
        {"threads", "N", "Files decompressed at once in this process; 0 = this rank's share of the CPUs.", "0"},
        {"remove-source", "",
         "Delete each .zst once its output is complete, verified against its completion record (checksum read "
         "back) and synced to disk (saves space)."},
        {"overwrite", "",
         "Rebuild outputs even when their completion record says they are complete (and ignore checkpoints)."},
        {"checkpoint-every", "SIZE",
         "Build each output in OUTPUT.sp-part and commit a checkpoint (OUTPUT.sp-checkpoint) every SIZE of "
         "output and on SIGTERM/SIGINT, so a rerun continues an interrupted file there (K/M/G/T; 0 = no "
         "checkpoints: write under a temporary name).",
         "1G"},
        {"validate", "",
         "Also check that every line is a JSON object with valid UTF-8; the first bad line of a file is "
         "reported as FILE:LINE and that file fails."},
    }))),
    "Under mpirun (or another MPI launcher) the ranks draw files, largest first, from one counter as\n"
    "they finish, and rank 0 prints one progress line and one summary for the job; with only\n"
    "RANK/WORLD_SIZE each rank takes a fixed size-balanced share and reports its own. Threads share\n"
    "the files within each process. Every output is written under a temporary name and renamed only\n"
    "when the whole file decoded cleanly, so a corrupt, truncated or interrupted file never leaves a\n"
    "complete-looking output. Beside each output, OUTPUT.sp-record (JSON) records the source's identity\n"
    "and the output's size and checksum; an output counts as complete only when its record matches it\n"
    "and the source, so a rerun skips exactly those, rebuilds anything else (saying why) and resumes a\n"
    "killed job. Inside a file, a checkpoint every --checkpoint-every of output (and at SIGTERM or\n"
    "SIGINT) lets the rerun continue from there with the same bytes; an interrupted run's partial\n"
    "(OUTPUT.sp-part) is resumed only when its checkpoint names the same source and options.\n"
    "Sources already removed by --remove-source stay in the plan through their records, so\n"
    "ranks started at different times still split the same files. A failed file does not stop the\n"
    "others; the exit status is 1 if any file failed.\n"
    "\n"
    "Examples:\n"
    "  sp_extract --input-dir SlimPajama-627B/train --output-dir /data/slimpajama/jsonl\n"
    "  sp_extract --input-dir SlimPajama-627B --remove-source --validate      # in place\n"
    "  mpirun -np 16 sp_extract --input-dir SlimPajama-627B/train --output-dir /data/jsonl\n"
    "  bcprun --nnodes 2 --npernode 48 --cmd 'sp_extract --input-dir /ws/sp/train --output-dir /ws/jsonl'\n"};

int body(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv);
  sp::apply_output_flags(args);
  if (!args.has("input-dir")) throw sp::UsageError("--input-dir is required");
  sp::ExtractJobOptions o;
  o.input_dir = args.get("input-dir");
  o.output_dir = args.get("output-dir");
  o.quiet = args.flag("quiet");
  o.threads = sp::resolve_threads(args.get_int("threads", 0));
  o.extract.validate = args.flag("validate");
  o.extract.remove_source = args.flag("remove-source");
  o.extract.overwrite = args.flag("overwrite");
  o.extract.checkpoint_bytes = args.get_size("checkpoint-every", uint64_t{1} << 30);
  sp::apply_progress_flags(args, o.progress);
  o.per_rank_progress = args.flag("progress-per-rank");
  return sp::run_extract_job(o);
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_extract", body, argc, argv); }
