// Inspecting Megatron indexed datasets (.bin/.idx pairs) of any size: what
// sp_inspect runs.
//
// Guarantees:
// - verify_datasets reads every pair memory-mapped, the work of each file
//   split across the current oneTBB arena, and checks: the .idx header (magic,
//   version, dtype code, counts against the file's size); every sequence
//   length non-negative; every sequence pointer equal to the previous pointer
//   plus the previous sequence's bytes (the first 0), which is what Megatron's
//   writer produces; the .bin's size equal to all sequences' bytes; document
//   indices starting at 0, never decreasing, never above the sequence count,
//   ending at it; and, when asked, every token id in [0, vocab_size) and the
//   EOD id at the end of every document that has tokens; where a completion
//   record (sp/record.h, "<prefix>.sp-record") lists the pair, the sizes and
//   content checksums it vouches for. Token and EOD checks run only where the
//   structure they rely on is sound (otherwise that is said, as a problem).
// - Every problem is a line that starts with the file it is in and says where
//   (sequence, document or token index, and the byte offset in that file).
//   All problems of a file are counted; the first max_problems of each kind
//   are kept, in file order. A dataset is ok when it has none.
// - The summary of a dataset whose structure is sound is exact, except
//   document-length percentiles above 255 tokens, which are rounded down to 8
//   significant bits (within 0.8%); min, max and mean are exact.
// - Nothing here writes beside the datasets; write_inspect_html writes one
//   file atomically (AtomicFile).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sp/indexed_dataset.h"

namespace sp {

class Progress;
struct TextTokenizer;

// Document lengths in tokens, in buckets: exact below 256, then 128 buckets
// per power of two. Mergeable, so per-file histograms add up to the total.
class LengthHistogram {
 public:
  void add(uint64_t length, uint64_t count = 1);
  void merge(const LengthHistogram& other);
  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // The smallest length at or above which `percent` of the lengths lie
  // (nearest rank), rounded down as the guarantee says; 0 when empty.
  uint64_t percentile(double percent) const;
  // Counts per power-of-two bin: bin 0 holds length 0, bin k lengths in [2^(k-1), 2^k).
  std::vector<uint64_t> log2_bins() const;

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0, sum_ = 0, min_ = UINT64_MAX, max_ = 0;
};

struct VerifyOptions {
  std::optional<uint64_t> vocab_size;  // every token id must be below it
  std::optional<int64_t> eod_id;       // every document with tokens must end with it
  bool check_records = true;           // compare checksums with the completion record where there is one
  size_t max_problems = 20;            // kept per kind of problem and file (all are counted)
  Progress* progress = nullptr;        // given bytes as they are read (.bin and .idx)
};

enum class RecordCheck { kAbsent, kMatched, kMismatched, kSkipped };
const char* record_check_name(RecordCheck r);  // "absent", "matched", "mismatched", "not checked"

struct DatasetSummary {
  std::string prefix;
  bool header_ok = false;  // the .idx header could be read; the counts below need it
  bool structure_ok = false;  // lengths, pointers, .bin size and document indices are consistent
  TokenDtype dtype = TokenDtype::kUint16;
  uint64_t documents = 0, sequences = 0, tokens = 0, empty_documents = 0;
  uint64_t bin_bytes = 0, idx_bytes = 0;
  LengthHistogram document_lengths;  // filled when structure_ok
  RecordCheck record = RecordCheck::kAbsent;
  std::vector<std::string> problems;  // kept problems, each "FILE: where: what"
  uint64_t problem_count = 0;         // all problems, kept or not
  bool ok() const { return problem_count == 0; }
};

struct InspectReport {
  std::vector<DatasetSummary> datasets;
  DatasetSummary total;  // sums over the datasets; prefix "total"; dtype meaningless
  uint64_t problem_count() const { return total.problem_count; }
};

// Verifies and summarises each dataset prefix (see expand_dataset_paths), in
// order. A file that cannot be opened or read is a problem of its dataset,
// not an exception; only a failure of the process itself (memory) throws, and
// Interrupted when a signal arrives (sp/interrupt.h: polled between tasks).
InspectReport verify_datasets(const std::vector<std::string>& prefixes, const VerifyOptions& options);

// The report as text for people (one block per dataset, then the total), and
// as one JSON document for machines.
std::string inspect_text(const InspectReport& report);
std::string inspect_json(const InspectReport& report);

// Writes `report` as one self-contained HTML page (inline SVG and CSS, no
// script, no network): a table of the datasets, token counts per dataset as
// bars, and the document-length histogram of all of them. The page is also
// well-formed XML (XHTML), so it parses with any XML parser.
void write_inspect_html(const InspectReport& report, const std::string& path);

// Document `document` of the dataset at `prefix`: its ids, decoded with
// `tokenizer`, preceded by one line naming the dataset, the document and its
// size. Throws Error naming the file when the document does not exist or the
// index around it is damaged, and when an id is negative or one the tokenizer
// has no entry for. A completion record whose tokenizer identity differs from
// `tokenizer`'s is an Error too: the text would be another tokenizer's.
std::string show_document(const std::string& prefix, uint64_t document, const TextTokenizer& tokenizer);

// Compares two datasets token by token, document by document (dtypes may
// differ: ids are compared). `identical` when documents, sequence boundaries
// and ids all agree; otherwise `difference` names the first differing
// document and token (or sequence boundary, or count). Throws Error naming
// the file when either index is damaged (sp_inspect without --compare says how).
struct CompareResult {
  bool identical = false;
  std::string difference;  // "" when identical
  std::string text;        // one or two lines for people, either way
};
CompareResult compare_datasets(const std::string& prefix_a, const std::string& prefix_b);

}  // namespace sp
