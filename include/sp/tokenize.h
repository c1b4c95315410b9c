// The tokenization job: JSONL (or .jsonl.zst) in, one Megatron indexed
// dataset per JSON key out. Composes the library's stages
//   ByteSource -> LineReader -> parse_document -> tokenizer -> IndexedDatasetWriter
// in a oneTBB pipeline: blocks of lines are read and written in file order by
// one thread each while all workers parse and tokenize blocks in parallel, so
// the output is byte-identical whatever the thread count and memory is bounded
// by the blocks in flight, not by the input size.
//
// Resume inside a file: with checkpoints on (TokenizeOptions::checkpoint_every),
// the outputs are built in named part files (writer_part_paths) and, each time
// that much input has passed, everything written up to a block boundary is
// made durable and then a small record, "<first prefix>.sp-checkpoint", is
// written atomically: where the input stands (decompressed byte offset and line
// count), the parts' lengths, the stats so far, and the identity of the input,
// tokenizer and options (those of the completion record). SIGTERM, SIGINT or
// SIGHUP stop the reading, let the blocks in flight finish and take a last
// checkpoint before Interrupted is thrown. A later call for the same outputs
// whose checkpoint matches the input, tokenizer and options cuts the parts
// back to it, skips the input to its position and continues: the outputs and
// their completion record are the bytes of an uninterrupted run, and at most
// checkpoint_every bytes of input are done twice after a kill -9. A checkpoint
// that does not match is discarded (TokenizeStats::notes says why) and the
// work starts afresh. The final .bin/.idx names appear only when complete.
// One process at a time may write a file's outputs (a lock on the first
// .bin part; a second one gets an Error naming it).
// by the blocks in flight, not by the input size. The input is one file, or
// (the fused path) a chunk of shards read as the one stream sp_concat would
// have written from them.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sp/concat.h"
#include "sp/tokenizer.h"

namespace sp {

class Progress;

enum class OnError { kStop, kSkip };

struct TokenizeOptions {
  std::vector<std::string> json_keys{"text"};
  bool append_eod = false;
  // NeMo's behaviour: documents that produce no tokens are left out of the
  // document index (Megatron keeps them as empty documents).
  bool skip_empty = false;
  OnError on_error = OnError::kStop;
  size_t max_reported_errors = 10;
  size_t block_bytes = size_t{1} << 20;  // lines handed to one task
  size_t blocks_in_flight = 0;           // 0: 4 per worker thread
  // Bytes of (decompressed) input between checkpoints; 0: no checkpoints, and
  // the parts and checkpoint of an earlier run are removed. Standard input
  // never has any.
  uint64_t checkpoint_every = uint64_t{1} << 30;
  bool overwrite = false;  // an earlier checkpoint is discarded, not resumed
};

struct TokenizeStats {
  uint64_t files = 0;
  uint64_t files_kept = 0;   // of files: complete outputs kept from an earlier run (counts below from their records)
  uint64_t jsonl_bytes_kept = 0, tokens_kept = 0;  // their share of jsonl_bytes and tokens (rates leave them out)
  // Of jsonl_bytes and tokens: done by an interrupted run and resumed from its checkpoint (rates leave them out).
  uint64_t jsonl_bytes_resumed = 0, tokens_resumed = 0;
  uint64_t input_bytes = 0;  // bytes read from the files (compressed for .zst)
  uint64_t jsonl_bytes = 0;  // bytes of JSONL after decompression
  uint64_t lines = 0;
  uint64_t blank_lines = 0;
  uint64_t documents = 0;          // per key, summed over keys
  uint64_t empty_documents = 0;    // documents that produced no tokens
  uint64_t sequences = 0;
  uint64_t tokens = 0;             // including appended EOD tokens
  uint64_t skipped_lines = 0;      // bad lines skipped with --on-error skip
  std::vector<std::string> first_errors;  // "file:line: reason", at most max_reported_errors
  std::vector<std::string> notes;         // checkpoints resumed or discarded, for the user
  double seconds = 0;

  void merge(const TokenizeStats& other);
};

// Tokenizes `input` into one dataset per key: output_prefixes[k] receives
// key k as <prefix>.bin/.idx, then <prefix>.sp-record (record.h: the input's
// identity, the tokenizer's identity and the options that shape the bytes,
// the pair's sizes and checksums, and the stats). Any earlier records of
// these outputs are removed before work starts. Throws InputError
// (file:line: reason) on the first bad line when on_error is kStop; nothing is
// left at a final name then, nor any part or checkpoint. With checkpoints on,
// a signal ends it with Interrupted after a last checkpoint (see the top of
// this file). Standard input ("-") gets no record and no checkpoints.
TokenizeStats tokenize_file(const TextTokenizer& tokenizer, const std::string& input,
                            const std::vector<std::string>& output_prefixes, const TokenizeOptions& options,
                            Progress* progress);

// Whether earlier outputs of this very tokenization can be kept: every
// prefix's record matches its .bin/.idx (sizes, mtimes), the input and the
// current tokenizer and options. `stats` then holds the recorded counts
// (files_kept = 1). Otherwise `notice` says why existing outputs will be
// rebuilt ("" when there were none).
struct TokenizedCheck {
  bool complete = false;
  TokenizeStats stats;
  std::string notice;
};
TokenizedCheck check_tokenized(const TextTokenizer& tokenizer, const std::string& input,
                               const std::vector<std::string>& output_prefixes, const TokenizeOptions& options);

// The fused path: one chunk of a concat plan (sp/concat.h) whose inputs are
// shards (their paths .jsonl.zst or .jsonl), tokenized from the stream
// open_concat_source gives (sp/byte_source.h): the bytes sp_concat would have
// written into chunk.output, so the outputs are the bytes sp_tokenize writes
// from that chunk file, without the file. With check_sizes, every shard must
// decompress to its planned size. The record lists every shard as an input,
// so a rerun keeps a chunk whose shards are unchanged. A bad line is reported
// as shard:line: reason (its line in the shard, not in the chunk).
TokenizeStats tokenize_chunk(const TextTokenizer& tokenizer, const Chunk& chunk, bool check_sizes,
                             const std::vector<std::string>& output_prefixes, const TokenizeOptions& options,
                             Progress* progress);
TokenizedCheck check_tokenized_chunk(const TextTokenizer& tokenizer, const Chunk& chunk,
                                     const std::vector<std::string>& output_prefixes, const TokenizeOptions& options);
// The paths of a chunk's inputs, in order.
std::vector<std::string> chunk_paths(const Chunk& chunk);

// "<prefix>_<key>_document", Megatron's naming for the outputs of one key.
std::string output_prefix_for(const std::string& prefix, const std::string& key);

// One rank's share of a job, for the "ranks" array of the --stats-json file.
struct RankTokenizeFigures {
  int rank = 0;
  uint64_t files = 0, jsonl_bytes = 0, tokens = 0;
  double seconds = 0;
};

// The stats as a JSON object (the --stats-json file): the totals at the top
// level, then "ranks" (one object per rank, in rank order) when given.
std::string stats_json(const TokenizeStats& stats, const std::string& tokenizer_name,
                       const std::vector<RankTokenizeFigures>& ranks = {});
// The human summary printed at the end.
std::string stats_summary(const TokenizeStats& stats);

}  // namespace sp
