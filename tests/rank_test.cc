// Rank detection from launcher environments and size-balanced sharding.
#include "sp/rank.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>
#include <optional>
#include <set>

#include "sp/error.h"

namespace sp {
namespace {

// Sets environment variables for one test and restores the old values.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* n : kNames) {
      const char* v = std::getenv(n);
      saved_.emplace_back(n, v ? std::optional<std::string>(v) : std::nullopt);
      unsetenv(n);
    }
  }
  ~EnvGuard() {
    for (auto& [n, v] : saved_) {
      if (v) setenv(n, v->c_str(), 1);
      else unsetenv(n);
    }
  }
  void set(const char* n, const char* v) { setenv(n, v, 1); }

 private:
  static constexpr const char* kNames[] = {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMIX_SIZE",
                                           "PMI_RANK", "PMI_SIZE", "RANK", "WORLD_SIZE", "SLURM_PROCID",
                                           "SLURM_NTASKS"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

TEST(DetectRank, SingleProcessByDefault) {
  EnvGuard env;
  RankInfo r = detect_rank();
  EXPECT_EQ(r.rank, 0);
  EXPECT_EQ(r.world, 1);
  EXPECT_EQ(rank_prefix(r), "");
}

TEST(DetectRank, TorchrunAndBcprunVariables) {
  EnvGuard env;
  env.set("RANK", "3");
  env.set("WORLD_SIZE", "8");
  RankInfo r = detect_rank();
  EXPECT_EQ(r.rank, 3);
  EXPECT_EQ(r.world, 8);
  EXPECT_EQ(rank_prefix(r), "[rank 3/8] ");
}

TEST(DetectRank, OpenMpiWinsOverRank) {
  EnvGuard env;
  env.set("RANK", "0");
  env.set("WORLD_SIZE", "2");
  env.set("OMPI_COMM_WORLD_RANK", "5");
  env.set("OMPI_COMM_WORLD_SIZE", "6");
  RankInfo r = detect_rank();
  EXPECT_EQ(r.rank, 5);
  EXPECT_EQ(r.world, 6);
  EXPECT_NE(r.source.find("OpenMPI"), std::string::npos);
}

TEST(DetectRank, SlurmVariables) {
  EnvGuard env;
  env.set("SLURM_PROCID", "1");
  env.set("SLURM_NTASKS", "4");
  RankInfo r = detect_rank();
  EXPECT_EQ(r.rank, 1);
  EXPECT_EQ(r.world, 4);
}

TEST(DetectRank, InconsistentValuesAreErrors) {
  {
    EnvGuard env;
    env.set("RANK", "4");
    env.set("WORLD_SIZE", "4");
    EXPECT_THROW(detect_rank(), Error);
  }
  {
    EnvGuard env;
    env.set("RANK", "1");
    EXPECT_THROW(detect_rank(), Error);  // WORLD_SIZE missing
  }
  {
    EnvGuard env;
    env.set("RANK", "x");
    env.set("WORLD_SIZE", "2");
    EXPECT_THROW(detect_rank(), Error);
  }
}

TEST(ShardBySize, EveryItemExactlyOnceWhateverTheWorld) {
  std::vector<uint64_t> sizes;
  for (int i = 0; i < 1000; ++i) sizes.push_back(static_cast<uint64_t>((i * 7919) % 1000 + 1));
  for (int world : {1, 2, 3, 7, 64, 1500}) {
    std::vector<int> owner(sizes.size(), -1);
    for (int r = 0; r < world; ++r) {
      auto mine = shard_by_size(sizes, r, world);
      EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
      for (size_t i : mine) {
        EXPECT_EQ(owner[i], -1) << "item " << i << " given twice";
        owner[i] = r;
      }
    }
    for (size_t i = 0; i < owner.size(); ++i) EXPECT_NE(owner[i], -1) << "item " << i << " lost, world " << world;
  }
}

TEST(ShardBySize, BalancedBySize) {
  // One huge file and many small ones: the huge one gets a rank to itself.
  std::vector<uint64_t> sizes = {1000};
  for (int i = 0; i < 100; ++i) sizes.push_back(10);
  auto r0 = shard_by_size(sizes, 0, 2);
  auto r1 = shard_by_size(sizes, 1, 2);
  EXPECT_EQ(r0, std::vector<size_t>{0});
  EXPECT_EQ(r1.size(), 100u);
  // Loads of equal-sized items differ by at most one item.
  std::vector<uint64_t> equal(103, 5);
  for (int r = 0; r < 4; ++r) {
    size_t n = shard_by_size(equal, r, 4).size();
    EXPECT_TRUE(n == 25 || n == 26) << n;
  }
}

TEST(ShardBySize, DeterministicAndUnknownSizesRoundRobin) {
  std::vector<uint64_t> unknown(10, 0);
  EXPECT_EQ(shard_by_size(unknown, 0, 3), (std::vector<size_t>{0, 3, 6, 9}));
  EXPECT_EQ(shard_by_size(unknown, 2, 3), (std::vector<size_t>{2, 5, 8}));
  std::vector<uint64_t> sizes = {5, 0, 7, 0, 100, 3};
  EXPECT_EQ(shard_by_size(sizes, 1, 2), shard_by_size(sizes, 1, 2));
  EXPECT_THROW(shard_by_size(sizes, 2, 2), Error);
}

}  // namespace
}  // namespace sp
