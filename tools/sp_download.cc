// sp_download: fetches the files of a manifest (or a built-in SlimPajama
// manifest) into a directory; each rank of an mpirun/bcprun job takes its own
// size-balanced share. All the work is in sp/download.h; this file parses
// flags, picks the share, shows progress and reports.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sp/cli.h"
#include "sp/download.h"
#include "sp/error.h"
#include "sp/interrupt.h"
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
      sp::with_output_flags(sp::with_progress_flags({
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
                                           "token: 15 keeps a job of any size under it.", "0"},
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
          {"rank", "R", "This process's rank (default: from OMPI_COMM_WORLD_RANK, RANK, PMIX_RANK, SLURM_PROCID)."},
          {"world-size", "W", "Number of processes sharing the manifest (with --rank)."},
          {"report", "FILE", "Write per-file status as JSON. '{rank}' in the name is replaced by the rank; with "
                             "several ranks and no '{rank}', '.rank<R>' is appended."},
          {"dry-run", "", "Print this rank's share as manifest lines and exit without downloading."},
      })),
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
      "Exit status: 0 when every file of this rank's share is present, 1 otherwise (each failure is named).\n"
      "\n"
      "Examples:\n"
      "  sp_download --print-manifest slimpajama:validation > val.tsv\n"
      "  sp_download --manifest val.tsv --output-dir /workspace/slimpajama --report report.json\n"
      "  mpirun -np 96 sp_download --manifest slimpajama:train --output-dir /workspace/slimpajama \\\n"
      "      --connections 8 --max-requests-per-second 10 --report /workspace/reports/dl-{rank}.json\n"
      "  RANK=0 WORLD_SIZE=2 sp_download --manifest files.tsv --output-dir out   # one of two processes\n",
  };
}

