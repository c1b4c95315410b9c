#include "sp/job.h"

#if SP_HAVE_MPI
// The C API only: OpenMPI's mpi.h otherwise pulls in the removed C++ bindings,
// which live in a library we do not link.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>

#include "sp/error.h"
#include "sp/failpoint.h"

#if defined(__SANITIZE_ADDRESS__)
#define SP_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SP_LEAK_CHECK 1
#endif
#endif
#ifdef SP_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

namespace sp {

// Notes on the MPI side:
// - MPI_THREAD_SERIALIZED, every call under State::mu: worker threads draw
//   tasks, one thread publishes progress, the main thread runs collectives.
// - Tasks come from one int64 counter in a window on rank 0, drawn with
//   MPI_Fetch_and_op inside a lock_all epoch: no rank has to serve requests.
//   Where the one-sided layer needs the target's help (OpenMPI's pt2pt over
//   TCP), rank 0's publisher thread enters MPI every kPollSeconds.
// - Progress: each rank puts its (bytes, items) into its own slot of a
//   second window on rank 0 every kPublishSeconds; rank 0 reads the array
//   back. No collective runs while tasks do, so a rank with one huge task
//   delays nobody.
// - Errors: MPI's default handler (errors are fatal) ends the job with a
//   message; an exception out of a tool's body ends it through run_tool's
//   failure hook (MPI_Abort), since the other ranks would wait for this one.
namespace {

constexpr double kPublishSeconds = 0.25;
constexpr double kPollSeconds = 0.02;

// SP_NO_MPI=1 opts out: a tool run as a child of an MPI rank (a driver script
// under mpirun) inherits the launcher's variables, but is not a rank itself.
bool launched_by_mpi() {
  if (const char* v = std::getenv("SP_NO_MPI"); v && *v && std::string(v) != "0") return false;
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (const char* v = std::getenv(name); v && *v) return true;
  return false;
}

#if SP_HAVE_MPI
std::atomic<bool> g_mpi_active{false};  // initialised, not finalised

void abort_mpi_job(int status) {
  if (!g_mpi_active.load()) return;
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
}
#endif

// Task indices, largest first, ties by index: the order every rank draws in.
std::vector<size_t> largest_first(std::span<const uint64_t> sizes) {
  std::vector<size_t> order(sizes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
  return order;
}

}  // namespace

struct Job::State {
  RankInfo rank;
  bool mpi = false;
  bool finished = false;
  std::mutex mu;
};

Job::Job() : state_(new State) {
  if (!launched_by_mpi()) {
    state_->rank = detect_rank();
    return;
  }
#if !SP_HAVE_MPI
  // A build without MPI (the aarch64 cross build's tests): the launcher's
  // rank variables give a fixed share, as for RANK/WORLD_SIZE.
  state_->rank = detect_rank();
#else
  int provided = 0;
#ifdef SP_LEAK_CHECK
  __lsan_disable();  // what MPI_Init allocates lives as long as the process, by OpenMPI's design
#endif
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
#ifdef SP_LEAK_CHECK
  __lsan_enable();
#endif
  g_mpi_active = true;
  set_failure_exit_hook(abort_mpi_job);
  if (provided < MPI_THREAD_SERIALIZED)
    throw Error("this MPI library cannot take calls from several threads (MPI_THREAD_SERIALIZED)");
  int rank = 0, world = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  state_->mpi = true;
  state_->rank = RankInfo{rank, world, "MPI"};
#endif
}

Job::~Job() {
  if (std::uncaught_exceptions() > 0) return;  // run_tool reports it, then its hook ends the job
  finish();
}

void Job::finish() {
  if (!state_->mpi || state_->finished) return;
  state_->finished = true;
#if SP_HAVE_MPI
#ifdef SP_LEAK_CHECK
  // The sanitizer build checks our leaks now, while MPI's own state is still
  // reachable: OpenMPI leaks by design at MPI_Finalize, partly from plugins it
  // then unloads (no suppression can name them). The exit check is skipped.
  __lsan_do_leak_check();
#endif
  MPI_Finalize();
  g_mpi_active = false;
#endif
}

const RankInfo& Job::rank() const { return state_->rank; }
bool Job::uses_mpi() const { return state_->mpi; }

std::vector<uint64_t> Job::sum(std::vector<uint64_t> values) const {
  if (!state_->mpi || values.empty()) return values;
#if SP_HAVE_MPI
  std::lock_guard<std::mutex> lk(state_->mu);
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
#endif
  return values;
}

double Job::max(double value) const {
  if (!state_->mpi) return value;
#if SP_HAVE_MPI
  std::lock_guard<std::mutex> lk(state_->mu);
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#endif
  return value;
}

std::vector<std::string> Job::gather(const std::string& text) const {
  if (!state_->mpi) return {text};
#if !SP_HAVE_MPI
  return {text};
#else
  std::lock_guard<std::mutex> lk(state_->mu);
  const int world = state_->rank.world, root = state_->rank.rank == 0;
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(root ? world : 0), offsets(root ? world : 0);
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::string all;
  if (root) {
    for (int r = 0; r < world; ++r) offsets[r] = r ? offsets[r - 1] + lengths[r - 1] : 0;
    all.resize(static_cast<size_t>(offsets.back() + lengths.back()));
  }
  MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0,
              MPI_COMM_WORLD);
  std::vector<std::string> out;
  for (int r = 0; root && r < world; ++r) out.push_back(all.substr(offsets[r], lengths[r]));
  return out;
#endif
}

std::vector<cli::Option> with_job_flags(std::vector<cli::Option> options) {
  options.push_back({"progress-per-rank", "",
                     "Under MPI, every rank prints its own progress line too (default: rank 0 prints one line for "
                     "the whole job)."});
  return options;
}

#if SP_HAVE_MPI
namespace {

// The two windows on rank 0 of an MPI run and the thread that publishes this
// rank's progress into them (and, on rank 0, reads the job's back).
class SharedRun {
 public:
  SharedRun(Job::State& state, const RankInfo& rank) : state_(state), rank_(rank) {
    const bool root = rank.rank == 0;
    std::lock_guard<std::mutex> lk(state_.mu);
    MPI_Win_allocate(root ? sizeof(int64_t) : 0, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &counter_,
                     &counter_win_);
    const MPI_Aint slots = root ? 2 * static_cast<MPI_Aint>(rank.world) : 0;
    MPI_Win_allocate(slots * 8, 8, MPI_INFO_NULL, MPI_COMM_WORLD, &slots_, &slots_win_);
    if (root) {  // zeroed in an epoch of its own, before anyone draws or publishes
      MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, counter_win_);
      *counter_ = 0;
      MPI_Win_unlock(0, counter_win_);
      MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, slots_win_);
      std::memset(slots_, 0, static_cast<size_t>(slots) * 8);
      MPI_Win_unlock(0, slots_win_);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_lock_all(0, counter_win_);
    MPI_Win_lock_all(0, slots_win_);
  }

