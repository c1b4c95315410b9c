// Resuming inside a task: a large output is built in a partial file beside
// its final name, and checkpoints say how much of it a rerun may keep.
//
// Guarantees:
//   - The output is built in "<output>.sp-part"; only commit() renames it
//     to the final name (after syncing it, as AtomicFile does), so nothing
//     half-written ever sits at a final name.
//   - "<output>.sp-checkpoint" is a record (record.h: tool, options, inputs
//     as in the output's completion record; its `checkpoint` member holds
//     the task's own state; its one output entry gives the length of the
//     partial it vouches for). It is written atomically, and only after the
//     partial's bytes it vouches for were synced (when outputs are synced; a
//     kill -9 loses no written bytes either way), so a kill at any moment
//     leaves the previous checkpoint or the next one.
//   - A checkpoint is offered to the rerun only when record_difference finds
//     nothing against the current command (same tool, options and input
//     identities) and the partial still holds the bytes it vouches for; any
//     other is discarded, and the reason given.
//   - One writer per output: the partial is locked (flock) while open; a
//     second process finds it busy and must not touch it.
//   - Partials and checkpoints are not AtomicFile temporaries, so
//     remove_stale_temps leaves them for the rerun that resumes them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sp/io.h"
#include "sp/record.h"

namespace sp {

// The names of work in progress, for every tool that resumes inside a task
// (sp_tokenize's parts and checkpoint too: writer_part_paths, tokenize.h).
std::string part_path_for(const std::string& output);        // "<output>.sp-part"
std::string checkpoint_path_for(const std::string& output);  // "<output>.sp-checkpoint"
// True for the names of parts and checkpoints.
bool is_part_or_checkpoint_name(std::string_view name);

class PartialOutput {
 public:
  // Opens (creating it when missing) and locks the partial of `output`.
  // Returns nullptr when another process holds it; throws Error otherwise.
  static std::unique_ptr<PartialOutput> open(const std::string& output);
  ~PartialOutput() = default;  // closes (and unlocks); leaves the files for a rerun

  // The checkpoint to resume from, when there is one that matches `expected`
  // (see above). Otherwise nullopt, with *discarded set to why an existing
  // checkpoint was not taken ("" when there was none).
  std::optional<CompletionRecord> find_checkpoint(const CompletionRecord& expected, std::string* discarded) const;
  // Removes any checkpoint, then empties the partial: a fresh start.
  void restart();
  // Syncs the partial (when outputs are synced), then writes `state` as the
  // checkpoint: `expected`'s tool, options and inputs, vouching for the first
  // `bytes` bytes of the partial.
  void checkpoint(const CompletionRecord& expected, uint64_t bytes,
                  const std::vector<std::pair<std::string, std::string>>& state);
  // Syncs the partial, renames it to the output, then removes the checkpoint.
  void commit();
  // Removes the partial and its checkpoint (a failed build: nothing to keep).
  void discard();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return partial_; }
  uint64_t size() const;

 private:
  PartialOutput(std::string output, UniqueFd fd);
  std::string output_, partial_, checkpoint_;
  UniqueFd fd_;
};

// Removes an output's partial and checkpoint, if any, unless another process
// holds the partial: leftovers of a run killed after its rename, or of a run
// with checkpoints when this one runs without. Throws Error when it cannot.
void remove_partial(const std::string& output);

}  // namespace sp
