// One job over many processes: which rank this is, how the job's tasks are
// shared between the ranks, and one view of its progress and totals.
//
// Guarantees: a process started by an MPI launcher (mpirun/mpiexec, bcprun
// --array-type MPI, srun --mpi=pmix: OMPI_COMM_WORLD_SIZE, PMIX_RANK or
// PMI_RANK in its environment) initialises MPI, and the ranks draw tasks,
// largest first, from one counter on rank 0 (MPI one-sided atomics), so a
// rank that finishes early takes more. A process with only RANK/WORLD_SIZE
// (bcprun --array-type PYTORCH, torchrun) or SLURM_PROCID takes a static
// size-balanced share (sp/rank.h shard_by_size) and talks to no other; a
// process alone takes every task. SP_NO_MPI=1 in the environment keeps MPI
// out (a tool started by a program that is itself an MPI rank): the
// launcher's rank variables then give a static share. Which rank runs a task must never change
// what the task writes: outputs are then the same bytes whatever the rank
// count or timing. Every rank of an MPI job calls the collective functions
// (run_job_tasks, Job::sum, Job::max, Job::gather) in the same order; a rank
// that fails outside a task ends the whole job through run_tool (MPI_Abort
// with the tool's exit status), so no rank waits forever for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sp/interrupt.h"
#include "sp/progress.h"
#include "sp/rank.h"

namespace sp {

struct JobTasksOptions {
  int threads = 1;  // tasks run at once in this process
  // Worker threads each task may use for its own parallel work (oneTBB): the
  // run's arena holds threads * threads_per_task. sp_tokenize runs one task at
  // a time with every worker inside it (its pipeline is parallel already).
  int threads_per_task = 1;
  // false: run_task counts its own items in `progress` (sp_tokenize: documents),
  // so the line shows no total for them.
  bool items_are_tasks = true;
  // The progress line: label and item name as the tool wants them; totals
  // are filled in here. Under MPI, rank 0 shows the whole job (its bytes,
  // tasks, rate, ETA and the slowest rank) and the other ranks show nothing
  // unless per_rank_progress.
  ProgressOptions progress;
  bool per_rank_progress = false;
};

struct JobTasksResult {
  std::vector<size_t> ran;           // the tasks this rank ran (or started, when interrupted), in claim order
  std::optional<Interrupted> stop;   // a signal cut the run short: report, then throw it
  double seconds = 0;                // wall time of the run on this rank
};

class Job {
 public:
  Job();   // detects the rank; initialises MPI when an MPI launcher started this process
  // A rank given by the user (sp_download --rank/--world-size): a static
  // share, and MPI stays out of it.
  explicit Job(const RankInfo& given);
  // Finalises MPI, unless an exception is on its way to run_tool, which then
  // ends the whole job. A tool that reports an interruption and then throws
  // it calls finish() first: every rank got the signal and stops together.
  ~Job();
  void finish();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  const RankInfo& rank() const;
  bool uses_mpi() const;
  bool is_root() const { return rank().rank == 0; }

  // Collective under MPI (else the identity): element-wise sums over the
  // ranks, on every rank; the largest value; every rank's text in rank order
  // on rank 0 (an empty vector on the others).
  std::vector<uint64_t> sum(std::vector<uint64_t> values) const;
  double max(double value) const;
  std::vector<std::string> gather(const std::string& text) const;

  struct State;  // MPI state (src/job.cc)

 private:
  friend class JobTaskQueue;
  std::unique_ptr<State> state_;
};

// The sharing of run_job_tasks for a tool that runs its own loop instead of
// one call per task (sp_download's transfer engine): construct it (collective
// under MPI), claim() tasks as room frees up, count work in progress(), then
// finish() (collective). The same order, the same progress line, the same
// static share without MPI. It also carries one job-wide deadline: a rank
// that must pause (a server's 429 and Retry-After) shares the time, and every
// rank sees the latest one within a fraction of a second.
class JobTaskQueue {
 public:
  JobTaskQueue(Job& job, std::span<const uint64_t> sizes, const JobTasksOptions& options);
  ~JobTaskQueue();
  JobTaskQueue(const JobTaskQueue&) = delete;
  JobTaskQueue& operator=(const JobTaskQueue&) = delete;

  // The next task for this rank, largest first; none once every task is
  // taken or a signal arrived. Thread-safe.
  std::optional<size_t> claim();
  Progress& progress();
  // Shares "no new work before this Unix time" with the job; pause_until()
  // is the latest any rank shared (this one's at once, others' as last read).
  void share_pause_until(double unix_time);
  double pause_until() const;
  // Stops the progress line and ends the sharing (collective under MPI):
  // the tasks this rank claimed, in claim order, and its wall time.
  JobTasksResult finish();

  struct Shared;  // MPI windows (src/job.cc)

 private:
  Job& job_;
  std::vector<size_t> order_, local_;
  std::unique_ptr<Progress> progress_;  // before shared_: its publishing thread reads progress_
  std::unique_ptr<Shared> shared_;
  std::atomic<size_t> next_local_{0};
  std::atomic<double> pause_until_{0};
  std::mutex claimed_mu_;
  std::vector<size_t> claimed_;
  bool finished_ = false;
};

// Runs run_task(i, progress) once for each task i in [0, sizes.size()) that
// this rank gets (see the guarantees above), up to options.threads at a time
// on oneTBB, inside an arena of options.threads * options.threads_per_task.
// run_task reports its bytes and items to `progress` and must not
// throw for a failure of its task (it records it); an exception ends the run
// and is rethrown. After a signal no new task starts; the running ones finish
// or stop at their next poll. Collective under MPI.
JobTasksResult run_job_tasks(Job& job, std::span<const uint64_t> sizes, const JobTasksOptions& options,
                             const std::function<void(size_t task, Progress& progress)>& run_task);

// The end of a job, the same for every tool: this rank's counts summed over
// the ranks, the slowest rank's wall time, and each rank's own one-line
// figures (and any text it must pass on, e.g. failures) on the process that
// reports. Collective under MPI; without MPI each process reports for itself.
struct JobEnd {
  std::vector<uint64_t> totals;      // sums over the ranks (on every rank)
  double seconds = 0;                // the slowest rank's wall time
  bool reports = true;               // this process prints the summary and writes the job's files
  std::vector<std::string> per_rank; // each rank's line, in rank order (on the reporting process)
  std::vector<std::string> notes;    // each rank's notes, in rank order (on the reporting process)
  // "<label>: per rank: 0: ... | 1: ..." for a job of several MPI ranks, else "".
  std::string per_rank_line(const std::string& label) const;
};
JobEnd end_job(Job& job, const std::vector<uint64_t>& counts, double seconds, const std::string& rank_line,
               const std::string& notes = "");

// Task indices, largest first, ties by index: the order the ranks of an MPI job draw in.
std::vector<size_t> largest_first(std::span<const uint64_t> sizes);

// The --progress-per-rank flag, spelled the same way in every tool that shares tasks.
std::vector<cli::Option> with_job_flags(std::vector<cli::Option> options);

}  // namespace sp