  ~SharedRun() {
    stop_publishing();
    // A task threw: run_tool's hook is about to end the job; freeing the
    // windows (collective) would first wait for every other rank's tasks.
    if (std::uncaught_exceptions() > 0) return;
    std::lock_guard<std::mutex> lk(state_.mu);
    MPI_Win_unlock_all(slots_win_);
    MPI_Win_unlock_all(counter_win_);
    MPI_Win_free(&slots_win_);
    MPI_Win_free(&counter_win_);
  }

  int64_t draw() {
    const int64_t one = 1;
    int64_t got = 0;
    std::lock_guard<std::mutex> lk(state_.mu);
    MPI_Fetch_and_op(&one, &got, MPI_INT64_T, 0, 0, MPI_SUM, counter_win_);
    MPI_Win_flush(0, counter_win_);
    return got;
  }

  void start_publishing(const Progress* progress) {
    progress_ = progress;
    thread_ = std::thread([this] { publish_loop(); });
  }

  void stop_publishing() {
    {
      std::lock_guard<std::mutex> lk(stop_mu_);
      stop_ = true;
    }
    stop_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Rank 0: the job's counts as last read, and its slowest rank.
  void job_counts(uint64_t& bytes, uint64_t& items) const {
    bytes = job_bytes_.load(std::memory_order_relaxed);
    items = job_items_.load(std::memory_order_relaxed);
  }
  std::string slowest() const {
    std::lock_guard<std::mutex> lk(slowest_mu_);
    return slowest_;
  }

 private:
  void publish_loop() {
    const auto start = std::chrono::steady_clock::now();
    auto next_publish = start;
    std::vector<uint64_t> mine(2), all(rank_.rank == 0 ? 2 * static_cast<size_t>(rank_.world) : 0);
    std::unique_lock<std::mutex> stop_lk(stop_mu_);
    for (bool last = false; !last;) {
      last = stop_cv_.wait_for(stop_lk, std::chrono::duration<double>(rank_.rank == 0 ? kPollSeconds : kPublishSeconds),
                               [this] { return stop_; });
      const auto now = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lk(state_.mu);
      if (rank_.rank == 0 && now < next_publish && !last) {
        int flag = 0;  // rank 0 between publications: let MPI progress others' one-sided requests
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        continue;
      }
      next_publish = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(kPublishSeconds));
      mine = {progress_->bytes(), progress_->items()};
      MPI_Put(mine.data(), 2, MPI_UINT64_T, 0, 2 * static_cast<MPI_Aint>(rank_.rank), 2, MPI_UINT64_T, slots_win_);
      MPI_Win_flush(0, slots_win_);
      if (rank_.rank != 0) continue;
      MPI_Get(all.data(), static_cast<int>(all.size()), MPI_UINT64_T, 0, 0, static_cast<int>(all.size()),
              MPI_UINT64_T, slots_win_);
      MPI_Win_flush(0, slots_win_);
      uint64_t bytes = 0, items = 0;
      int slow = 0;
      for (int r = 0; r < rank_.world; ++r) {
        bytes += all[2 * r], items += all[2 * r + 1];
        if (all[2 * r] < all[2 * slow]) slow = r;
      }
      job_bytes_ = bytes, job_items_ = items;
      const double t = std::chrono::duration<double>(now - start).count();
      char buf[96];
      std::snprintf(buf, sizeof buf, "%d ranks | slowest rank %d (%.1f MB/s)", rank_.world, slow,
                    mb_per_s(all[2 * slow], t));
      std::lock_guard<std::mutex> slk(slowest_mu_);
      slowest_ = buf;
    }
  }

