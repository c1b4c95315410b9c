// sp_download: fetches the files of a manifest (or a built-in SlimPajama
// manifest) into a directory; the ranks of an mpirun job draw files from one
// queue (sp/job.h), processes with only RANK/WORLD_SIZE take a size-balanced
// share. All the work is in sp/download.h; this file parses flags, shares the
// files, shows progress and reports.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <cstdlib>
#include <string>
#include <vector>

#include "sp/cli.h"
#include "sp/download.h"
#include "sp/error.h"
#include "sp/interrupt.h"
#include "sp/job.h"
#include "sp/manifest.h"
#include "sp/fs.h"
#include "sp/progress.h"
#include "sp/rank.h"
#include "sp/record.h"
#include "sp/stale_temps.h"

namespace {

sp::cli::Program program() {
  return {
      "sp_download",
      "verified, resumable, rank-sharded download of many files (e.g. SlimPajama-627B)",
      "sp_download --manifest FILE|slimpajama:SPLIT --output-dir DIR [options]\n"
      "       sp_download --print-manifest slimpajama:SPLIT [--base-url URL]",
      sp::with_output_flags(sp::with_job_flags(sp::with_progress_flags({
          {"manifest", "FILE", "Files to fetch, one per line: URL [SHA256|- [SIZE|- [RELATIVE_PATH]]], tab-separated; "
                               "'#' comments. A built-in name (slimpajama:train, :validation, :test, :all) works too. '-' reads stdin."},
          {"output-dir", "DIR", "Root directory for the files (created if missing)."},
          {"print-manifest", "NAME", "Print a built-in manifest (slimpajama:train|validation|test|all) to stdout and exit."},
          {"base-url", "URL", "Hub or mirror for built-in manifests.", "https://huggingface.co"},
          {"connections", "N", "Most concurrent transfers in this process; after a 429 it runs half as many, "
                                 "adding them back one per round of finished files.", "16"},
          {"retries", "N", "Retries per file after a retryable failure (429, 408, 5xx, connection error, stall, "
                           "short body, hash mismatch). Attempts that made progress are not counted. TLS certificate "
                           "failures are never retried.", "10"},
          {"stall-timeout", "SEC", "Abort and resume a transfer that receives no byte for this long.", "60"},
          {"connect-timeout", "SEC", "Give up a connection attempt after this long (then retry).", "30"},
          {"retry-base-delay", "SEC", "First backoff delay; doubles per retry, with jitter, when the server gives no Retry-After.", "1"},
          {"max-retry-wait", "SEC", "Cap on any wait, including the server's Retry-After/RateLimit.", "600"},
          {"max-requests-per-second", "R", "Cap on new requests per second for the whole job (0 = none): each of the W "
                                           "ranks starts at most R/W per second, so the job stays under R by "
                                           "construction. The Hub allows about 5,000 resolves per 5 minutes per "
                                           "token: 15 keeps a job of any size under it. Under MPI a 429's wait "
                                           "(Retry-After) pauses every rank, not only the one that got it.", "0"},
          {"verify-existing", "", "Re-read files already at their final name: their checksum against their "
                                  "completion record, and the manifest's SHA-256 when it has one (default: a file "
                                  "is kept when its FILE.sp-record matches its size and mtime)."},
          {"adopt-existing", "", "Keep files at their final name that have no completion record and no SHA-256 to "
                                 "prove them (e.g. downloaded by an older version), writing their records now "
                                 "(default: download them again)."},
          {"no-linked-etag", "", "Do not verify against the Hub's X-Linked-Etag (SHA-256) and X-Linked-Size headers "
                                 "when the manifest gives no hash/size."},
          {"ca-cert", "FILE", "CA certificates (PEM) to verify HTTPS servers with, e.g. a private mirror's CA "
                              "(default: $CURL_CA_BUNDLE, else $SSL_CERT_FILE, else the system's CAs)."},
          {"rank", "R", "This process's rank, for a static share without MPI (default: from RANK, SLURM_PROCID)."},
          {"world-size", "W", "Number of processes sharing the manifest (with --rank)."},
          {"report", "FILE", "Write the totals and every file's status as JSON. Under MPI rank 0 writes one report "
                             "for the whole job (per-rank totals inside). With static shares each rank writes its "
                             "own: '{rank}' in the name is replaced by the rank, else '.rank<R>' is appended."},
          {"dry-run", "", "Print this rank's share as manifest lines and exit (under MPI: the whole manifest, "
                          "largest first, the order in which the ranks draw it)."},
      }))),
      "Environment:\n"
      "  HF_TOKEN        sent as 'Authorization: Bearer' to the manifest URL's own host only, never after\n"
      "                  a redirect to another host (the Hub redirects downloads to a CDN).\n"
      "  CURL_CA_BUNDLE  CA certificates for HTTPS when --ca-cert is not given (as curl does).\n"
      "  SSL_CERT_FILE   the same, when neither --ca-cert nor CURL_CA_BUNDLE is given.\n"
      "\n"
      "Files go to DIR/PATH.part first and are renamed to DIR/PATH only after their size and SHA-256\n"
      "check out, so a file at its final name is always complete. Rerun the same command after any\n"
      "failure or kill: finished files are skipped without a request, .part files are resumed, but\n"
      "only when the server still has the same file: the ETag/Last-Modified of the first answer are\n"
      "kept in DIR/PATH.part.meta and sent as If-Range; a changed file, or one without such\n"
      "validators (and no SHA-256 in the manifest), is downloaded from its start again.\n"
      "Sharing: under mpirun (or bcprun --array-type MPI) the ranks draw files, largest first, from one\n"
      "queue on rank 0 as transfer slots free up, so a slow rank takes fewer; rank 0 prints one progress\n"
      "line and one summary for the job. With only RANK/WORLD_SIZE (torchrun, bcprun --array-type\n"
      "PYTORCH) or --rank/--world-size each process takes a fixed size-balanced share.\n"
      "Exit status: 0 when every file of the job (static shares: this rank's) is present, 1 otherwise\n"
      "(each failure is named).\n"
      "\n"
      "Examples:\n"
      "  sp_download --print-manifest slimpajama:validation > val.tsv\n"
      "  sp_download --manifest val.tsv --output-dir /workspace/slimpajama --report report.json\n"
      "  mpirun -np 96 sp_download --manifest slimpajama:train --output-dir /workspace/slimpajama \\\n"
      "      --connections 8 --max-requests-per-second 10 --report /workspace/reports/download.json\n"
      "  RANK=0 WORLD_SIZE=2 sp_download --manifest files.tsv --output-dir out   # one of two processes\n",
  };
}

// One report per job under MPI; with static shares one per rank.
std::string report_path(std::string path, const sp::RankInfo& r, bool shared) {
  const std::string key = "{rank}";
  if (auto pos = path.find(key); pos != std::string::npos)
    return path.replace(pos, key.size(), shared ? std::string("all") : std::to_string(r.rank));
  if (r.world > 1 && !shared) path += ".rank" + std::to_string(r.rank);
  return path;
}

// "12 files, 3.4 GB" from a rank's totals object (its "files_total" and "bytes_received").
std::string per_rank_files(const std::string& json) {
  auto number = [&](const std::string& key) -> unsigned long long {
    const size_t at = json.find("\"" + key + "\": ");
    return at == std::string::npos ? 0 : std::stoull(json.substr(at + key.size() + 4));
  };
  return std::to_string(number("files_total")) + " files, " + sp::cli::format_size(number("bytes_received"));
}

// The CA file as curl picks it: --ca-cert, else $CURL_CA_BUNDLE, else
// $SSL_CERT_FILE ("" = libcurl's default). One that cannot be read is a usage
// error now, not a certificate failure per file later.
std::string ca_cert(const sp::cli::Args& args) {
  std::string path, source;
  if (args.has("ca-cert")) path = args.get("ca-cert"), source = "--ca-cert";
  else if (const char* v = std::getenv("CURL_CA_BUNDLE"); v && *v) path = v, source = "CURL_CA_BUNDLE";
  else if (const char* v2 = std::getenv("SSL_CERT_FILE"); v2 && *v2) path = v2, source = "SSL_CERT_FILE";
  if (source.empty()) return "";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw sp::UsageError(source + ": " + sp::errno_message("cannot read CA certificates", path));
  struct stat st;
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) throw sp::UsageError(source + ": '" + path + "' is not a regular file (a PEM file of CA certificates)");
  return path;
}

