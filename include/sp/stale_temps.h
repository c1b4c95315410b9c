// Clean-up after a killed run. AtomicFile writes "<final>.tmp-<host>-<pid>" and
// a kill -9 can leave that temporary behind; a rerun that is about to rebuild
// <final> removes such leftovers so they do not pile up on the workspace.
//
// Guarantee: only temporaries whose writer is provably gone are removed, so a
// run never deletes the live temporary of another run into the same directory
// (a second job, or ranks orphaned by a killed mpirun still writing). Provably
// gone means: written on this host, and its pid is no longer running, or is now
// a process that started after the temporary was last modified (the pid was
// reused). Temporaries written on other hosts cannot be checked from here and
// are kept (and counted, so the tools can say so).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

// True when `name` looks like AtomicFile's temporary for some final name
// (contains ".tmp-"); sets *final_name to the part before it.
bool is_temp_name(std::string_view name, std::string* final_name = nullptr);

// The writer named in a temporary's name, "<final>.tmp-<host>-<pid>"; host
// names may contain '-' (the pid is after the last one). False when the name
// has no such suffix.
struct TempOwner {
  std::string host;
  int64_t pid = 0;
};
bool parse_temp_owner(std::string_view name, TempOwner* owner);

struct StaleTempSweep {
  size_t removed = 0;       // dead writers' temporaries, removed
  size_t live = 0;          // kept: their writer on this host is still running
  size_t other_hosts = 0;   // kept: written on another host (or unparseable), cannot be checked here
  std::string example;      // one kept temporary of another host, for the message
  // "" when nothing was kept for being another host's; else one sentence
  // naming how many and an example, for the tools to print.
  std::string other_hosts_note() const;
};

// Sweeps the "<final>.tmp-*" files beside each of `finals` (one readdir per
// distinct directory, so this is cheap for thousands of outputs), removing
// those of dead writers as described above. Only the temporaries of the given
// finals are looked at: other ranks' outputs are not ours to clean.
// Unreadable directories are skipped (the directory may not exist yet).
StaleTempSweep remove_stale_temps(const std::vector<std::string>& finals);

}  // namespace sp
