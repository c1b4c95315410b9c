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

}  // namespace

std::vector<size_t> largest_first(std::span<const uint64_t> sizes) {
  std::vector<size_t> order(sizes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
  return order;
}

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
  set_tool_label_prefix(rank_prefix(state_->rank));  // "[rank 3/8] sp_tokenize: error: file:line: reason"
#endif
}

Job::Job(const RankInfo& given) : state_(new State) { state_->rank = given; }

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

JobEnd end_job(Job& job, const std::vector<uint64_t>& counts, double seconds, const std::string& rank_line,
               const std::string& notes) {
  JobEnd end;
  end.totals = job.sum(counts);
  end.seconds = job.max(seconds);
  end.reports = !job.uses_mpi() || job.is_root();
  end.per_rank = job.gather(rank_line);
  end.notes = job.gather(notes);
  return end;
}

std::string JobEnd::per_rank_line(const std::string& label) const {
  if (per_rank.size() < 2) return "";
  std::string s = label + ": per rank:";
  for (size_t r = 0; r < per_rank.size(); ++r) s += (r ? " | " : " ") + std::to_string(r) + ": " + per_rank[r];
  return s;
}

std::vector<cli::Option> with_job_flags(std::vector<cli::Option> options) {
  options.push_back({"progress-per-rank", "",
                     "Under MPI, every rank prints its own progress line too (default: rank 0 prints one line for "
                     "the whole job)."});
  return options;
}

#if SP_HAVE_MPI
// The windows on rank 0 of an MPI run (task counter, progress slots, the
// job's pause deadline) and the thread that publishes this rank's progress
// and pause into them (and, on rank 0, reads the job's back).
class JobTaskQueue::Shared {
 public:
  Shared(Job::State& state, const RankInfo& rank) : state_(state), rank_(rank) {
    const bool root = rank.rank == 0;
    std::lock_guard<std::mutex> lk(state_.mu);
    MPI_Win_allocate(root ? sizeof(int64_t) : 0, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &counter_,
                     &counter_win_);
    const MPI_Aint slots = root ? 2 * static_cast<MPI_Aint>(rank.world) : 0;
    MPI_Win_allocate(slots * 8, 8, MPI_INFO_NULL, MPI_COMM_WORLD, &slots_, &slots_win_);
    MPI_Win_allocate(root ? sizeof(double) : 0, sizeof(double), MPI_INFO_NULL, MPI_COMM_WORLD, &pause_,
                     &pause_win_);
    if (root) {  // zeroed in an epoch of its own, before anyone draws or publishes
      MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, counter_win_);
      *counter_ = 0;
      MPI_Win_unlock(0, counter_win_);
      MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, slots_win_);
      std::memset(slots_, 0, static_cast<size_t>(slots) * 8);
      MPI_Win_unlock(0, slots_win_);
      MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, pause_win_);
      *pause_ = 0;
      MPI_Win_unlock(0, pause_win_);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_lock_all(0, counter_win_);
    MPI_Win_lock_all(0, slots_win_);
    MPI_Win_lock_all(0, pause_win_);
  }

  ~Shared() {
    stop_publishing();
    // A task threw: run_tool's hook is about to end the job; freeing the
    // windows (collective) would first wait for every other rank's tasks.
    if (std::uncaught_exceptions() > 0) return;
    std::lock_guard<std::mutex> lk(state_.mu);
    MPI_Win_unlock_all(pause_win_);
    MPI_Win_unlock_all(slots_win_);
    MPI_Win_unlock_all(counter_win_);
    MPI_Win_free(&pause_win_);
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

  // The pause this rank shares goes out with its next publication; the
  // job's comes back with it.
  void share_pause(double until) {
    double seen = my_pause_.load();
    while (until > seen && !my_pause_.compare_exchange_weak(seen, until)) {
    }
  }
  double job_pause() const { return job_pause_.load(); }

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
      // The job's pause: the latest deadline any rank shared (MAX is atomic per element).
      const double my_pause = my_pause_.load();
      double job_pause = 0;
      MPI_Get_accumulate(&my_pause, 1, MPI_DOUBLE, &job_pause, 1, MPI_DOUBLE, 0, 0, 1, MPI_DOUBLE, MPI_MAX,
                         pause_win_);
      MPI_Win_flush(0, pause_win_);
      job_pause_ = std::max(job_pause, my_pause);
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
  double* pause_ = nullptr;
  MPI_Win counter_win_ = MPI_WIN_NULL, slots_win_ = MPI_WIN_NULL, pause_win_ = MPI_WIN_NULL;
  std::atomic<double> my_pause_{0}, job_pause_{0};
  const Progress* progress_ = nullptr;
  std::thread thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::atomic<uint64_t> job_bytes_{0}, job_items_{0};
  mutable std::mutex slowest_mu_;
  std::string slowest_;
};
#else
class JobTaskQueue::Shared {};
#endif  // SP_HAVE_MPI

