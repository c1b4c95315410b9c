#include "sp/rank.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <numeric>
#include <queue>

#include "sp/error.h"

namespace sp {

namespace {

bool read_env_int(const char* name, long& out) {
  const char* v = std::getenv(name);
  if (!v || !*v) return false;
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v, &end, 10);
  if (errno || *end || x < 0) throw Error(std::string("environment variable ") + name + "='" + v + "' is not a non-negative integer");
  out = x;
  return true;
}

bool try_pair(const char* rank_var, const char* size_var, const char* source, RankInfo& r) {
  long rank = 0, world = 0;
  if (!read_env_int(rank_var, rank)) return false;
  if (!read_env_int(size_var, world))
    throw Error(std::string(rank_var) + " is set but " + size_var + " is not");
  if (world < 1 || rank >= world)
    throw Error(std::string(rank_var) + "=" + std::to_string(rank) + " is out of range for " + size_var + "=" + std::to_string(world));
  r.rank = static_cast<int>(rank);
  r.world = static_cast<int>(world);
  r.source = source;
  return true;
}

}  // namespace

RankInfo detect_rank() {
  RankInfo r;
  if (try_pair("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OpenMPI (mpirun)", r)) return r;
  if (std::getenv("PMIX_RANK") && std::getenv("PMIX_SIZE") && try_pair("PMIX_RANK", "PMIX_SIZE", "PMIx", r)) return r;
  if (std::getenv("PMI_RANK") && try_pair("PMI_RANK", "PMI_SIZE", "PMI", r)) return r;
  if (try_pair("RANK", "WORLD_SIZE", "RANK/WORLD_SIZE", r)) return r;
  if (std::getenv("SLURM_PROCID") && std::getenv("SLURM_NTASKS") && try_pair("SLURM_PROCID", "SLURM_NTASKS", "Slurm", r)) return r;
  return r;
}

std::vector<size_t> shard_by_size(std::span<const uint64_t> sizes, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world) throw Error("invalid rank " + std::to_string(rank) + " of " + std::to_string(world));
  const size_t n = sizes.size();
  uint64_t known_sum = 0, known_n = 0;
  for (uint64_t s : sizes)
    if (s) known_sum += s, ++known_n;
  const uint64_t unknown_weight = known_n ? std::max<uint64_t>(1, known_sum / known_n) : 1;
  std::vector<uint64_t> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = sizes[i] ? sizes[i] : unknown_weight;

  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return w[a] > w[b]; });

  // Min-heap of (load, rank): the least-loaded rank, lowest rank on ties.
  using Slot = std::pair<uint64_t, int>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<Slot>> heap;
  for (int r = 0; r < world; ++r) heap.push({0, r});
  std::vector<size_t> mine;
  for (size_t i : order) {
    auto [load, r] = heap.top();
    heap.pop();
    if (r == rank) mine.push_back(i);
    heap.push({load + w[i], r});
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

std::string rank_prefix(const RankInfo& r) {
  if (r.world <= 1) return "";
  return "[rank " + std::to_string(r.rank) + "/" + std::to_string(r.world) + "] ";
}

}  // namespace sp
