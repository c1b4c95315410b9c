// Completion records: what makes an output "complete".
//
// Every task that makes outputs (one extracted file, one chunk, one tokenized
// .bin/.idx pair) writes, after its outputs are renamed into place and made
// durable, a small JSON record beside them ("<output>.sp-record"). It holds
//   - the inputs' identity: absolute path, size, mtime and a fingerprint of
//     their first and last 64 KiB (inputs may be terabytes: no full hash);
//   - the options and tokenizer files (by SHA-256) that shape the bytes;
//   - every output's name, size, mtime and content checksum (checksum.h);
//   - counts for the summary (documents, tokens, ...), so a rerun that keeps
//     the outputs can still report them.
// An output is complete when its record exists, parses, and matches both the
// files on disk and the current command. Anything else is rebuilt, or, where a
// rebuild would need a source that is already gone, reported. Deleting a
// source (--remove-source) is allowed only after check_completion(kFull) says
// kComplete for the outputs that replace it.
//
// The record is written last and removed first (before a rebuild starts), so
// a run killed at any point never leaves a record that vouches for outputs it
// did not finish. Records are versioned JSON objects; later versions may add
// members (e.g. checkpoints inside a task) that older readers ignore.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sp {

struct FileIdentity {
  std::string path;         // inputs: absolute path; outputs: path (stored by name, beside the record)
  bool present = true;      // inputs only: false when the file no longer exists (e.g. removed source)
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string fingerprint;  // inputs: ends_fingerprint(); outputs: file_checksum()
};

struct CompletionRecord {
  std::string path;  // where the record lives: record_path_for(first output)
  std::string tool;
  std::vector<std::pair<std::string, std::string>> options;  // the settings that shape the output bytes
  std::vector<FileIdentity> inputs;
  std::vector<FileIdentity> outputs;
  std::vector<std::pair<std::string, uint64_t>> counts;

  uint64_t count(const std::string& name) const;  // 0 when absent
};

// "<output>.sp-record".
std::string record_path_for(const std::string& output);
// True for names that are completion records (so listings can skip them).
bool is_record_name(const std::string& name);

// The identity of an input now (present == false when it does not exist).
// Throws Error when it exists but cannot be read.
FileIdentity identify_input(const std::string& path);
// The identity of a finished output: size, mtime and, unless `checksum` is
// given (computed while writing), the checksum read back from disk.
FileIdentity identify_output(const std::string& path, const std::string& checksum = "");

// Reads a record file; throws Error when it is missing or not a record.
CompletionRecord read_record(const std::string& record_path);

// What a build hands back for its records: the checksums of outputs it
// computed on the way (by output path; the others are read back from disk)
// and the counts to keep.
struct BuildResult {
  std::map<std::string, std::string> checksums;
  std::vector<std::pair<std::string, uint64_t>> counts;
};
// The one way every tool makes outputs: the records are removed first, then
// `build` renames each output into place, then each record is written with
// the identities of its outputs as they now are (records' `outputs` give the
// paths). A build that throws leaves no record behind, so no record ever
// vouches for outputs that are being replaced.
void build_recorded(std::vector<CompletionRecord>& records, const std::function<BuildResult()>& build);

// Writes the record atomically and durably (as AtomicFile) at record.path.
void write_record(const CompletionRecord& record);
// Removes a record, if there is one; throws Error when it cannot.
void remove_record(const std::string& record_path);

enum class Completion {
  kComplete,    // record matches outputs, inputs and options
  kAbsent,      // no record and no output: nothing was made yet
  kUnrecorded,  // some output exists but no record vouches for it (killed run, older tool, another program)
  kStale,       // outputs match the record, but it was made from other inputs or with other options
  kDamaged,     // the record does not match the outputs on disk (missing, resized, rewritten), or is unreadable
};

enum class VerifyDepth {
  kQuick,  // sizes and mtimes of the outputs
  kFull,   // also read every output back and compare checksums
};

struct CompletionCheck {
  Completion state = Completion::kAbsent;
  std::string reason;       // for anything but kComplete/kAbsent: one sentence naming the file and the difference
  CompletionRecord record;  // the record as read (when there is one)
};

// Compares what is on disk with `expected` (its path, tool, options, inputs
// and output paths; output sizes/checksums are ignored, they come from the
// record). Inputs with present == false are not compared: a removed source is
// vouched for by the record itself.
CompletionCheck check_completion(const CompletionRecord& expected, VerifyDepth depth);

// Why `got` was made by another tool, with other options or from other
// inputs than `expected` says (one sentence), or "" when they agree: the
// comparison check_completion makes, for records that vouch for work in
// progress (checkpoints) rather than for finished outputs.
std::string record_difference(const CompletionRecord& expected, const CompletionRecord& got);

// The one policy every tool applies to a task's existing outputs.
enum class OutputPlan {
  kKeep,    // complete: nothing to do (beyond removing sources, with --remove-source)
  kBuild,   // make them (anew); remove the record first
  kRefuse,  // neither: a source is gone, or --remove-source meets outputs that contradict their record
};
struct OutputDecision {
  OutputPlan plan = OutputPlan::kBuild;
  std::string message;  // kBuild: why existing outputs are rebuilt ("" when there were none); kRefuse: the error
};
// `what` names the outputs in messages (a path). missing_source: a source
// that no longer exists ("" when all do; then nothing can be rebuilt).
// overwrite: rebuild even complete outputs. remove_source: a mismatch is an
// error, not a rebuild.
OutputDecision decide_outputs(const CompletionCheck& check, const std::string& what,
                              const std::string& missing_source, bool overwrite, bool remove_source);

// "complete", "absent", ...: for messages.
const char* completion_name(Completion c);

}  // namespace sp
