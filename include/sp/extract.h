// sp_extract's core: which .zst files become which outputs, and decompressing
// one file safely (temporary or partial name, renamed only when the whole file
// decoded cleanly, resumable from checkpoints, optional JSONL validation on
// the way through).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sp {

class Progress;

struct ExtractTask {
  std::string source;    // the .zst file
  std::string relative;  // source relative to the input directory
  std::string output;    // where the decompressed bytes go (".zst" dropped)
  uint64_t source_bytes = 0;
  bool source_present = true;  // false: removed by an earlier --remove-source; its record stands for it
  std::string problem;         // why this file cannot be extracted at all (e.g. it is named just ".zst")
};

// Every "*.zst" file under input_dir, and every source an earlier run already
// extracted and removed (known from the completion records among the
// outputs), byte-wise sorted by relative path and mapped to
// output_dir/<relative without .zst> (beside the source when output_dir is
// empty). Sources and completed outputs count alike, so every rank plans the
// same tasks with the same sizes however late it starts: the split of work
// does not depend on when a rank looks. Dangling symlinks found on the way
// are appended to dangling_links when given (see list_files).
std::vector<ExtractTask> plan_extract(const std::string& input_dir, const std::string& output_dir,
                                      std::vector<std::string>* dangling_links = nullptr);

struct ExtractOptions {
  bool validate = false;       // check each line is a JSON object with valid UTF-8
  bool remove_source = false;  // unlink the .zst once its output is verified and durable
  bool overwrite = false;      // rebuild outputs even when their record says they are complete
  size_t buffer_bytes = size_t{1} << 21;  // decompressed bytes per write
  // Output bytes between checkpoints (checkpoint.h); 0: none, and the output
  // is written under a temporary name instead of a resumable partial.
  uint64_t checkpoint_bytes = uint64_t{1} << 30;
};

enum class ExtractStatus { kExtracted, kSkipped, kFailed };

struct ExtractResult {
  ExtractStatus status = ExtractStatus::kFailed;
  uint64_t bytes_in = 0;   // compressed bytes read
  uint64_t bytes_out = 0;  // decompressed bytes written
  uint64_t lines = 0;      // lines checked (validate only)
  bool source_removed = false;
  std::string error;       // "file[:line]: reason" when kFailed
  std::string notice;      // why an existing output was rebuilt, or a checkpoint resumed or discarded
  bool resumed = false;    // continued from a checkpoint of an interrupted run
  uint64_t resumed_from = 0;  // output bytes the checkpoint kept
};

// Decompresses one file and writes its completion record (record.h). Never
// throws for problems with this file: they come back as kFailed with a message
// naming it, and no output is left behind. An output whose record matches is
// kSkipped; one without a record, or whose record does not match, is rebuilt
// (notice says why) -- except under remove_source, where an output that
// contradicts its record is an error and nothing is deleted. The source is
// removed only after the output was verified against its record (checksum
// read back) and synced. With checkpoint_bytes, the output is built in a
// resumable partial (checkpoint.h): a checkpoint every checkpoint_bytes of
// output and when a signal stops the work; a rerun with the same source and
// options continues from the last one (overwrite: starts afresh) and ends
// with the same bytes and record as an uninterrupted run. progress, when given, receives compressed bytes as
// they are consumed and one item per finished file.
ExtractResult extract_file(const ExtractTask& task, const ExtractOptions& options, Progress* progress = nullptr);

}  // namespace sp
