// sp_extract's whole job, given its options: find the *.zst sources, share
// them over ranks and threads, decompress each (swept of dead writers'
// temporaries first), and report one summary for the job.
//
// Guarantees: run_extract_job reads no argv and takes every decision from its
// options; it prints what sp_extract prints (notices, errors, the summary and
// the sorted list of failed sources on the reporting process) and returns the
// exit status: 0 when every file was extracted or kept, 1 when any failed (a
// failed file does not stop the others). Bad input or IO outside a file
// throws Error; a signal is reported in the summary, then thrown as
// Interrupted after every rank stopped (run_tool turns each into its exit
// status). Outputs do not depend on the rank count, thread count or timing.
#pragma once

#include <string>

#include "sp/extract.h"
#include "sp/progress.h"

namespace sp {

struct ExtractJobOptions {
  std::string input_dir;    // searched recursively for *.zst
  std::string output_dir;   // "" = beside each source
  ExtractOptions extract;   // validate, remove_source, overwrite, checkpoint_bytes
  int threads = 1;          // files decompressed at once in this process (already resolved: >= 1)
  bool quiet = false;       // no notices and no summary (errors and warnings still print)
  ProgressOptions progress; // mode and interval; label, item name and extra text are the job's
  bool per_rank_progress = false;
};

// The job as above; the exit status.
int run_extract_job(const ExtractJobOptions& options);

}  // namespace sp
