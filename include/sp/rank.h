// Which process of a multi-process job this is, and which share of the work it
// takes. Every tool uses the same code, so `mpirun -np N`, `bcprun`/torchrun
// (RANK/WORLD_SIZE) and a plain single process all behave alike.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sp {

struct RankInfo {
  int rank = 0;
  int world = 1;
  std::string source = "single process";  // where the numbers came from, for logs
};

// Reads, in order: OpenMPI's OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE (set by
// mpirun for every rank), PMIX_RANK with OMPI/PMI size (other MPI launchers),
// RANK/WORLD_SIZE (bcprun, torchrun), SLURM_PROCID/SLURM_NTASKS; else a single
// process. Throws Error on values that are present but inconsistent
// (rank >= world, negative, not a number).
RankInfo detect_rank();

// Deterministic, size-balanced share of items [0, sizes.size()) for `rank` of
// `world`: longest-processing-time greedy (largest first, ties by index, each to
// the least-loaded rank, ties to the lowest rank). Items of unknown size (0) are
// weighed as the mean known size, so with no sizes at all this is round-robin.
// Returns this rank's item indices in ascending order. The union over ranks is
// every item exactly once.
std::vector<size_t> shard_by_size(std::span<const uint64_t> sizes, int rank, int world);

// Log prefix for a multi-process job: "[rank 3/96] ", or "" when world == 1.
std::string rank_prefix(const RankInfo& r);

}  // namespace sp
