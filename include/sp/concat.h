// sp_concat's core: a deterministic plan grouping JSONL files into chunks,
// a plan file that pins it across reruns, and writing one chunk (atomic,
// newline-safe, copy_file_range where possible). The same plan over .jsonl.zst
// shards, named as sp_extract would name them, is the fused path's
// (sp_tokenize --chunk-size), which reads its chunks without writing them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sp {

class Progress;

struct ChunkInput {
  std::string path;      // openable path
  std::string relative;  // relative to the input directory (plan order key)
  uint64_t size = 0;     // bytes when planned
};

struct Chunk {
  size_t index = 0;
  std::string output;  // <output_dir>/<prefix><index>.jsonl
  std::vector<ChunkInput> inputs;
  uint64_t bytes = 0;  // sum of input sizes (the chunk adds at most one '\n' per input)
};

struct ConcatPlanOptions {
  uint64_t target_size = 0;    // bytes per chunk; used when files_per_chunk == 0
  uint64_t files_per_chunk = 0;
  std::string prefix = "train_chunk_";
  std::string input_dir;   // inputs' paths are input_dir + "/" + relative
  std::string output_dir;
};

// Groups inputs (already in the order they are to appear) into consecutive
// chunks: with files_per_chunk, that many per chunk; else each chunk takes
// files until the next one would push it past target_size (a file larger than
// the target gets a chunk of its own). Pure function of its arguments, so every
// rank computes the same plan. Throws UsageError when neither limit is set.
std::vector<Chunk> plan_chunks(const std::vector<ChunkInput>& inputs, const ConcatPlanOptions& options);

// The "*.jsonl" files under input_dir in byte-wise order of relative path,
// leaving out anything inside output_dir (so chunks written into a
// subdirectory of the input are never taken as inputs by a rerun). Dangling
// symlinks are appended to dangling_links when given (see list_files).
std::vector<ChunkInput> list_concat_inputs(const std::string& input_dir, const std::string& output_dir,
                                           std::vector<std::string>* dangling_links = nullptr);

// The fused path (sp_tokenize --chunk-size/--files-per-chunk): the shards
// under shard_dir that sp_extract turns into the "*.jsonl" files sp_concat
// takes ("*.jsonl.zst"), and plain "*.jsonl" files (taken as they are, as if
// already extracted beside the shards). Each is named (relative) by the file
// sp_extract would write, its relative path without ".zst", and they come in
// sp_concat's order of those names, so plan_chunks over them is sp_concat's
// plan over the extracted directory; path is the shard. size is the
// decompressed size when with_sizes (decompressed_size, sp/byte_source.h:
// the shards whose frame headers lack it are decompressed once to count and
// appended to *counted), else 0. Throws Error when a shard and a plain file
// would give the same name.
std::vector<ChunkInput> list_shard_inputs(const std::string& shard_dir, bool with_sizes,
                                          std::vector<std::string>* counted = nullptr,
                                          std::vector<std::string>* dangling_links = nullptr);

// Points the inputs of a pinned fused plan (named by their extracted names)
// at the shards listed now. Throws Error naming an input without a shard.
void attach_shards(std::vector<Chunk>& plan, const std::vector<ChunkInput>& shards, const std::string& where);

// A plan pinned in <output_dir>/sp_concat_plan.tsv: the first process to get
// there writes it (atomically, never overwriting), every process and every
// rerun then uses that file. This keeps chunk contents fixed even when
// --remove-source has already deleted some inputs, or another rank listed the
// directory later than this one.
std::string plan_file_path(const std::string& output_dir);
std::string serialize_plan(const std::vector<Chunk>& chunks, const ConcatPlanOptions& options);
// Parses a plan file's text; throws Error (naming `where`) when it is malformed
// or was made with different options.
std::vector<Chunk> parse_plan(const std::string& text, const ConcatPlanOptions& options, const std::string& where);
// Returns the pinned plan: the existing plan file's, else `planned` after
// writing it. With create == false (dry runs) nothing is written.
std::vector<Chunk> pin_plan(const std::vector<Chunk>& planned, const ConcatPlanOptions& options, bool create,
                            bool* from_file = nullptr);
// Checks a pinned plan against the current listing: every listed file must be
// in the plan (else the input set changed since it was made).
void check_plan_covers(const std::vector<Chunk>& plan, const std::vector<ChunkInput>& listed, const std::string& where);

// Human-readable plan for --dry-run: one block per chunk with its files.
std::string format_plan(const std::vector<Chunk>& chunks, bool with_files = true);

struct ConcatOptions {
  bool remove_source = false;  // unlink inputs once their chunk is verified and durable
  bool overwrite = false;      // rebuild chunks even when their record says they are complete
  bool parallel_inputs = true; // copy a chunk's inputs concurrently (TBB)
  // Bytes copied between checkpoints (checkpoint.h); 0: none, and the chunk is
  // written under a temporary name instead of a resumable partial.
  uint64_t checkpoint_bytes = uint64_t{1} << 30;
};

enum class ChunkStatus { kWritten, kSkipped, kFailed };

struct ChunkResult {
  ChunkStatus status = ChunkStatus::kFailed;
  uint64_t bytes_out = 0;
  uint64_t newlines_added = 0;
  uint64_t sources_removed = 0;
  std::string error;
  std::string notice;  // why an existing chunk was rebuilt, or a checkpoint resumed or discarded
  bool resumed = false;         // continued from a checkpoint of an interrupted run
  uint64_t resumed_inputs = 0;  // inputs the checkpoint had copied already
  uint64_t resumed_bytes = 0;   // their bytes in the chunk
};

// Writes one chunk under a temporary name, renames it into place, then writes
// its completion record (record.h). Every input's offset is known in advance
// (its size plus one '\n' when it does not end with one), so inputs are copied
// concurrently with copy_file_range at their offsets. A chunk whose record
// matches is kSkipped; one without a record, or whose record does not match,
// is rebuilt (notice says why) -- except under remove_source, where a chunk
// that contradicts its record is an error. Inputs are removed only after the
// chunk was verified (its checksum read back, and every input compared with
// its bytes in the chunk) and synced. Problems come back as kFailed naming
// the file; nothing is deleted then. With checkpoint_bytes, the chunk is
// built in a resumable partial (checkpoint.h) whose checkpoint lists the
// inputs copied and synced, every checkpoint_bytes of input and when a signal
// (or a failed input) stops the copy; a rerun with the same inputs copies only
// the others (overwrite: all) and ends with the same bytes and record.
ChunkResult write_chunk(const Chunk& chunk, const ConcatOptions& options, Progress* progress = nullptr);

}  // namespace sp
