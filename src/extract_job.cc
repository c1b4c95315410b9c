// sp_extract's job: plan, run the files over the ranks, one summary and the failed sources.
#include "sp/extract_job.h"

#include <algorithm>
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

int run_extract_job(const ExtractJobOptions& options) {
  const ExtractOptions& opt = options.extract;
  const bool quiet = options.quiet;
  Job job;
  const RankInfo& rank = job.rank();
  const std::string label = rank_prefix(rank) + "sp_extract";
  std::vector<std::string> dangling;
  const auto tasks = plan_extract(options.input_dir, options.output_dir, &dangling);
  if (rank.rank == 0) warn_dangling_links(label, dangling);
  if (tasks.empty()) {
    if (!quiet && rank.rank == 0)
      std::fprintf(stderr, "%s: no *.zst files under %s: nothing to do\n", label.c_str(), options.input_dir.c_str());
    return 0;
  }

  std::vector<uint64_t> sizes;
  for (const auto& t : tasks) sizes.push_back(t.source_bytes);
  std::atomic<uint64_t> out_bytes{0};
  std::atomic<size_t> stale{0};
  JobTasksOptions jo;
  jo.threads = options.threads;
  jo.progress = options.progress;
  jo.progress.label = label;
  jo.progress.item_name = "files";
  jo.progress.extra = [&] { return "out " + cli::format_size(out_bytes.load(std::memory_order_relaxed)); };
  jo.per_rank_progress = options.per_rank_progress;
  std::vector<ExtractResult> results(tasks.size());
  std::mutex err_mu;
  const JobTasksResult run = run_job_tasks(job, sizes, jo, [&](size_t i, Progress& progress) {
    // Each file's temporaries are swept when it is drawn: only those of dead writers go.
    const StaleTempSweep sweep = remove_stale_temps({tasks[i].output, record_path_for(tasks[i].output)});
    stale += sweep.removed;
    if (sweep.other_hosts) print_warning(label, sweep.other_hosts_note());
    results[i] = extract_file(tasks[i], opt, &progress);
    out_bytes.fetch_add(results[i].bytes_out, std::memory_order_relaxed);
    if (results[i].status == ExtractStatus::kFailed || !results[i].notice.empty()) {
      std::lock_guard<std::mutex> lk(err_mu);
      if (!results[i].notice.empty() && !quiet)
        std::fprintf(stderr, "%s: %s\n", label.c_str(), results[i].notice.c_str());
      if (results[i].status == ExtractStatus::kFailed)
        std::fprintf(stderr, "%s: error: %s\n", label.c_str(), results[i].error.c_str());
    }
  });

  // This rank's figures, then the job's (sums over the ranks; under MPI one summary, from rank 0).
  enum { kFiles, kDone, kSkipped, kFailed, kUnfinished, kRemoved, kIn, kOut, kLines, kStale, kResumed, kKept, kCount };
  std::vector<uint64_t> mine(kCount, 0);
  mine[kFiles] = run.ran.size();
  mine[kStale] = stale;
  std::string failed;  // this rank's failed sources, one per line: its notes
  for (size_t i : run.ran) {
    const auto& r = results[i];
    mine[kDone] += r.status == ExtractStatus::kExtracted;
    mine[kSkipped] += r.status == ExtractStatus::kSkipped;
    if (r.status == ExtractStatus::kFailed && r.error.empty()) ++mine[kUnfinished];  // interrupted
    else if (r.status == ExtractStatus::kFailed) ++mine[kFailed], failed += tasks[i].source + "\n";
    mine[kRemoved] += r.source_removed;
    mine[kIn] += r.bytes_in, mine[kOut] += r.bytes_out, mine[kLines] += r.lines;
    mine[kResumed] += r.resumed, mine[kKept] += r.resumed_from;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "%llu files, %.1f MB in", static_cast<unsigned long long>(mine[kFiles]),
                mine[kIn] / 1e6);
  const JobEnd end = end_job(job, mine, run.seconds, buf, failed);
  const std::vector<uint64_t>& all = end.totals;
  const double t = end.seconds;
  if (!quiet && end.reports) {
    std::string s = label + ": " + std::to_string(all[kFiles]) + " files (" + std::to_string(tasks.size()) +
                    " in the job, ";
    if (job.uses_mpi()) s += std::to_string(rank.world) + " ranks x ";
    s += std::to_string(options.threads) + " threads): " + std::to_string(all[kDone]) + " extracted, " +
         std::to_string(all[kSkipped]) + " kept (complete), " + std::to_string(all[kFailed]) + " failed";
    if (opt.validate) s += " | " + std::to_string(all[kLines]) + " lines validated";
    if (opt.remove_source) s += " | " + std::to_string(all[kRemoved]) + " sources removed";
    if (all[kStale]) s += " | " + std::to_string(all[kStale]) + " stale temporaries removed";
    if (all[kResumed])
      s += " | " + std::to_string(all[kResumed]) + " resumed from checkpoints (" + cli::format_size(all[kKept]) +
           " of output kept)";
    if (run.stop) s += " | interrupted: " + std::to_string(all[kUnfinished]) + " not finished";
    std::snprintf(buf, sizeof buf, " | in %.1f MB, out %.1f MB | %s | %.1f MB/s in, %.1f MB/s out", all[kIn] / 1e6,
                  all[kOut] / 1e6, cli::format_duration(t).c_str(), mb_per_s(all[kIn], t), mb_per_s(all[kOut], t));
    std::fprintf(stderr, "%s%s\n", s.c_str(), buf);
    const std::string per_rank = end.per_rank_line(label);
    if (!per_rank.empty()) std::fprintf(stderr, "%s\n", per_rank.c_str());
  }
  if (all[kFailed] && end.reports) {
    std::vector<std::string> failed_all;
    for (const std::string& text : end.notes)
      for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
        failed_all.push_back(text.substr(at, nl - at));
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

}  // namespace sp
