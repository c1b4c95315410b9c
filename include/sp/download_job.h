// sp_download's whole job, given its options: share the manifest's files over
// the ranks (one queue under MPI, a size-balanced share otherwise), sweep
// stale completion-record temporaries, fetch, and report one summary (and the
// --report file) for the job.
//
// Guarantees: run_download_job reads no argv and no environment (the tool
// resolves the CA file and the token) and takes every decision from its
// options; it prints what sp_download prints and returns the exit status: 0
// when every file of the job (static shares: this rank's) is present, 1
// otherwise (each failure named on stderr). A report path that cannot be
// written throws UsageError before any transfer; a signal stops new work,
// keeps the .part files for the rerun, is reported, then thrown as
// Interrupted after every rank stopped (run_tool turns each into its exit
// status). Which rank fetches a file never changes its bytes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sp/download.h"
#include "sp/manifest.h"
#include "sp/progress.h"
#include "sp/rank.h"

namespace sp {

struct DownloadJobOptions {
  std::vector<ManifestEntry> manifest;  // every file of the job, as loaded
  // A rank given by the user (--rank/--world-size): a static share, no MPI.
  // Unset: the rank is detected (sp/job.h).
  std::optional<RankInfo> rank;
  // Print this rank's share of the manifest (under MPI, on rank 0, the whole
  // queue in drawing order) on stdout and fetch nothing.
  bool dry_run = false;
  // The transfers' options; max_requests_per_second is the whole job's
  // budget here (each of the W ranks gets 1/W of it).
  DownloadOptions download;
  // The JSON report ("" = none): under MPI one for the job, "{rank}" read as
  // "all"; with static shares one per rank ("{rank}" as the rank, else
  // ".rank<r>" appended when there are several).
  std::string report;
  bool quiet = false;       // no plan lines and no events (the summary and failures still print)
  ProgressOptions progress; // mode and interval; label, item name and extra text are the job's
  bool per_rank_progress = false;
};

// The job as above; the exit status.
int run_download_job(const DownloadJobOptions& options);

}  // namespace sp
