// How many worker threads a process should use by default. On a BCP/MPI node
// several ranks share the cores (e.g. `bcprun --npernode 48` on 128 cores), so
// "all cores" per rank would oversubscribe the node many times over.
#pragma once

namespace sp {

// CPUs this process may run on (sched_getaffinity, so taskset/cgroup cpusets
// are honoured), divided by the number of ranks on this node when the launcher
// says (OMPI_COMM_WORLD_LOCAL_SIZE, LOCAL_WORLD_SIZE, SLURM_NTASKS_PER_NODE).
// Never less than 1.
int default_threads();

// `requested` when > 0, else default_threads(). Throws UsageError when < 0.
int resolve_threads(long requested);

}  // namespace sp
