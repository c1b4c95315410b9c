// sp_concat: group JSONL files into large chunks (e.g. SlimPajama's 59,166
// shards into ~34 GB training chunks) by a deterministic plan, newline-safe,
// in parallel across ranks and threads, resumable.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>

#include "sp/cli.h"
#include "sp/concat.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/job.h"
#include "sp/progress.h"
#include "sp/rank.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
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
  const bool quiet = args.flag("quiet"), dry_run = args.flag("dry-run");
  const int threads = sp::resolve_threads(args.get_int("threads", 0));

  sp::ConcatPlanOptions po;
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
  sp::ConcatOptions co;
  co.remove_source = args.flag("remove-source");
  co.overwrite = args.flag("overwrite");
  co.checkpoint_bytes = args.get_size("checkpoint-every", uint64_t{1} << 30);

  sp::Job job;
  const sp::RankInfo& rank = job.rank();
  const std::string label = sp::rank_prefix(rank) + "sp_concat";
  std::vector<std::string> dangling;
  const auto listed = sp::list_concat_inputs(po.input_dir, po.output_dir, &dangling);
  if (rank.rank == 0) sp::warn_dangling_links(label, dangling);
  const auto planned = sp::plan_chunks(listed, po);
  const std::string plan_path = sp::plan_file_path(po.output_dir);
  if (planned.empty() && !sp::path_exists(plan_path)) {
    if (!quiet && rank.rank == 0)
      std::fprintf(stderr, "%s: no *.jsonl files under %s: nothing to do\n", label.c_str(), po.input_dir.c_str());
    return 0;
  }
  bool from_file = false;
  const auto plan = sp::pin_plan(planned, po, !dry_run, &from_file);
  if (from_file) sp::check_plan_covers(plan, listed, plan_path);

  std::vector<uint64_t> sizes;
  for (const auto& c : plan) sizes.push_back(c.bytes);
  if (dry_run) {
    if (rank.rank != 0) return 0;  // every rank has the same plan: print it once
    std::string s = sp::format_plan(plan);
    if (from_file) s += "(plan pinned by " + plan_path + ")\n";
    if (job.uses_mpi() && rank.world > 1) {
      s += "chunks are drawn largest first by the " + std::to_string(rank.world) + " MPI ranks as they finish\n";
    } else if (rank.world > 1) {
      for (int r = 0; r < rank.world; ++r) {
        s += "rank " + std::to_string(r) + ":";
        for (size_t i : sp::shard_by_size(sizes, r, rank.world)) (s += ' ') += std::to_string(i);
        s += "\n";
      }
    }
    std::fputs(s.c_str(), stdout);
    return 0;
  }

  // The plan's own temporary: the sweep removes only those of dead writers,
  // never one a rank is still writing. Each chunk's are swept when it is drawn.
  const sp::StaleTempSweep sweep = sp::remove_stale_temps({plan_path});
  std::atomic<size_t> stale{sweep.removed};
  if (sweep.other_hosts) sp::print_warning(label, sweep.other_hosts_note());

  sp::JobTasksOptions jo;
  jo.threads = threads;
  jo.progress.label = label;
  jo.progress.item_name = "chunks";
  sp::apply_progress_flags(args, jo.progress);
  jo.per_rank_progress = args.flag("progress-per-rank");
  std::vector<sp::ChunkResult> results(plan.size());
  std::mutex err_mu;
  const sp::JobTasksResult run = sp::run_job_tasks(job, sizes, jo, [&](size_t i, sp::Progress& progress) {
    const sp::StaleTempSweep swept = sp::remove_stale_temps({plan[i].output, sp::record_path_for(plan[i].output)});
    stale += swept.removed;
    results[i] = sp::write_chunk(plan[i], co, &progress);
    if (results[i].status == sp::ChunkStatus::kFailed || !results[i].notice.empty()) {
      std::lock_guard<std::mutex> lk(err_mu);
      if (!results[i].notice.empty() && !quiet)
        std::fprintf(stderr, "%s: %s\n", label.c_str(), results[i].notice.c_str());
      if (results[i].status == sp::ChunkStatus::kFailed)
        std::fprintf(stderr, "%s: error: %s: %s\n", label.c_str(), plan[i].output.c_str(), results[i].error.c_str());
    }
  });

  // This rank's figures, then the job's (sums over the ranks; one summary, from rank 0).
  enum {
    kChunks, kWritten, kSkipped, kFailed, kUnfinished, kOut, kNewlines, kRemoved, kFiles, kStale,
    kResumed, kResumedInputs, kResumedBytes, kCount
  };
  std::vector<uint64_t> mine(kCount, 0);
  mine[kChunks] = run.ran.size();
  mine[kStale] = stale;
  for (size_t i : run.ran) {
    const auto& r = results[i];
    mine[kWritten] += r.status == sp::ChunkStatus::kWritten;
    mine[kSkipped] += r.status == sp::ChunkStatus::kSkipped;
    mine[kFailed] += r.status == sp::ChunkStatus::kFailed && !r.error.empty();
    mine[kUnfinished] += r.status == sp::ChunkStatus::kFailed && r.error.empty();  // interrupted
    mine[kOut] += r.bytes_out, mine[kNewlines] += r.newlines_added, mine[kRemoved] += r.sources_removed;
    if (r.status == sp::ChunkStatus::kWritten) mine[kFiles] += plan[i].inputs.size();
    mine[kResumed] += r.resumed, mine[kResumedInputs] += r.resumed_inputs, mine[kResumedBytes] += r.resumed_bytes;
  }
  const std::vector<uint64_t> all = job.sum(mine);
  const double t = job.max(run.seconds);
  char buf[200];
  std::snprintf(buf, sizeof buf, "%llu chunks, %.1f MB", static_cast<unsigned long long>(mine[kChunks]),
                mine[kOut] / 1e6);
  const std::vector<std::string> per_rank = job.gather(buf);
  const bool reports = !job.uses_mpi() || rank.rank == 0;
  if (!quiet && reports) {
    std::string s = label + ": " + std::to_string(all[kChunks]) + " of " + std::to_string(plan.size()) + " chunks (";
    if (job.uses_mpi()) s += std::to_string(rank.world) + " ranks x ";
    s += std::to_string(threads) + " threads): " + std::to_string(all[kWritten]) + " written from " +
         std::to_string(all[kFiles]) + " files, " + std::to_string(all[kSkipped]) + " kept (complete), " +
         std::to_string(all[kFailed]) + " failed | " + std::to_string(all[kNewlines]) + " missing final newlines added";
    if (co.remove_source) s += " | " + std::to_string(all[kRemoved]) + " sources removed";
    if (all[kStale]) s += " | " + std::to_string(all[kStale]) + " stale temporaries removed";
    if (all[kResumed])
      s += " | " + std::to_string(all[kResumed]) + " resumed from checkpoints (" +
           std::to_string(all[kResumedInputs]) + " inputs, " + sp::cli::format_size(all[kResumedBytes]) +
           " already copied)";
    if (run.stop) s += " | interrupted: " + std::to_string(all[kUnfinished]) + " not finished";
    std::snprintf(buf, sizeof buf, " | out %.1f MB | %s | %.1f MB/s", all[kOut] / 1e6,
                  sp::cli::format_duration(t).c_str(), sp::mb_per_s(all[kOut], t));
    std::fprintf(stderr, "%s%s\n", s.c_str(), buf);
    if (job.uses_mpi() && rank.world > 1) {
      s = label + ": per rank:";
      for (size_t r = 0; r < per_rank.size(); ++r) s += (r ? " | " : " ") + std::to_string(r) + ": " + per_rank[r];
      std::fprintf(stderr, "%s\n", s.c_str());
    }
  }
  if (all[kFailed] && reports)
    std::fprintf(stderr, "%s: error: %llu chunk(s) failed (errors above); rerun to retry them\n", label.c_str(),
                 static_cast<unsigned long long>(all[kFailed]));
  if (run.stop) {
    job.finish();  // every rank got the signal and stops here together
    throw *run.stop;
  }
  return all[kFailed] ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_concat", body, argc, argv); }
