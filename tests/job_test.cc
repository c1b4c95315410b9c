// The job layer without a launcher: a static share, largest first, the same
// progress and pause bookkeeping a shared queue has. (The MPI side is tested
// through the tools under mpirun: concat_test, extract_test, download_test.)
#include "sp/job.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <mutex>
#include <set>

namespace {

class RankEnv {  // RANK/WORLD_SIZE for one test; MPI launchers' variables out of the way
 public:
  RankEnv(const char* rank, const char* world) {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
      ::unsetenv(v);
    if (rank) ::setenv("RANK", rank, 1), ::setenv("WORLD_SIZE", world, 1);
    else ::unsetenv("RANK"), ::unsetenv("WORLD_SIZE");
  }
  ~RankEnv() { ::unsetenv("RANK"), ::unsetenv("WORLD_SIZE"); }
};

sp::JobTasksOptions quiet() {
  sp::JobTasksOptions o;
  o.progress.mode = sp::ProgressMode::kOff;
  return o;
}

TEST(Job, LargestFirstKeepsIndexOrderForTies) {
  const std::vector<uint64_t> sizes{5, 9, 5, 0, 9};
  EXPECT_EQ(sp::largest_first(sizes), (std::vector<size_t>{1, 4, 0, 2, 3}));
}

TEST(JobTaskQueue, AloneTakesEveryTaskLargestFirst) {
  RankEnv env(nullptr, nullptr);
  sp::Job job;
  EXPECT_FALSE(job.uses_mpi());
  const std::vector<uint64_t> sizes{10, 30, 20};
  sp::JobTaskQueue queue(job, sizes, quiet());
  std::vector<size_t> got;
  while (auto t = queue.claim()) got.push_back(*t);
  EXPECT_EQ(got, (std::vector<size_t>{1, 2, 0}));
  queue.progress().add(60, 3);
  EXPECT_EQ(queue.progress().bytes(), 60u);
  const sp::JobTasksResult r = queue.finish();
  EXPECT_EQ(r.ran, got);
}

TEST(JobTaskQueue, StaticSharesOfTheRanksCoverEveryTaskOnce) {
  const std::vector<uint64_t> sizes{7, 1, 50, 3, 3, 20, 8, 2};
  std::multiset<size_t> all;
  for (const char* r : {"0", "1", "2"}) {
    RankEnv env(r, "3");
    sp::Job job;
    EXPECT_EQ(job.rank().world, 3);
    sp::JobTaskQueue queue(job, sizes, quiet());
    std::vector<size_t> mine;
    while (auto t = queue.claim()) mine.push_back(*t);
    for (size_t k = 1; k < mine.size(); ++k) EXPECT_GE(sizes[mine[k - 1]], sizes[mine[k]]) << "not largest first";
    all.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(all, (std::multiset<size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(JobTaskQueue, GivenRankIsAStaticShareWithoutMpi) {
  ::setenv("OMPI_COMM_WORLD_SIZE", "2", 1);  // as if under mpirun: a given rank still keeps MPI out
  sp::Job job(sp::RankInfo{1, 2, "--rank/--world-size"});
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_FALSE(job.uses_mpi());
  const std::vector<uint64_t> sizes{4, 3, 2, 1};
  sp::JobTaskQueue queue(job, sizes, quiet());
  std::vector<size_t> mine;
  while (auto t = queue.claim()) mine.push_back(*t);
  EXPECT_FALSE(mine.empty());
  EXPECT_LT(mine.size(), sizes.size());
}

TEST(JobTaskQueue, PauseIsTheLatestShared) {
  RankEnv env(nullptr, nullptr);
  sp::Job job;
  const std::vector<uint64_t> sizes{1};
  sp::JobTaskQueue queue(job, sizes, quiet());
  EXPECT_EQ(queue.pause_until(), 0);
  const double now = static_cast<double>(std::time(nullptr));
  queue.share_pause_until(now + 5);
  queue.share_pause_until(now + 2);  // an earlier deadline never shortens the pause
  EXPECT_EQ(queue.pause_until(), now + 5);
}

TEST(RunJobTasks, RunsEachTaskOnceOnSeveralThreads) {
  RankEnv env(nullptr, nullptr);
  sp::Job job;
  std::vector<uint64_t> sizes(40);
  for (size_t i = 0; i < sizes.size(); ++i) sizes[i] = i % 7;
  sp::JobTasksOptions o = quiet();
  o.threads = 4;
  std::mutex mu;
  std::multiset<size_t> ran;
  const sp::JobTasksResult r = sp::run_job_tasks(job, sizes, o, [&](size_t i, sp::Progress& p) {
    p.add(sizes[i], 1);
    std::lock_guard<std::mutex> lk(mu);
    ran.insert(i);
  });
  EXPECT_FALSE(r.stop);
  EXPECT_EQ(ran.size(), sizes.size());
  EXPECT_EQ(std::set<size_t>(ran.begin(), ran.end()).size(), sizes.size());
  EXPECT_EQ(r.ran.size(), sizes.size());
}

}  // namespace

namespace {

TEST(EndJob, AloneReportsItsOwnFigures) {
  RankEnv env(nullptr, nullptr);
  sp::Job job;
  const sp::JobEnd end = sp::end_job(job, {3, 5}, 1.5, "3 files", "a note\n");
  EXPECT_TRUE(end.reports);
  EXPECT_EQ(end.totals, (std::vector<uint64_t>{3, 5}));
  EXPECT_EQ(end.seconds, 1.5);
  EXPECT_EQ(end.per_rank, (std::vector<std::string>{"3 files"}));
  EXPECT_EQ(end.notes, (std::vector<std::string>{"a note\n"}));
  EXPECT_EQ(end.per_rank_line("sp_x"), "") << "one rank has no per-rank line";
  sp::JobEnd two = end;
  two.per_rank = {"1 file", "2 files"};
  EXPECT_EQ(two.per_rank_line("sp_x"), "sp_x: per rank: 0: 1 file | 1: 2 files");
}

}  // namespace
