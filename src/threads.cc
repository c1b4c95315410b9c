#include "sp/threads.h"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <string>

#include "sp/error.h"

namespace sp {

static long env_positive(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return (*end == '\0' && x > 0) ? x : 0;
}

int default_threads() {
  long cpus = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus <= 0) cpus = 1;
  long local = 0;
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE"})
    if ((local = env_positive(name)) > 0) break;
  // An affinity mask already narrowed to this rank's share needs no division.
  if (local > 1 && cpus >= local) cpus /= local;
  return static_cast<int>(cpus < 1 ? 1 : cpus);
}

int resolve_threads(long requested) {
  if (requested < 0) throw UsageError("--threads: expected a number >= 0, got " + std::to_string(requested));
  return requested > 0 ? static_cast<int>(requested) : default_threads();
}

void parallel_for_each_index(size_t n, const std::function<void(size_t)>& body) {
  tbb::task_group_context own(tbb::task_group_context::isolated);
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, n, 1),
      [&](const tbb::blocked_range<size_t>& r) {
        for (size_t i = r.begin(); i != r.end(); ++i) body(i);
      },
      own);
  if (own.is_group_execution_cancelled()) throw Error("internal: a parallel loop was cancelled before it finished");
}

struct WorkerThreadsJoin::Handle {
  tbb::task_scheduler_handle tbb{tbb::attach{}};
  bool joined = false;
};

WorkerThreadsJoin::WorkerThreadsJoin() : handle_(new Handle) {}

WorkerThreadsJoin::~WorkerThreadsJoin() {
  // Skipped (other handles or threads still in oneTBB): the workers stay, as oneTBB leaves them.
  if (handle_->tbb) join();
}

bool WorkerThreadsJoin::join(int exit_status) {
  if (!handle_->tbb) return handle_->joined;
  // The join runs here (oneTBB joins only from the thread that used it); a
  // watchdog ends the process if it never returns.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lk(mu);
    if (!cv.wait_for(lk, std::chrono::duration<double>(kJoinSeconds), [&] { return done; })) {
      std::fflush(nullptr);
      std::_Exit(exit_status);
    }
  });
  handle_->joined = tbb::finalize(handle_->tbb, std::nothrow);
  {
    std::lock_guard<std::mutex> lk(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
  if (handle_->tbb) handle_->tbb.release();
  return handle_->joined;
}

}  // namespace sp
