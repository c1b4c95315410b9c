// sp_extract: decompress every *.zst under a directory, in parallel across
// ranks and threads, safely (atomic outputs, resumable, failures isolated).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <numeric>

#include "sp/cli.h"
#include "sp/error.h"
#include "sp/extract.h"
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

std::mutex g_err_mu;

int body(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv);
  sp::apply_output_flags(args);
  if (!args.has("input-dir")) throw sp::UsageError("--input-dir is required");
  const bool quiet = args.flag("quiet");
  const int threads = sp::resolve_threads(args.get_int("threads", 0));
  sp::ExtractOptions opt;
  opt.validate = args.flag("validate");
  opt.remove_source = args.flag("remove-source");
  opt.overwrite = args.flag("overwrite");
  opt.checkpoint_bytes = args.get_size("checkpoint-every", uint64_t{1} << 30);

  sp::Job job;
  const sp::RankInfo& rank = job.rank();
  const std::string label = sp::rank_prefix(rank) + "sp_extract";
  std::vector<std::string> dangling;
  const auto tasks = sp::plan_extract(args.get("input-dir"), args.get("output-dir"), &dangling);
  if (rank.rank == 0) sp::warn_dangling_links(label, dangling);
  if (tasks.empty()) {
    if (!quiet && rank.rank == 0)
      std::fprintf(stderr, "%s: no *.zst files under %s: nothing to do\n", label.c_str(),
                   args.get("input-dir").c_str());
    return 0;
  }

  std::vector<uint64_t> sizes;
  for (const auto& t : tasks) sizes.push_back(t.source_bytes);
  std::atomic<uint64_t> out_bytes{0};
  std::atomic<size_t> stale{0};
  sp::JobTasksOptions jo;
  jo.threads = threads;
  jo.progress.label = label;
  jo.progress.item_name = "files";
  sp::apply_progress_flags(args, jo.progress);
  jo.progress.extra = [&] { return "out " + sp::cli::format_size(out_bytes.load(std::memory_order_relaxed)); };
  jo.per_rank_progress = args.flag("progress-per-rank");
  std::vector<sp::ExtractResult> results(tasks.size());
  const sp::JobTasksResult run = sp::run_job_tasks(job, sizes, jo, [&](size_t i, sp::Progress& progress) {
    // Each file's temporaries are swept when it is drawn: only those of dead writers go.
    const sp::StaleTempSweep sweep = sp::remove_stale_temps({tasks[i].output, sp::record_path_for(tasks[i].output)});
    stale += sweep.removed;
    if (sweep.other_hosts) sp::print_warning(label, sweep.other_hosts_note());
    results[i] = sp::extract_file(tasks[i], opt, &progress);
    out_bytes.fetch_add(results[i].bytes_out, std::memory_order_relaxed);
    if (results[i].status == sp::ExtractStatus::kFailed || !results[i].notice.empty()) {
      std::lock_guard<std::mutex> lk(g_err_mu);
      if (!results[i].notice.empty() && !quiet)
        std::fprintf(stderr, "%s: %s\n", label.c_str(), results[i].notice.c_str());
      if (results[i].status == sp::ExtractStatus::kFailed)
        std::fprintf(stderr, "%s: error: %s\n", label.c_str(), results[i].error.c_str());
    }
  });

  // This rank's figures, then the job's (sums over the ranks; under MPI one summary, from rank 0).
  enum { kFiles, kDone, kSkipped, kFailed, kUnfinished, kRemoved, kIn, kOut, kLines, kStale, kResumed, kKept, kCount };
  std::vector<uint64_t> mine(kCount, 0);
  mine[kFiles] = run.ran.size();
  mine[kStale] = stale;
  std::string failed;  // this rank's failed sources, one per line
  for (size_t i : run.ran) {
    const auto& r = results[i];
    mine[kDone] += r.status == sp::ExtractStatus::kExtracted;
    mine[kSkipped] += r.status == sp::ExtractStatus::kSkipped;
    if (r.status == sp::ExtractStatus::kFailed && r.error.empty()) ++mine[kUnfinished];  // interrupted
    else if (r.status == sp::ExtractStatus::kFailed) ++mine[kFailed], failed += tasks[i].source + "\n";
    mine[kRemoved] += r.source_removed;
    mine[kIn] += r.bytes_in, mine[kOut] += r.bytes_out, mine[kLines] += r.lines;
    mine[kResumed] += r.resumed, mine[kKept] += r.resumed_from;
  }
  const std::vector<uint64_t> all = job.sum(mine);
  const double t = job.max(run.seconds);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%llu files, %.1f MB in", static_cast<unsigned long long>(mine[kFiles]),
                mine[kIn] / 1e6);
  const std::vector<std::string> per_rank = job.gather(buf);
  std::vector<std::string> failed_all;
  for (const std::string& text : job.gather(failed))
    for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
      failed_all.push_back(text.substr(at, nl - at));
  const bool reports = !job.uses_mpi() || rank.rank == 0;
  if (!quiet && reports) {
    std::string s = label + ": " + std::to_string(all[kFiles]) + " files (" + std::to_string(tasks.size()) +
                    " in the job, ";
    if (job.uses_mpi()) s += std::to_string(rank.world) + " ranks x ";
    s += std::to_string(threads) + " threads): " + std::to_string(all[kDone]) + " extracted, " +
         std::to_string(all[kSkipped]) + " kept (complete), " + std::to_string(all[kFailed]) + " failed";
    if (opt.validate) s += " | " + std::to_string(all[kLines]) + " lines validated";
    if (opt.remove_source) s += " | " + std::to_string(all[kRemoved]) + " sources removed";
    if (all[kStale]) s += " | " + std::to_string(all[kStale]) + " stale temporaries removed";
    if (all[kResumed])
      s += " | " + std::to_string(all[kResumed]) + " resumed from checkpoints (" + sp::cli::format_size(all[kKept]) +
           " of output kept)";
    if (run.stop) s += " | interrupted: " + std::to_string(all[kUnfinished]) + " not finished";
    std::snprintf(buf, sizeof buf, " | in %.1f MB, out %.1f MB | %s | %.1f MB/s in, %.1f MB/s out", all[kIn] / 1e6,
                  all[kOut] / 1e6, sp::cli::format_duration(t).c_str(), sp::mb_per_s(all[kIn], t),
                  sp::mb_per_s(all[kOut], t));
    std::fprintf(stderr, "%s%s\n", s.c_str(), buf);
    if (job.uses_mpi() && rank.world > 1) {
      s = label + ": per rank:";
      for (size_t r = 0; r < per_rank.size(); ++r) s += (r ? " | " : " ") + std::to_string(r) + ": " + per_rank[r];
      std::fprintf(stderr, "%s\n", s.c_str());
    }
  }
  if (all[kFailed] && reports) {
    std::sort(failed_all.begin(), failed_all.end());
    std::string list;
    for (size_t i = 0; i < failed_all.size() && i < 20; ++i) list += "\n  " + failed_all[i];
    if (failed_all.size() > 20) list += "\n  ... and " + std::to_string(failed_all.size() - 20) + " more";
    std::fprintf(stderr, "%s: error: %llu file(s) failed (errors above); rerun to retry them:%s\n", label.c_str(),
                 static_cast<unsigned long long>(all[kFailed]), list.c_str());
  }
  if (run.stop) {
    job.finish();  // every rank got the signal and stops here together
    throw *run.stop;
  }
  return all[kFailed] ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_extract", body, argc, argv); }