  Job::State& state_;
  RankInfo rank_;
  int64_t* counter_ = nullptr;
  uint64_t* slots_ = nullptr;
  MPI_Win counter_win_ = MPI_WIN_NULL, slots_win_ = MPI_WIN_NULL;
  const Progress* progress_ = nullptr;
  std::thread thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::atomic<uint64_t> job_bytes_{0}, job_items_{0};
  mutable std::mutex slowest_mu_;
  std::string slowest_;
};

}  // namespace

#endif  // SP_HAVE_MPI

JobTasksResult run_job_tasks(Job& job, std::span<const uint64_t> sizes, const JobTasksOptions& options,
                             const std::function<void(size_t, Progress&)>& run_task) {
  const RankInfo& rank = job.rank();
  const std::vector<size_t> order = largest_first(sizes);
  const bool shared = job.uses_mpi();
  std::vector<size_t> local;  // without MPI: this rank's static share, largest first
  if (!shared) {
    std::vector<char> mine(sizes.size(), 0);
    for (size_t i : shard_by_size(sizes, rank.rank, rank.world)) mine[i] = 1;
    for (size_t i : order)
      if (mine[i]) local.push_back(i);
  }
  ProgressOptions po = options.progress;
  po.total_bytes = 0;
  for (size_t i : shared ? order : local) po.total_bytes += sizes[i];
  po.total_items = !options.items_are_tasks ? 0 : shared ? order.size() : local.size();

#if SP_HAVE_MPI
  std::unique_ptr<SharedRun> run;
  if (shared) {
    run = std::make_unique<SharedRun>(*job.state_, rank);
    if (rank.rank == 0) {
      SharedRun* r = run.get();
      po.job_counts = [r](uint64_t& bytes, uint64_t& items) { r->job_counts(bytes, items); };
      auto tool_extra = po.extra;
      po.extra = [r, tool_extra] {
        std::string s = tool_extra ? tool_extra() : "";
        const std::string slow = r->slowest();
        return s.empty() ? slow : slow.empty() ? s : s + " | " + slow;
      };
    } else if (options.per_rank_progress) {
      po.total_bytes = 0, po.total_items = 0;  // this rank's share is not known in advance
    } else {
      po.mode = ProgressMode::kOff;
    }
  }
#endif

  JobTasksResult result;
  std::mutex ran_mu;
  std::atomic<size_t> next_local{0};
  auto claim = [&]() -> std::optional<size_t> {
    if (interrupted()) return std::nullopt;
    if (!shared) {
      const size_t k = next_local++;
      return k < local.size() ? std::optional<size_t>(local[k]) : std::nullopt;
    }
#if SP_HAVE_MPI
    const int64_t k = run->draw();
    return k < static_cast<int64_t>(order.size()) ? std::optional<size_t>(order[static_cast<size_t>(k)])
                                                 : std::nullopt;
#else
    return std::nullopt;
#endif
  };

  Progress progress(po);
#if SP_HAVE_MPI
  if (run) run->start_publishing(&progress);
#endif
  const int threads = std::max(1, options.threads);
  tbb::task_arena arena(threads * std::max(1, options.threads_per_task));
  result.stop = run_interruptible([&] {
    arena.execute([&] {
      tbb::task_group group;
      for (int t = 0; t < threads; ++t)
        group.run([&] {
          while (const std::optional<size_t> task = claim()) {
            {
              std::lock_guard<std::mutex> lk(ran_mu);
              result.ran.push_back(*task);
            }
            failpoint("job.before_task");  // tests: "job.before_task:sleep=MS" makes this rank slow
            run_task(*task, progress);
          }
        });
      group.wait();
    });
    throw_if_interrupted();
  });
#if SP_HAVE_MPI
  if (run) run->stop_publishing();
#endif
  progress.finish();
  result.seconds = progress.elapsed_seconds();
#if SP_HAVE_MPI
  run.reset();  // collective: frees the windows once every rank is done drawing
#endif
  return result;
}

}  // namespace sp
