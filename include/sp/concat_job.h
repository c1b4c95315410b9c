// sp_concat's whole job, given its options: list the *.jsonl inputs, plan
// (or follow the pinned plan), sweep stale temporaries, write the chunks
// shared over ranks and threads, and report one summary for the job.
//
// Guarantees: run_concat_job reads no argv and takes every decision from its
// options; it prints what sp_concat prints (notices, errors, the summary on
// the reporting process) and returns the exit status: 0 when every chunk was
// written or kept, 1 when any failed (each named on stderr, then a count).
// Bad input or IO outside a chunk throws Error, a bad option UsageError; a
// signal is reported in the summary, then thrown as Interrupted after every
// rank stopped (run_tool turns each into its exit status). The chunks' bytes
// do not depend on the rank count, thread count or timing.
#pragma once

#include "sp/concat.h"
#include "sp/progress.h"

namespace sp {

struct ConcatJobOptions {
  ConcatPlanOptions plan;   // input_dir, output_dir, prefix, and target_size or files_per_chunk
  ConcatOptions chunk;      // remove_source, overwrite, checkpoint_bytes
  int threads = 1;          // chunks written at once in this process (already resolved: >= 1)
  bool quiet = false;       // no notices and no summary (errors and warnings still print)
  bool dry_run = false;     // print the plan on stdout (rank 0) and write nothing
  ProgressOptions progress; // mode and interval; label and item name are the job's
  bool per_rank_progress = false;
};

// The job as above; the exit status.
int run_concat_job(const ConcatJobOptions& options);

}  // namespace sp
