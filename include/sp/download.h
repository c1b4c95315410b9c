// Verified, resumable, rate-limit-aware downloading of many files over HTTP(S)
// with libcurl's multi interface (one thread, many concurrent transfers).
//
// Guarantees: bytes go to "<final>.part"; a file reaches its final name only
// after its size (manifest, X-Linked-Size or Content-Length) and its SHA-256
// (manifest or the Hub's X-Linked-Etag, when known) match, via fsync+rename.
// So a final name never holds a partial or unverified file, whatever happens to
// the process.
//
// A ".part" is resumed (Range), in this run or a later one, only when its bytes
// provably come from the object the server has now: the validators of the
// answer that started it (strong ETag, Last-Modified, X-Linked-Etag, total size)
// are kept in "<final>.part.meta", sent back as If-Range, and compared with the
// 206 answer; a 200 answer, any difference, or no validator at all (and no
// SHA-256 in the manifest to catch a wrong join) starts the file over. So an
// old head is never joined to a new tail. A file that fails for good leaves
// no ".part"/".part.meta" unless they hold bytes a later run can resume.
//
// Failures: 429/408/5xx, connection faults (resets, stalls, short bodies,
// garbage where a response should start, e.g. bytes left past the previous
// answer's Content-Length) are retried, after a transport fault on a fresh
// connection; 4xx, redirect loops and TLS certificate failures are permanent
// (a certificate does not heal by waiting).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sp/manifest.h"

namespace sp {

struct DownloadOptions {
  std::string output_dir = ".";
  // Most concurrent transfers in this process. The engine runs fewer while
  // the server pushes back: a 429 halves the number it starts (down to 1, at
  // most once per pause), and each finished file adds 1/n back up to this
  // (additive increase, multiplicative decrease, as TCP does).
  int connections = 16;
  int retries = 10;                    // failed attempts allowed per file after the first
  double stall_timeout_s = 60;         // abort a transfer that receives no byte for this long
  double connect_timeout_s = 30;
  double retry_base_delay_s = 1.0;     // exponential backoff: base * 2^(n-1), with jitter
  double max_retry_wait_s = 600;       // cap on any wait, including Retry-After
  double max_requests_per_second = 0;  // new requests from this process; 0 = no cap (a 1/W share: sp/download_job.h)
  int max_redirects = 10;
  bool verify_existing = false;        // re-hash files already at their final name
  bool adopt_existing = false;         // keep files at their final name that have no completion record
  bool use_linked_etag = true;         // trust the Hub's X-Linked-Etag/X-Linked-Size
  std::string bearer_token;            // sent only to the manifest URL's own origin
  std::string ca_cert;                 // CA certificates (PEM) to verify TLS servers; "" = libcurl's default
  std::string user_agent;              // "sp_download/<version>" when empty
};

// kNotTaken: another rank of the job claimed the entry (DownloadHooks::claim).
enum class FileOutcome { kDownloaded, kAlreadyPresent, kFailed, kNotTaken };
const char* outcome_name(FileOutcome o);

struct FileResult {
  FileOutcome outcome = FileOutcome::kFailed;
  uint64_t size = 0;            // final size (done files)
  uint64_t bytes_received = 0;  // body bytes received this run
  uint64_t resumed_from = 0;    // size of the .part the first request resumed from
  int requests = 0;             // HTTP requests made, redirect hops included
  int retries = 0;              // attempts that failed and were retried
  long last_http_status = 0;
  std::string sha256;           // when computed (hash known or --verify-existing)
  std::string error;            // why it failed (kFailed only)
};

// Live counters for progress lines; updated by the download thread.
struct DownloadCounters {
  std::atomic<uint64_t> files_done{0}, files_failed{0}, bytes{0}, requests{0}, retries{0},
      rate_limited{0}, in_flight{0};
  std::atomic<uint64_t> concurrency{0}, lowest_concurrency{0};  // transfers allowed now, and the fewest so far
  std::atomic<double> pause_left_s{0};  // seconds left of a whole-process pause after a 429
};

struct DownloadHooks {
  // Called with body bytes as they arrive and once per finished file.
  std::function<void(uint64_t bytes, uint64_t files)> on_progress;
  // Called when a total size becomes known from a response (unknown in the manifest).
  std::function<void(uint64_t bytes)> on_total_learned;
  // Called once per retried or failed attempt, for logs ("url: reason; retry in 2.0 s").
  std::function<void(const std::string& line)> on_event;
  // Polled between events; when it returns true the run stops early, leaving
  // ".part" files for the next run (their entries are reported as failed).
  std::function<bool()> should_stop;
  // When set, entries are taken only through it, one at a time as a transfer
  // slot frees up (a job's shared queue, sp/job.h); entries it never returns
  // come back as kNotTaken. Unset: every entry is this process's.
  std::function<std::optional<size_t>()> claim;
  // A job-wide pause: the engine shares the Unix time before which it starts
  // no request after a 429/Retry-After, and polls the job's latest one.
  std::function<void(double unix_time)> share_pause_until;
  std::function<double()> job_pause_until;
};

// Downloads entries (this rank's share, or the job's list with hooks.claim)
// under options.output_dir and returns one result per entry, in the same order. Never throws for a
// per-file failure; throws Error only for setup problems (libcurl init).
std::vector<FileResult> download_all(const std::vector<ManifestEntry>& entries, const DownloadOptions& options,
                                     DownloadCounters& counters, const DownloadHooks& hooks = {});

// Seconds to wait before retry number `failures` (1-based) with "full jitter"
// in [d/2, d], d = min(cap, base * 2^(failures-1)); `unit` in [0,1) picks the
// point (a random draw in production, fixed in tests).
double backoff_delay(int failures, double base_s, double cap_s, double unit);

// Server-requested wait from the Retry-After (seconds or HTTP date) or
// RateLimit ("...;t=SECONDS" / "reset=SECONDS") header values; -1 when neither
// says. now_epoch is the current Unix time, for the HTTP-date form.
double server_retry_wait(const std::string& retry_after, const std::string& ratelimit, double now_epoch);

// "scheme://host:port" in lower case, the unit of trust for the bearer token;
// "" when the URL cannot be parsed.
std::string url_origin(const std::string& url);

// Totals of a run (one rank's or, summed, the job's), for summaries and reports.
struct DownloadTotals {
  uint64_t files = 0, downloaded = 0, already_present = 0, failed = 0, bytes_received = 0;
  uint64_t requests = 0, retries = 0, rate_limited = 0;
  double seconds = 0;  // wall time (the job's: its slowest rank's)
  std::vector<uint64_t> counts() const;  // the integer fields in order, for sums over ranks
  static DownloadTotals from_counts(const std::vector<uint64_t>& counts, double seconds);
};
DownloadTotals download_totals(const std::vector<FileResult>& results, const DownloadCounters& counters,
                               double seconds);
// The totals as JSON members ("\"files_total\": 3, ..."), without braces.
std::string download_totals_json(const DownloadTotals& totals);
// One file's object of the report ({"url": ..., "status": ...}).
std::string download_file_json(const ManifestEntry& entry, const FileResult& result);

// Writes the report (atomically): the totals at the top level, then the
// ranks' own totals when there are several ("ranks": [...], each with its
// "rank"), then every file's object in manifest order.
void write_download_report(const std::string& path, const DownloadTotals& totals, int world,
                           const std::vector<std::string>& rank_totals_json, const std::vector<std::string>& files_json);

}  // namespace sp
