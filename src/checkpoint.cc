#include "sp/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sp/error.h"
#include "sp/failpoint.h"
#include "sp/fs.h"
#include "sp/stale_temps.h"

namespace sp {

namespace {

constexpr std::string_view kPartSuffix = ".sp-part";
constexpr std::string_view kCheckpointSuffix = ".sp-checkpoint";

void unlink_if_there(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw Error(errno_message("cannot remove", path));
}

}  // namespace

std::string part_path_for(const std::string& output) { return output + std::string(kPartSuffix); }
std::string checkpoint_path_for(const std::string& output) { return output + std::string(kCheckpointSuffix); }

bool is_part_or_checkpoint_name(std::string_view name) {
  return ends_with(name, kPartSuffix) || ends_with(name, kCheckpointSuffix);
}

PartialOutput::PartialOutput(std::string output, UniqueFd fd)
    : output_(std::move(output)),
      partial_(part_path_for(output_)),
      checkpoint_(checkpoint_path_for(output_)),
      fd_(std::move(fd)) {}

std::unique_ptr<PartialOutput> PartialOutput::open(const std::string& output) {
  bool busy = false;
  UniqueFd fd = open_locked(part_path_for(output), /*create=*/true, &busy);
  if (busy) return nullptr;
  // A checkpoint's own temporary, left by a writer killed while writing it.
  remove_stale_temps({checkpoint_path_for(output)});
  return std::unique_ptr<PartialOutput>(new PartialOutput(output, std::move(fd)));
}

uint64_t PartialOutput::size() const {
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) throw Error(errno_message("cannot stat", partial_));
  return static_cast<uint64_t>(st.st_size);
}

std::optional<CompletionRecord> PartialOutput::find_checkpoint(const CompletionRecord& expected,
                                                              std::string* discarded) const {
  discarded->clear();
  if (!path_exists(checkpoint_)) return std::nullopt;
  const std::string what = "discarding the checkpoint of " + output_ + ": ";
  CompletionRecord got;
  try {
    got = read_record(checkpoint_);
  } catch (const Error& e) {
    *discarded = what + "it is unreadable (" + e.what() + ")";
    return std::nullopt;
  }
  if (std::string why = record_difference(expected, got); !why.empty()) {
    *discarded = what + why;
    return std::nullopt;
  }
  if (got.outputs.size() != 1 || got.outputs[0].path != partial_) {
    *discarded = what + "it names another partial file";
    return std::nullopt;
  }
  if (const uint64_t have = size(); have < got.outputs[0].size) {
    *discarded = what + "'" + partial_ + "' is " + std::to_string(have) + " bytes, shorter than the " +
                 std::to_string(got.outputs[0].size) + " it vouches for";
    return std::nullopt;
  }
  return got;
}

void PartialOutput::restart() {
  unlink_if_there(checkpoint_);
  if (::ftruncate(fd_.get(), 0) != 0) throw Error(errno_message("cannot truncate", partial_));
}

void PartialOutput::checkpoint(const CompletionRecord& expected, uint64_t bytes,
                               const std::vector<std::pair<std::string, std::string>>& state) {
  if (sync_outputs() && ::fdatasync(fd_.get()) != 0 && errno != EINVAL)
    throw Error(errno_message("cannot sync", partial_));
  CompletionRecord cp;
  cp.path = checkpoint_;
  cp.tool = expected.tool;
  cp.options = expected.options;
  cp.inputs = expected.inputs;
  FileIdentity partial;
  partial.path = partial_;
  partial.size = bytes;
  cp.outputs = {partial};
  cp.checkpoint = state;
  write_record(cp);  // atomic, and durable while outputs are synced
  failpoint("checkpoint.after_write");
}

void PartialOutput::commit() {
  durable_rename(fd_.get(), partial_, output_);
  failpoint("checkpoint.after_rename");
  unlink_if_there(checkpoint_);
}

void PartialOutput::discard() {
  unlink_if_there(checkpoint_);
  unlink_if_there(partial_);
}

void remove_partial(const std::string& output) {
  const std::string partial = part_path_for(output), checkpoint = checkpoint_path_for(output);
  bool busy = false;
  const UniqueFd fd = open_locked(partial, /*create=*/false, &busy);
  if (busy) return;  // another process is writing it
  if (fd) unlink_if_there(partial);
  unlink_if_there(checkpoint);
}

}  // namespace sp
