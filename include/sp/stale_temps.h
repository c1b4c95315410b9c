// Clean-up after a killed run. AtomicFile writes "<final>.tmp-<host>-<pid>" and
// a kill -9 can leave that temporary behind; a rerun that is about to rebuild
// <final> removes such leftovers so they do not pile up on the workspace.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

// True when `name` looks like AtomicFile's temporary for some final name
// (contains ".tmp-"); sets *final_name to the part before it.
bool is_temp_name(std::string_view name, std::string* final_name = nullptr);

// Removes every "<final>.tmp-*" file beside each of `finals` (one readdir per
// distinct directory, so this is cheap for thousands of outputs). Only the
// temporaries of the given finals are touched: other ranks' outputs are not
// ours to clean. Returns how many were removed; unreadable directories are
// skipped (the directory may not exist yet).
size_t remove_stale_temps(const std::vector<std::string>& finals);

}  // namespace sp
