// sp_download: fetches the files of a manifest (or a built-in SlimPajama
// manifest) into a directory; the ranks of an mpirun job draw files from one
// queue (sp/job.h), processes with only RANK/WORLD_SIZE take a size-balanced
// share. The job is sp/download_job.h; this file parses flags into its options.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "sp/cli.h"
#include "sp/download_job.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/job.h"
#include "sp/manifest.h"
#include "sp/progress.h"

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

  sp::DownloadJobOptions o;
  o.manifest = std::move(all);
  if (args.has("rank") || args.has("world-size")) {
    if (!args.has("rank") || !args.has("world-size")) throw sp::UsageError("--rank and --world-size go together");
    sp::RankInfo given;
    given.rank = static_cast<int>(args.get_int("rank", 0));
    given.world = static_cast<int>(args.get_int("world-size", 1));
    if (given.world < 1 || given.rank < 0 || given.rank >= given.world)
      throw sp::UsageError("--rank " + std::to_string(given.rank) + " is out of range for --world-size " +
                           std::to_string(given.world));
    given.source = "--rank/--world-size";
    o.rank = given;
  }
  o.quiet = args.flag("quiet");
  o.dry_run = args.flag("dry-run");
  if (o.dry_run) return sp::run_download_job(o);  // a dry run needs none of the transfer or progress flags

  if (!args.has("output-dir")) throw sp::UsageError("--output-dir is required");
  if (args.has("report")) {
    o.report = args.get("report");
    if (o.report.empty()) throw sp::UsageError("--report: expected a file name");
  }
  sp::DownloadOptions& opt = o.download;
  opt.output_dir = args.get("output-dir");
  while (opt.output_dir.size() > 1 && opt.output_dir.back() == '/') opt.output_dir.pop_back();
  opt.connections = static_cast<int>(args.get_int("connections", 16));
  opt.retries = static_cast<int>(args.get_int("retries", 10));
  opt.stall_timeout_s = args.get_double("stall-timeout", 60);
  opt.connect_timeout_s = args.get_double("connect-timeout", 30);
  opt.retry_base_delay_s = args.get_double("retry-base-delay", 1);
  opt.max_retry_wait_s = args.get_double("max-retry-wait", 600);
  opt.max_requests_per_second = args.get_double("max-requests-per-second", 0);  // the job's; each rank takes 1/W
  opt.verify_existing = args.flag("verify-existing");
  opt.adopt_existing = args.flag("adopt-existing");
  opt.use_linked_etag = !args.flag("no-linked-etag");
  if (opt.connections < 1 || opt.connections > 1024) throw sp::UsageError("--connections must be between 1 and 1024");
  if (opt.retries < 0) throw sp::UsageError("--retries must be >= 0");
  if (opt.stall_timeout_s < 1) throw sp::UsageError("--stall-timeout must be at least 1 second");
  if (opt.connect_timeout_s <= 0 || opt.retry_base_delay_s < 0 || opt.max_retry_wait_s < 0 ||
      opt.max_requests_per_second < 0)
    throw sp::UsageError("timeouts, delays and rates must not be negative");
  opt.ca_cert = ca_cert(args);
  if (const char* tok = std::getenv("HF_TOKEN"); tok && *tok) opt.bearer_token = tok;
  else if (const char* tok2 = std::getenv("HUGGING_FACE_HUB_TOKEN"); tok2 && *tok2) opt.bearer_token = tok2;
  sp::apply_progress_flags(args, o.progress);
  o.per_rank_progress = args.flag("progress-per-rank");
  return sp::run_download_job(o);
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_download", run, argc, argv); }