JobTaskQueue::JobTaskQueue(Job& job, std::span<const uint64_t> sizes, const JobTasksOptions& options)
    : job_(job), order_(largest_first(sizes)) {
  const RankInfo& rank = job.rank();
  const bool shared = job.uses_mpi();
  if (!shared) {  // this rank's static share, largest first
    std::vector<char> mine(sizes.size(), 0);
    for (size_t i : shard_by_size(sizes, rank.rank, rank.world)) mine[i] = 1;
    for (size_t i : order_)
      if (mine[i]) local_.push_back(i);
  }
  ProgressOptions po = options.progress;
  po.total_bytes = 0;
  for (size_t i : shared ? order_ : local_) po.total_bytes += sizes[i];
  po.total_items = !options.items_are_tasks ? 0 : shared ? order_.size() : local_.size();
#if SP_HAVE_MPI
  if (shared) {
    shared_ = std::make_unique<Shared>(*job.state_, rank);
    if (rank.rank == 0) {
      Shared* r = shared_.get();
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
  progress_ = std::make_unique<Progress>(po);
#if SP_HAVE_MPI
  if (shared_) shared_->start_publishing(progress_.get());
#endif
}

JobTaskQueue::~JobTaskQueue() {
  // An exception on its way to run_tool ends the job there: the collective
  // end would first wait for every other rank. The publishing thread stops
  // here either way, before the progress it reads goes.
  if (!finished_ && std::uncaught_exceptions() == 0) finish();
#if SP_HAVE_MPI
  if (shared_) shared_->stop_publishing();
#endif
}

std::optional<size_t> JobTaskQueue::claim() {
  if (interrupted()) return std::nullopt;
  std::optional<size_t> task;
  if (!shared_) {
    const size_t k = next_local_++;
    if (k < local_.size()) task = local_[k];
  } else {
#if SP_HAVE_MPI
    const int64_t k = shared_->draw();
    if (k < static_cast<int64_t>(order_.size())) task = order_[static_cast<size_t>(k)];
#endif
  }
  if (task) {
    std::lock_guard<std::mutex> lk(claimed_mu_);
    claimed_.push_back(*task);
  }
  return task;
}

Progress& JobTaskQueue::progress() { return *progress_; }

void JobTaskQueue::share_pause_until(double unix_time) {
  double seen = pause_until_.load();
  while (unix_time > seen && !pause_until_.compare_exchange_weak(seen, unix_time)) {
  }
#if SP_HAVE_MPI
  if (shared_) shared_->share_pause(unix_time);
#endif
}

double JobTaskQueue::pause_until() const {
  double p = pause_until_.load();
#if SP_HAVE_MPI
  if (shared_) p = std::max(p, shared_->job_pause());
#endif
  return p;
}

JobTasksResult JobTaskQueue::finish() {
  JobTasksResult result;
  if (finished_) return result;
  finished_ = true;
#if SP_HAVE_MPI
  if (shared_) shared_->stop_publishing();
#endif
  progress_->finish();
  result.seconds = progress_->elapsed_seconds();
  shared_.reset();  // collective: frees the windows once every rank is done drawing
  std::lock_guard<std::mutex> lk(claimed_mu_);
  result.ran = claimed_;
  return result;
}

JobTasksResult run_job_tasks(Job& job, std::span<const uint64_t> sizes, const JobTasksOptions& options,
                             const std::function<void(size_t, Progress&)>& run_task) {
  JobTaskQueue queue(job, sizes, options);
  const int threads = std::max(1, options.threads);
  tbb::task_arena arena(threads * std::max(1, options.threads_per_task));
  const std::optional<Interrupted> stop = run_interruptible([&] {
    arena.execute([&] {
      tbb::task_group group;
      for (int t = 0; t < threads; ++t)
        group.run([&] {
          while (const std::optional<size_t> task = queue.claim()) {
            failpoint("job.before_task");  // tests: "job.before_task:sleep=MS" makes this rank slow
            run_task(*task, queue.progress());
          }
        });
      group.wait();
    });
    throw_if_interrupted();
  });
  JobTasksResult result = queue.finish();
  result.stop = stop;
  return result;
}

}  // namespace sp