std::string report_path(std::string path, const sp::RankInfo& r) {
  const std::string key = "{rank}";
  if (auto pos = path.find(key); pos != std::string::npos) return path.replace(pos, key.size(), std::to_string(r.rank));
  if (r.world > 1) path += ".rank" + std::to_string(r.rank);
  return path;
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

  sp::RankInfo rank;
  if (args.has("rank") || args.has("world-size")) {
    if (!args.has("rank") || !args.has("world-size")) throw sp::UsageError("--rank and --world-size go together");
    rank.rank = static_cast<int>(args.get_int("rank", 0));
    rank.world = static_cast<int>(args.get_int("world-size", 1));
    if (rank.world < 1 || rank.rank < 0 || rank.rank >= rank.world)
      throw sp::UsageError("--rank " + std::to_string(rank.rank) + " is out of range for --world-size " + std::to_string(rank.world));
    rank.source = "--rank/--world-size";
  } else {
    rank = sp::detect_rank();
  }
  std::vector<uint64_t> sizes;
  sizes.reserve(all.size());
  for (const auto& e : all) sizes.push_back(e.size_known ? e.size : 0);
  std::vector<sp::ManifestEntry> mine;
  for (size_t i : sp::shard_by_size(sizes, rank.rank, rank.world)) mine.push_back(all[i]);

  if (args.flag("dry-run")) {
    for (const auto& e : mine) std::fputs((sp::format_manifest_line(e) + "\n").c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  if (!args.has("output-dir")) throw sp::UsageError("--output-dir is required");
  if (args.has("report")) sp::check_output_file_path(report_path(args.get("report"), rank), "--report");

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
  const std::string label = sp::rank_prefix(rank) + "sp_download";
  uint64_t known_bytes = 0;
  for (const auto& e : mine) known_bytes += e.size_known ? e.size : 0;
  if (!quiet)
    std::fprintf(stderr, "%s: %zu of %zu files for rank %d of %d (%s)%s -> %s\n", label.c_str(), mine.size(), all.size(),
                 rank.rank, rank.world, rank.source.c_str(),
                 known_bytes ? (", " + sp::cli::format_size(known_bytes)).c_str() : "", opt.output_dir.c_str());

  if (!quiet && job_requests_per_second > 0)
    std::fprintf(stderr, "%s: request budget %g/s for the job, %g/s for this rank\n", label.c_str(),
                 job_requests_per_second, opt.max_requests_per_second);
  sp::DownloadCounters counters;
  sp::ProgressOptions po;
  po.label = label;
  po.item_name = "files";
  po.total_items = mine.size();
  po.total_bytes = known_bytes;
  sp::apply_progress_flags(args, po);
  po.extra = [&counters] {
    std::string s = "active " + std::to_string(counters.in_flight.load()) + " | retries " + std::to_string(counters.retries.load());
    if (auto n = counters.rate_limited.load()) s += " | 429s " + std::to_string(n);
    if (counters.rate_limited.load()) s += " | connections " + std::to_string(counters.concurrency.load());
    if (auto n = counters.files_failed.load()) s += " | failed " + std::to_string(n);
    if (double p = counters.pause_left_s.load(); p > 0.5) s += " | paused " + sp::cli::format_duration(p);
    return s;
  };
  sp::Progress progress(po);

  sp::DownloadHooks hooks;
  hooks.on_progress = [&progress](uint64_t b, uint64_t f) { progress.add(b, f); };
  hooks.on_total_learned = [&progress](uint64_t b) { progress.add_total_bytes(b); };
  if (!quiet) hooks.on_event = [&label](const std::string& line) { std::fprintf(stderr, "%s: %s\n", label.c_str(), line.c_str()); };
  hooks.should_stop = sp::interrupted;  // run_tool installed the handlers; .part files stay for the rerun

  // Completion records are written under temporary names too: a kill -9 can
  // leave one (the .part files are resumed, not swept).
  std::vector<std::string> records;
  for (const auto& e : mine) records.push_back(sp::record_path_for(opt.output_dir + "/" + e.path));
  const sp::StaleTempSweep sweep = sp::remove_stale_temps(records);
  if (sweep.other_hosts) sp::print_warning(label, sweep.other_hosts_note());

  auto results = sp::download_all(mine, opt, counters, hooks);
  progress.finish();
  const double secs = progress.elapsed_seconds();

  size_t downloaded = 0, present = 0, failed = 0;
  uint64_t received = 0;
  for (const auto& r : results) {
    downloaded += r.outcome == sp::FileOutcome::kDownloaded;
    present += r.outcome == sp::FileOutcome::kAlreadyPresent;
    failed += r.outcome == sp::FileOutcome::kFailed;
    received += r.bytes_received;
  }
  if (args.has("report")) sp::write_download_report(report_path(args.get("report"), rank), mine, results, rank.rank, rank.world, secs);

  std::fprintf(stderr,
               "%s: %zu files: %zu downloaded, %zu already present, %zu failed | %s received in %s (%.1f MB/s) | "
               "%llu requests, %llu retries, %llu rate-limited\n",
               label.c_str(), results.size(), downloaded, present, failed, sp::cli::format_size(received).c_str(),
               sp::cli::format_duration(secs).c_str(), sp::mb_per_s(received, secs),
               static_cast<unsigned long long>(counters.requests.load()), static_cast<unsigned long long>(counters.retries.load()),
               static_cast<unsigned long long>(counters.rate_limited.load()));
  if (counters.rate_limited.load())
    std::fprintf(stderr, "%s: rate limited: as few as %llu concurrent transfers (of --connections %d)\n", label.c_str(),
                 static_cast<unsigned long long>(counters.lowest_concurrency.load()), opt.connections);
  for (size_t i = 0; i < results.size(); ++i)
    if (results[i].outcome == sp::FileOutcome::kFailed)
      std::fprintf(stderr, "%s: failed: %s (%s): %s\n", label.c_str(), mine[i].url.c_str(), mine[i].path.c_str(), results[i].error.c_str());
  if (failed) {
    std::fprintf(stderr, "%s: %zu of %zu files failed; rerun the same command to resume%s\n", label.c_str(), failed, results.size(),
                 sp::interrupted() ? " (interrupted)" : "");
    sp::throw_if_interrupted();
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_download", run, argc, argv); }
