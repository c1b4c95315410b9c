// sp_merge's core: several Megatron indexed datasets merged into one, with the
// bytes Megatron-LM's tools/merge_datasets.py (IndexedDatasetBuilder.add_index
// then finalize) writes for the same inputs in the same order.
//
// Guarantees:
//   - Same bytes as Megatron: the dtype is the first input's, every other
//     input must have it; sequence lengths are concatenated; pointers are the
//     running byte offsets across the merged .bin; document indices are [0]
//     followed by each input's indices after its first, offset by the
//     sequences of the inputs before it; the .bin is the inputs' .bins in
//     order. Directories expand as expand_dataset_paths (Megatron's order).
//   - Inputs are checked while they are read (lengths >= 0, pointers equal to
//     the running offsets, .bin size, document indices from 0 to the sequence
//     count, never decreasing) and refused, naming the file, when they are
//     not consistent: Megatron would merge them into a dataset that reads
//     other tokens than the inputs.
//   - Datasets of different tokenizers are refused when their completion
//     records (sp/record.h) say so; an input without a record cannot be
//     checked and is named in MergeStats::notes.
//   - Memory is bounded by the worker threads' buffers, whatever the number
//     of sequences or bytes (64-bit counts and offsets throughout); parts of
//     the .bin and of the index arrays are written concurrently at offsets
//     known in advance.
//   - Atomic: the output is built in "<out>.bin.sp-merge-part" and
//     "<out>.idx.sp-merge-part"; only when every part is written are the
//     .bin and then the .idx renamed into place and the completion record
//     written, so an existing output is untouched until its replacement is
//     complete, and a pair with an .idx is always complete.
//   - Resumable: each finished part is listed, with the checksum of its
//     bytes, in "<out>.sp-merge-journal" (after the part is synced, when
//     outputs are synced). A rerun with the same inputs (same identity:
//     size, mtime, fingerprint) and part size verifies each listed part
//     against its checksum and writes only the parts that are missing or do
//     not verify. Any other journal is discarded. One process at a time may
//     write an output (a lock on the journal).
//   - A rerun whose output record matches the inputs keeps the output
//     (MergeStats::kept) unless overwrite is set.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sp/indexed_dataset.h"

namespace sp {

class Progress;

struct MergeOptions {
  uint64_t part_bytes = uint64_t{256} << 20;  // size of the resumable parts (.bin bytes; index bytes likewise)
  bool overwrite = false;                     // rebuild even an output whose record says it is complete
};

struct MergeStats {
  std::vector<std::string> inputs;  // the dataset prefixes, in merge order
  TokenDtype dtype = TokenDtype::kUint16;
  std::string dtype_description;  // "uint16 (code 8)"
  uint64_t documents = 0, sequences = 0, tokens = 0;
  uint64_t bin_bytes = 0, idx_bytes = 0;
  uint64_t parts = 0;              // parts of the whole merge
  uint64_t parts_resumed = 0;      // of parts: kept from an interrupted run after verifying their checksum
  uint64_t parts_redone = 0;       // of parts: listed in the journal but not verifying, written again
  bool kept = false;               // the output was already complete: nothing written
  std::vector<std::string> notes;  // for the user: a rebuild's reason, inputs whose tokenizer is unknown
};

// The files beside an output that a merge writes while it works.
std::string merge_part_path(const std::string& final_path);        // "<final>.sp-merge-part"
std::string merge_journal_path(const std::string& output_prefix);  // "<prefix>.sp-merge-journal"

// Merges the datasets `inputs` name (prefixes, .bin/.idx files or
// directories, expanded by expand_dataset_paths) into output_prefix.bin/.idx
// and its completion record, in parallel on the current oneTBB arena. Throws
// UsageError when there is no input or the output is one of the inputs,
// Error naming the file for mixed dtypes or tokenizers, inconsistent inputs,
// and I/O failures (the parts written so far stay for a rerun).
MergeStats merge_datasets(const std::vector<std::string>& inputs, const std::string& output_prefix,
                          const MergeOptions& options, Progress* progress = nullptr);

}  // namespace sp
