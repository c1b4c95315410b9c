// sp_download's job: share the files, sweep, fetch, one summary and one report.
#include "sp/download_job.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/job.h"
#include "sp/record.h"
#include "sp/stale_temps.h"

namespace sp {

namespace {

// One report per job under MPI; with static shares one per rank.
std::string report_path(std::string path, const RankInfo& r, bool shared) {
  const std::string key = "{rank}";
  if (auto pos = path.find(key); pos != std::string::npos)
    return path.replace(pos, key.size(), shared ? std::string("all") : std::to_string(r.rank));
  if (r.world > 1 && !shared) path += ".rank" + std::to_string(r.rank);
  return path;
}

// The files this rank may take: under MPI every file (in drawing order), else its static share.
std::vector<size_t> share_of(const std::vector<uint64_t>& sizes, const RankInfo& rank, bool shared) {
  return shared ? largest_first(sizes) : shard_by_size(sizes, rank.rank, rank.world);
}

}  // namespace

int run_download_job(const DownloadJobOptions& options) {
  const std::vector<ManifestEntry>& all = options.manifest;
  std::optional<Job> job_storage;
  if (options.rank) job_storage.emplace(*options.rank);
  else job_storage.emplace();
  Job& job = *job_storage;
  const RankInfo& rank = job.rank();
  const bool shared = job.uses_mpi();
  std::vector<uint64_t> sizes;
  sizes.reserve(all.size());
  for (const auto& e : all) sizes.push_back(e.size_known ? e.size : 0);

  if (options.dry_run) {
    if (shared && rank.rank != 0) return 0;  // the ranks share one queue: print it once
    for (size_t i : share_of(sizes, rank, shared)) std::fputs((format_manifest_line(all[i]) + "\n").c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  const bool with_report = !options.report.empty();
  if (with_report) check_output_file_path(report_path(options.report, rank, shared), "--report");

  DownloadOptions opt = options.download;
  const double job_requests_per_second = opt.max_requests_per_second;
  opt.max_requests_per_second /= rank.world;  // this rank's share of the job's budget

  const bool quiet = options.quiet;
  const bool reports = !shared || rank.rank == 0;  // under MPI rank 0 speaks for the job
  const std::string label = (shared ? std::string() : rank_prefix(rank)) + "sp_download";
  if (!quiet && reports) {
    uint64_t known_bytes = 0;
    const std::vector<size_t> share = shared ? std::vector<size_t>{} : shard_by_size(sizes, rank.rank, rank.world);
    for (size_t i = 0; i < all.size(); ++i) known_bytes += shared ? sizes[i] : 0;
    for (size_t i : share) known_bytes += sizes[i];
    const size_t count = shared ? all.size() : share.size();
    std::string who = shared ? "drawn by " + std::to_string(rank.world) + " MPI ranks from one queue"
                             : "for rank " + std::to_string(rank.rank) + " of " + std::to_string(rank.world) + " (" +
                                   rank.source + ")";
    std::fprintf(stderr, "%s: %zu of %zu files %s%s -> %s\n", label.c_str(), count, all.size(), who.c_str(),
                 known_bytes ? (", " + cli::format_size(known_bytes)).c_str() : "", opt.output_dir.c_str());
    if (job_requests_per_second > 0)
      std::fprintf(stderr, "%s: request budget %g/s for the job, %g/s for each rank\n", label.c_str(),
                   job_requests_per_second, opt.max_requests_per_second);
  }

  DownloadCounters counters;
  JobTasksOptions jo;
  jo.progress = options.progress;
  jo.progress.label = label;
  jo.progress.item_name = "files";
  jo.per_rank_progress = options.per_rank_progress;
  jo.progress.extra = [&counters] {
    std::string s = "active " + std::to_string(counters.in_flight.load()) + " | retries " +
                    std::to_string(counters.retries.load());
    if (auto n = counters.rate_limited.load()) s += " | 429s " + std::to_string(n);
    if (counters.rate_limited.load()) s += " | connections " + std::to_string(counters.concurrency.load());
    if (auto n = counters.files_failed.load()) s += " | failed " + std::to_string(n);
    if (double p = counters.pause_left_s.load(); p > 0.5) s += " | paused " + cli::format_duration(p);
    return s;
  };
  JobTaskQueue queue(job, sizes, jo);

  DownloadHooks hooks;
  hooks.on_progress = [&queue](uint64_t b, uint64_t f) { queue.progress().add(b, f); };
  hooks.on_total_learned = [&queue](uint64_t b) { queue.progress().add_total_bytes(b); };
  if (!quiet)
    hooks.on_event = [&label](const std::string& line) {
      std::fprintf(stderr, "%s: %s\n", label.c_str(), line.c_str());
    };
  hooks.should_stop = interrupted;  // run_tool installed the handlers; .part files stay for the rerun
  hooks.claim = [&queue] { return queue.claim(); };
  hooks.share_pause_until = [&queue](double t) { queue.share_pause_until(t); };
  hooks.job_pause_until = [&queue] { return queue.pause_until(); };

  // Completion records are written under temporary names too: a kill -9 can
  // leave one (the .part files are resumed, not swept). Each rank sweeps the
  // records of the files it may take (all of them under MPI: a temporary of
  // a live writer is never removed).
  std::vector<std::string> records;
  for (size_t i : share_of(sizes, rank, shared)) records.push_back(record_path_for(opt.output_dir + "/" + all[i].path));
  if (!shared || rank.rank == 0) {
    const StaleTempSweep sweep = remove_stale_temps(records);
    if (sweep.other_hosts) print_warning(label, sweep.other_hosts_note());
  }

  const std::vector<FileResult> results = download_all(all, opt, counters, hooks);
  const JobTasksResult run = queue.finish();
  const DownloadTotals mine = download_totals(results, counters, run.seconds);

  // The job's totals (sums over the ranks; the slowest rank's time), each
  // rank's totals object and failures, then each rank's per-file report
  // objects (large: only with a report). One summary and one report from
  // rank 0 under MPI.
  std::string my_files;  // "index\tobject\n" per file this rank took
  std::string failed_lines;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].outcome == FileOutcome::kNotTaken) continue;
    if (with_report) my_files += std::to_string(i) + "\t" + download_file_json(all[i], results[i]) + "\n";
    if (results[i].outcome == FileOutcome::kFailed)
      failed_lines += "failed: " + all[i].url + " (" + all[i].path + "): " + results[i].error + "\n";
  }
  // Each rank's line: "12 files, 3.4 GB" for the summary, a tab, its totals object for the report.
  const JobEnd end = end_job(job, mine.counts(), run.seconds,
                             std::to_string(mine.files) + " files, " + cli::format_size(mine.bytes_received) + "\t{" +
                                 "\"rank\": " + std::to_string(rank.rank) + ", " + download_totals_json(mine) + "}",
                             failed_lines);
  JobEnd brief = end, objects_of = end;  // the two halves of each rank's line
  for (size_t r = 0; r < end.per_rank.size(); ++r) {
    const size_t tab = end.per_rank[r].find('\t');
    brief.per_rank[r] = end.per_rank[r].substr(0, tab);
    objects_of.per_rank[r] = end.per_rank[r].substr(tab + 1);
  }
  const DownloadTotals total = DownloadTotals::from_counts(end.totals, end.seconds);
  const std::vector<std::string> files_by_rank = job.gather(my_files);

