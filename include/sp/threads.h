// How many worker threads a process should use by default. On a BCP/MPI node
// several ranks share the cores (e.g. `bcprun --npernode 48` on 128 cores), so
// "all cores" per rank would oversubscribe the node many times over.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace sp {

// CPUs this process may run on (sched_getaffinity, so taskset/cgroup cpusets
// are honoured), divided by the number of ranks on this node when the launcher
// says (OMPI_COMM_WORLD_LOCAL_SIZE, LOCAL_WORLD_SIZE, SLURM_NTASKS_PER_NODE).
// Never less than 1.
int default_threads();

// `requested` when > 0, else default_threads(). Throws UsageError when < 0.
int resolve_threads(long requested);

// Runs body(i) for every i in [0, n) on the current oneTBB arena and returns
// only when every call has run. The loop gets its own isolated task group:
// when it is nested in another parallel loop (one chunk's checksum inside the
// loop over chunks) and another iteration of that loop throws, oneTBB would
// otherwise cancel this one too and return as if done, silently skipping
// work (a checksum of unread leaves, a verification that compared nothing).
// A body's exception is rethrown here.
void parallel_for_each_index(size_t n, const std::function<void(size_t)>& body);

// Held around a program's work (run_tool, the tests' main): its destructor
// joins oneTBB's worker threads, so none is still parked while the process
// runs its exit handlers. oneTBB leaves them alive by default, and an exit
// that raced them aborted in free() ("corrupted unsorted chunks") after every
// test had passed (aarch64 under qemu, CI). Joining is skipped, never waited
// on forever, when another thread or another of these still uses oneTBB.
// oneTBB 2021.8 can also wait forever inside the join itself, in a race with
// workers it is resizing (seen at exit after a tbb::global_control, so the
// tools limit threads with arenas); a join still waiting after kJoinSeconds
// ends the process with std::_Exit(exit_status), skipping the exit handlers
// the join was there to protect: a tool never hangs after its work is done.
class WorkerThreadsJoin {
 public:
  WorkerThreadsJoin();
  ~WorkerThreadsJoin();  // join() unless called

  static constexpr double kJoinSeconds = 10;
  // Joins now; true when no worker of oneTBB's is left, false when skipped.
  bool join(int exit_status = 1);
  WorkerThreadsJoin(const WorkerThreadsJoin&) = delete;
  WorkerThreadsJoin& operator=(const WorkerThreadsJoin&) = delete;

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

}  // namespace sp
