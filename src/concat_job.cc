// sp_concat's job: plan, sweep, run the chunks over the ranks, one summary.
#include "sp/concat_job.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/job.h"
#include "sp/rank.h"
#include "sp/record.h"
#include "sp/stale_temps.h"

namespace sp {

namespace {

// The plan on stdout (--dry-run), with how the ranks would share it.
void print_plan(const Job& job, const std::vector<Chunk>& plan, const std::vector<uint64_t>& sizes, bool from_file,
                const std::string& plan_path) {
  const RankInfo& rank = job.rank();
  std::string s = format_plan(plan);
  if (from_file) s += "(plan pinned by " + plan_path + ")\n";
  if (job.uses_mpi() && rank.world > 1) {
    s += "chunks are drawn largest first by the " + std::to_string(rank.world) + " MPI ranks as they finish\n";
  } else if (rank.world > 1) {
    for (int r = 0; r < rank.world; ++r) {
      s += "rank " + std::to_string(r) + ":";
      for (size_t i : shard_by_size(sizes, r, rank.world)) (s += ' ') += std::to_string(i);
      s += "\n";
    }
  }
  std::fputs(s.c_str(), stdout);
}

}  // namespace

int run_concat_job(const ConcatJobOptions& options) {
  const ConcatPlanOptions& po = options.plan;
  const ConcatOptions& co = options.chunk;
  const bool quiet = options.quiet;
  Job job;
  const RankInfo& rank = job.rank();
  const std::string label = rank_prefix(rank) + "sp_concat";
  std::vector<std::string> dangling;
  const auto listed = list_concat_inputs(po.input_dir, po.output_dir, &dangling);
  if (rank.rank == 0) warn_dangling_links(label, dangling);
  const auto planned = plan_chunks(listed, po);
  const std::string plan_path = plan_file_path(po.output_dir);
  if (planned.empty() && !path_exists(plan_path)) {
    if (!quiet && rank.rank == 0)
      std::fprintf(stderr, "%s: no *.jsonl files under %s: nothing to do\n", label.c_str(), po.input_dir.c_str());
    return 0;
  }
  bool from_file = false;
  const auto plan = pin_plan(planned, po, !options.dry_run, &from_file);
  if (from_file) check_plan_covers(plan, listed, plan_path);

  std::vector<uint64_t> sizes;
  for (const auto& c : plan) sizes.push_back(c.bytes);
  if (options.dry_run) {
    if (rank.rank == 0) print_plan(job, plan, sizes, from_file, plan_path);  // every rank has the same plan
    return 0;
  }

  // The plan's own temporary: the sweep removes only those of dead writers,
  // never one a rank is still writing. Each chunk's are swept when it is drawn.
  const StaleTempSweep sweep = remove_stale_temps({plan_path});
  std::atomic<size_t> stale{sweep.removed};
  if (sweep.other_hosts) print_warning(label, sweep.other_hosts_note());

  JobTasksOptions jo;
  jo.threads = options.threads;
  jo.progress = options.progress;
  jo.progress.label = label;
  jo.progress.item_name = "chunks";
  jo.per_rank_progress = options.per_rank_progress;
  std::vector<ChunkResult> results(plan.size());
  std::mutex err_mu;
  const JobTasksResult run = run_job_tasks(job, sizes, jo, [&](size_t i, Progress& progress) {
    const StaleTempSweep swept = remove_stale_temps({plan[i].output, record_path_for(plan[i].output)});
    stale += swept.removed;
    results[i] = write_chunk(plan[i], co, &progress);
    if (results[i].status == ChunkStatus::kFailed || !results[i].notice.empty()) {
      std::lock_guard<std::mutex> lk(err_mu);
      if (!results[i].notice.empty() && !quiet)
        std::fprintf(stderr, "%s: %s\n", label.c_str(), results[i].notice.c_str());
      if (results[i].status == ChunkStatus::kFailed)
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
    mine[kWritten] += r.status == ChunkStatus::kWritten;
    mine[kSkipped] += r.status == ChunkStatus::kSkipped;
    mine[kFailed] += r.status == ChunkStatus::kFailed && !r.error.empty();
    mine[kUnfinished] += r.status == ChunkStatus::kFailed && r.error.empty();  // interrupted
    mine[kOut] += r.bytes_out, mine[kNewlines] += r.newlines_added, mine[kRemoved] += r.sources_removed;
    if (r.status == ChunkStatus::kWritten) mine[kFiles] += plan[i].inputs.size();
    mine[kResumed] += r.resumed, mine[kResumedInputs] += r.resumed_inputs, mine[kResumedBytes] += r.resumed_bytes;
  }
  char buf[200];
  std::snprintf(buf, sizeof buf, "%llu chunks, %.1f MB", static_cast<unsigned long long>(mine[kChunks]),
                mine[kOut] / 1e6);
  const JobEnd end = end_job(job, mine, run.seconds, buf);
  const std::vector<uint64_t>& all = end.totals;
  const double t = end.seconds;
  if (!quiet && end.reports) {
    std::string s = label + ": " + std::to_string(all[kChunks]) + " of " + std::to_string(plan.size()) + " chunks (";
    if (job.uses_mpi()) s += std::to_string(rank.world) + " ranks x ";
    s += std::to_string(options.threads) + " threads): " + std::to_string(all[kWritten]) + " written from " +
         std::to_string(all[kFiles]) + " files, " + std::to_string(all[kSkipped]) + " kept (complete), " +
         std::to_string(all[kFailed]) + " failed | " + std::to_string(all[kNewlines]) + " missing final newlines added";
    if (co.remove_source) s += " | " + std::to_string(all[kRemoved]) + " sources removed";
    if (all[kStale]) s += " | " + std::to_string(all[kStale]) + " stale temporaries removed";
    if (all[kResumed])
      s += " | " + std::to_string(all[kResumed]) + " resumed from checkpoints (" +
           std::to_string(all[kResumedInputs]) + " inputs, " + cli::format_size(all[kResumedBytes]) +
           " already copied)";
    if (run.stop) s += " | interrupted: " + std::to_string(all[kUnfinished]) + " not finished";
    std::snprintf(buf, sizeof buf, " | out %.1f MB | %s | %.1f MB/s", all[kOut] / 1e6,
                  cli::format_duration(t).c_str(), mb_per_s(all[kOut], t));
    std::fprintf(stderr, "%s%s\n", s.c_str(), buf);
    const std::string per_rank = end.per_rank_line(label);
    if (!per_rank.empty()) std::fprintf(stderr, "%s\n", per_rank.c_str());
  }
  if (all[kFailed] && end.reports)
    std::fprintf(stderr, "%s: error: %llu chunk(s) failed (errors above); rerun to retry them\n", label.c_str(),
                 static_cast<unsigned long long>(all[kFailed]));
  if (run.stop) {
    job.finish();  // every rank got the signal and stops here together
    throw *run.stop;
  }
  return all[kFailed] ? 1 : 0;
}

}  // namespace sp