  if (with_report && reports) {
    std::vector<std::pair<size_t, std::string>> files;
    for (const auto& text : files_by_rank)
      for (size_t pos = 0; pos < text.size();) {
        const size_t tab = text.find('\t', pos), nl = text.find('\n', tab);
        files.emplace_back(std::stoull(text.substr(pos, tab - pos)), text.substr(tab + 1, nl - tab - 1));
        pos = nl + 1;
      }
    std::sort(files.begin(), files.end());
    std::vector<std::string> objects;
    for (auto& f : files) objects.push_back(std::move(f.second));
    write_download_report(report_path(options.report, rank, shared), shared ? total : mine, shared ? rank.world : 1,
                          shared && rank.world > 1 ? objects_of.per_rank : std::vector<std::string>{}, objects);
  }
  if (reports) {
    const DownloadTotals& t = shared ? total : mine;
    std::fprintf(stderr,
                 "%s: %llu files: %llu downloaded, %llu already present, %llu failed | %s received in %s (%.1f MB/s) | "
                 "%llu requests, %llu retries, %llu rate-limited\n",
                 label.c_str(), (unsigned long long)t.files, (unsigned long long)t.downloaded,
                 (unsigned long long)t.already_present, (unsigned long long)t.failed,
                 cli::format_size(t.bytes_received).c_str(), cli::format_duration(t.seconds).c_str(),
                 mb_per_s(t.bytes_received, t.seconds), (unsigned long long)t.requests,
                 (unsigned long long)t.retries, (unsigned long long)t.rate_limited);
    if (const std::string line = brief.per_rank_line(label); !line.empty()) std::fprintf(stderr, "%s\n", line.c_str());
    if (t.rate_limited)
      std::fprintf(stderr,
                   "%s: rate limited (%llu 429s): as few as %llu concurrent transfers (of --connections %d)%s\n",
                   label.c_str(), (unsigned long long)t.rate_limited,
                   static_cast<unsigned long long>(counters.lowest_concurrency.load()), opt.connections,
                   shared && rank.world > 1 ? " on rank 0" : "");
    for (const auto& text : end.notes)
      for (size_t pos = 0; pos < text.size();) {
        const size_t nl = text.find('\n', pos);
        std::fprintf(stderr, "%s: %s\n", label.c_str(), text.substr(pos, nl - pos).c_str());
        pos = nl + 1;
      }
    if (t.failed)
      std::fprintf(stderr, "%s: %llu of %llu files failed; rerun the same command to resume%s\n", label.c_str(),
                   (unsigned long long)t.failed, (unsigned long long)t.files, interrupted() ? " (interrupted)" : "");
  }
  const uint64_t failed = shared ? total.failed : mine.failed;
  if (interrupted()) {
    job.finish();  // every rank got the signal and stops here together
    throw_if_interrupted();
  }
  return failed ? 1 : 0;
}

}  // namespace sp