int run(int argc, char** argv) {
  const auto prog = program();
  const auto args = sp::cli::parse(prog, argc, argv);
  sp::apply_output_flags(args);

  const std::string base_url = args.get("base-url");
  if (args.has("print-manifest")) {
    for (const auto& e : sp::builtin_manifest(args.get("print-manifest"), base_url))
      std::fputs((sp::format_manifest_line(e) + "\n").c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  if (!args.has("manifest")) throw sp::UsageError("--manifest is required");
  const std::string manifest = args.get("manifest");
  std::vector<sp::ManifestEntry> all;
  if (manifest.rfind("slimpajama:", 0) == 0) all = sp::builtin_manifest(manifest, base_url);
  else all = sp::load_manifest(manifest);

  std::optional<sp::Job> job_storage;
  if (args.has("rank") || args.has("world-size")) {
    if (!args.has("rank") || !args.has("world-size")) throw sp::UsageError("--rank and --world-size go together");
    sp::RankInfo given;
    given.rank = static_cast<int>(args.get_int("rank", 0));
    given.world = static_cast<int>(args.get_int("world-size", 1));
    if (given.world < 1 || given.rank < 0 || given.rank >= given.world)
      throw sp::UsageError("--rank " + std::to_string(given.rank) + " is out of range for --world-size " +
                           std::to_string(given.world));
    given.source = "--rank/--world-size";
    job_storage.emplace(given);
  } else {
    job_storage.emplace();
  }
  sp::Job& job = *job_storage;
  const sp::RankInfo& rank = job.rank();
  const bool shared = job.uses_mpi();
  std::vector<uint64_t> sizes;
  sizes.reserve(all.size());
  for (const auto& e : all) sizes.push_back(e.size_known ? e.size : 0);

  if (args.flag("dry-run")) {
    if (shared && rank.rank != 0) return 0;  // the ranks share one queue: print it once
    const std::vector<size_t> share = shared ? sp::largest_first(sizes) : sp::shard_by_size(sizes, rank.rank, rank.world);
    for (size_t i : share) std::fputs((sp::format_manifest_line(all[i]) + "\n").c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  if (!args.has("output-dir")) throw sp::UsageError("--output-dir is required");
  if (args.has("report")) sp::check_output_file_path(report_path(args.get("report"), rank, shared), "--report");

  sp::DownloadOptions opt;
  opt.output_dir = args.get("output-dir");
  while (opt.output_dir.size() > 1 && opt.output_dir.back() == '/') opt.output_dir.pop_back();
  opt.connections = static_cast<int>(args.get_int("connections", 16));
  opt.retries = static_cast<int>(args.get_int("retries", 10));
  opt.stall_timeout_s = args.get_double("stall-timeout", 60);
  opt.connect_timeout_s = args.get_double("connect-timeout", 30);
  opt.retry_base_delay_s = args.get_double("retry-base-delay", 1);
  opt.max_retry_wait_s = args.get_double("max-retry-wait", 600);
  opt.max_requests_per_second = args.get_double("max-requests-per-second", 0);
  const double job_requests_per_second = opt.max_requests_per_second;
  opt.max_requests_per_second /= rank.world;  // this rank's share of the job's budget
  opt.verify_existing = args.flag("verify-existing");
  opt.adopt_existing = args.flag("adopt-existing");
  opt.use_linked_etag = !args.flag("no-linked-etag");
  if (opt.connections < 1 || opt.connections > 1024) throw sp::UsageError("--connections must be between 1 and 1024");
  if (opt.retries < 0) throw sp::UsageError("--retries must be >= 0");
  if (opt.stall_timeout_s < 1) throw sp::UsageError("--stall-timeout must be at least 1 second");
  if (opt.connect_timeout_s <= 0 || opt.retry_base_delay_s < 0 || opt.max_retry_wait_s < 0 || opt.max_requests_per_second < 0)
    throw sp::UsageError("timeouts, delays and rates must not be negative");
  opt.ca_cert = ca_cert(args);
  if (const char* tok = std::getenv("HF_TOKEN"); tok && *tok) opt.bearer_token = tok;
  else if (const char* tok2 = std::getenv("HUGGING_FACE_HUB_TOKEN"); tok2 && *tok2) opt.bearer_token = tok2;

  const bool quiet = args.flag("quiet");
  const bool reports = !shared || rank.rank == 0;  // under MPI rank 0 speaks for the job
  const std::string label = (shared ? std::string() : sp::rank_prefix(rank)) + "sp_download";
  if (!quiet && reports) {
    uint64_t known_bytes = 0;
    size_t count = 0;
    const std::vector<size_t> share = shared ? std::vector<size_t>{} : sp::shard_by_size(sizes, rank.rank, rank.world);
    for (size_t i = 0; i < all.size(); ++i) known_bytes += shared ? sizes[i] : 0;
    for (size_t i : share) known_bytes += sizes[i];
    count = shared ? all.size() : share.size();
    std::string who = shared ? "drawn by " + std::to_string(rank.world) + " MPI ranks from one queue"
                             : "for rank " + std::to_string(rank.rank) + " of " + std::to_string(rank.world) + " (" +
                                   rank.source + ")";
    std::fprintf(stderr, "%s: %zu of %zu files %s%s -> %s\n", label.c_str(), count, all.size(), who.c_str(),
                 known_bytes ? (", " + sp::cli::format_size(known_bytes)).c_str() : "", opt.output_dir.c_str());
    if (job_requests_per_second > 0)
      std::fprintf(stderr, "%s: request budget %g/s for the job, %g/s for each rank\n", label.c_str(),
                   job_requests_per_second, opt.max_requests_per_second);
  }

  sp::DownloadCounters counters;
  sp::JobTasksOptions jo;
  jo.progress.label = label;
  jo.progress.item_name = "files";
  sp::apply_progress_flags(args, jo.progress);
  jo.per_rank_progress = args.flag("progress-per-rank");
  jo.progress.extra = [&counters] {
    std::string s = "active " + std::to_string(counters.in_flight.load()) + " | retries " + std::to_string(counters.retries.load());
    if (auto n = counters.rate_limited.load()) s += " | 429s " + std::to_string(n);
    if (counters.rate_limited.load()) s += " | connections " + std::to_string(counters.concurrency.load());
    if (auto n = counters.files_failed.load()) s += " | failed " + std::to_string(n);
    if (double p = counters.pause_left_s.load(); p > 0.5) s += " | paused " + sp::cli::format_duration(p);
    return s;
  };
  sp::JobTaskQueue queue(job, sizes, jo);

  sp::DownloadHooks hooks;
  hooks.on_progress = [&queue](uint64_t b, uint64_t f) { queue.progress().add(b, f); };
  hooks.on_total_learned = [&queue](uint64_t b) { queue.progress().add_total_bytes(b); };
  if (!quiet) hooks.on_event = [&label](const std::string& line) { std::fprintf(stderr, "%s: %s\n", label.c_str(), line.c_str()); };
  hooks.should_stop = sp::interrupted;  // run_tool installed the handlers; .part files stay for the rerun
  hooks.claim = [&queue] { return queue.claim(); };
  hooks.share_pause_until = [&queue](double t) { queue.share_pause_until(t); };
  hooks.job_pause_until = [&queue] { return queue.pause_until(); };

  // Completion records are written under temporary names too: a kill -9 can
  // leave one (the .part files are resumed, not swept). Each rank sweeps the
  // records of the files it may take (all of them under MPI: a temporary of
  // a live writer is never removed).
  std::vector<std::string> records;
  for (size_t i : shared ? sp::largest_first(sizes) : sp::shard_by_size(sizes, rank.rank, rank.world))
    records.push_back(sp::record_path_for(opt.output_dir + "/" + all[i].path));
  if (!shared || rank.rank == 0) {
    const sp::StaleTempSweep sweep = sp::remove_stale_temps(records);
    if (sweep.other_hosts) sp::print_warning(label, sweep.other_hosts_note());
  }

  const std::vector<sp::FileResult> results = sp::download_all(all, opt, counters, hooks);
  const sp::JobTasksResult run = queue.finish();
  const sp::DownloadTotals mine = sp::download_totals(results, counters, run.seconds);

  // The job's totals (sums over the ranks; the slowest rank's time), one
  // summary and one report from rank 0 under MPI.
  const sp::DownloadTotals total = sp::DownloadTotals::from_counts(job.sum(mine.counts()), job.max(run.seconds));
  const std::vector<std::string> per_rank =
      job.gather("{\"rank\": " + std::to_string(rank.rank) + ", " + sp::download_totals_json(mine) + "}");
  std::string my_files;  // "index\tobject\n" per file this rank took
  std::vector<std::string> failures;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].outcome == sp::FileOutcome::kNotTaken) continue;
    if (args.has("report")) my_files += std::to_string(i) + "\t" + sp::download_file_json(all[i], results[i]) + "\n";
    if (results[i].outcome == sp::FileOutcome::kFailed)
      failures.push_back("failed: " + all[i].url + " (" + all[i].path + "): " + results[i].error);
  }
  const std::vector<std::string> files_by_rank = job.gather(my_files);
  std::string failed_lines;
  for (const auto& f : failures) failed_lines += f + "\n";
  const std::vector<std::string> failures_by_rank = job.gather(failed_lines);

  if (args.has("report") && reports) {
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
    sp::write_download_report(report_path(args.get("report"), rank, shared), shared ? total : mine,
                              shared ? rank.world : 1, shared && rank.world > 1 ? per_rank : std::vector<std::string>{},
                              objects);
  }
  if (reports) {
    const sp::DownloadTotals& t = shared ? total : mine;
    std::fprintf(stderr,
                 "%s: %llu files: %llu downloaded, %llu already present, %llu failed | %s received in %s (%.1f MB/s) | "
                 "%llu requests, %llu retries, %llu rate-limited\n",
                 label.c_str(), (unsigned long long)t.files, (unsigned long long)t.downloaded,
                 (unsigned long long)t.already_present, (unsigned long long)t.failed,
                 sp::cli::format_size(t.bytes_received).c_str(), sp::cli::format_duration(t.seconds).c_str(),
                 sp::mb_per_s(t.bytes_received, t.seconds), (unsigned long long)t.requests,
                 (unsigned long long)t.retries, (unsigned long long)t.rate_limited);
    if (shared && rank.world > 1) {
      std::string s = label + ": per rank:";
      for (size_t r = 0; r < per_rank.size(); ++r)
        s += (r ? " | " : " ") + std::to_string(r) + ": " + per_rank_files(per_rank[r]);
      std::fprintf(stderr, "%s\n", s.c_str());
    }
    if (t.rate_limited)
      std::fprintf(stderr, "%s: rate limited (%llu 429s): as few as %llu concurrent transfers (of --connections %d)%s\n",
                   label.c_str(), (unsigned long long)t.rate_limited,
                   static_cast<unsigned long long>(counters.lowest_concurrency.load()), opt.connections,
                   shared && rank.world > 1 ? " on rank 0" : "");
    for (const auto& text : failures_by_rank)
      for (size_t pos = 0; pos < text.size();) {
        const size_t nl = text.find('\n', pos);
        std::fprintf(stderr, "%s: %s\n", label.c_str(), text.substr(pos, nl - pos).c_str());
        pos = nl + 1;
      }
    if (t.failed)
      std::fprintf(stderr, "%s: %llu of %llu files failed; rerun the same command to resume%s\n", label.c_str(),
                   (unsigned long long)t.failed, (unsigned long long)t.files, sp::interrupted() ? " (interrupted)" : "");
  }
  const uint64_t failed = shared ? total.failed : mine.failed;
  if (sp::interrupted()) {
    job.finish();  // every rank got the signal and stops here together
    sp::throw_if_interrupted();
  }
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_download", run, argc, argv); }
