#include "sp/merge.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "sp/checksum.h"
#include "sp/error.h"
#include "sp/failpoint.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/io.h"
#include "sp/progress.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "sp/threads.h"

namespace sp {

namespace {

// The .idx layout of indexed_dataset.h: a 34-byte header, then int32
// lengths[S], int64 pointers[S], int64 document indices[D], unaligned.
constexpr uint64_t kHeaderBytes = 9 + 8 + 1 + 8 + 8;
constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};
constexpr uint64_t kBufferBytes = uint64_t{4} << 20;  // per worker and buffer: what bounds memory
constexpr std::string_view kJournalPlanEnd = "end of plan\n";

uint64_t lengths_at(uint64_t i) { return kHeaderBytes + 4 * i; }
uint64_t pointers_at(uint64_t sequences, uint64_t i) { return kHeaderBytes + 4 * sequences + 8 * i; }
uint64_t documents_at(uint64_t sequences, uint64_t j) { return kHeaderBytes + 12 * sequences + 8 * j; }

std::string describe(TokenDtype d) {
  return std::string(dtype_name(d)) + " (code " + std::to_string(static_cast<int>(d)) + ")";
}

// An input whose index contradicts itself or its .bin: the merge cannot be
// finished with it, so its parts are not kept for a rerun.
struct InconsistentInput : Error {
  using Error::Error;
};

struct Input {
  std::string prefix;
  IndexHeader header;
  uint64_t bin_size = 0;
  UniqueFd idx, bin;
  // Where its pieces go in the output.
  uint64_t sequence_base = 0;  // sequences of the inputs before it
  uint64_t document_base = 0;  // output position of its document index 1
  uint64_t bin_base = 0;       // bytes of the .bins before it
};

// One resumable unit of work: a range of one input's .bin bytes, lengths,
// pointers or document indices, written to one contiguous range of an output.
enum class PartKind { kBin, kLengths, kPointers, kDocuments };
struct Part {
  PartKind kind;
  size_t input;
  uint64_t begin, end;  // bytes of the .bin, or element indices
  uint64_t out_offset, out_bytes;
};

template <class T>
T read_one(const Input& in, uint64_t offset) {
  T v;
  if (pread_full(in.idx.get(), &v, sizeof v, offset, idx_path(in.prefix)) != sizeof v)
    throw Error(idx_path(in.prefix) + ": shorter than its header says");
  return v;
}

void read_exact(int fd, void* dst, size_t n, uint64_t offset, const std::string& path) {
  if (pread_full(fd, dst, n, offset, path) != n)
    throw Error(path + ": shorter than when the merge started (changed while being read?)");
}

// Record options that describe how documents were read, not the tokenizer:
// datasets that differ only in these may be merged.
bool is_tokenizer_option(const std::string& key) {
  static const std::set<std::string> kNot = {"json_key", "json_keys", "append_eod", "skip_empty", "on_error", "dtype"};
  return !kNot.count(key);
}

using Identity = std::vector<std::pair<std::string, std::string>>;

// The tokenizer identity the input's completion record vouches for; empty
// when there is no record, or it does not describe the files (a note says so).
Identity tokenizer_identity(const std::string& prefix, std::vector<std::string>& notes) {
  const std::string rp = record_path_for(prefix);
  if (!path_exists(rp)) return {};
  CompletionRecord rec;
  try {
    rec = read_record(rp);
  } catch (const Error& e) {
    notes.push_back(std::string("ignoring an unreadable completion record: ") + e.what());
    return {};
  }
  for (const FileIdentity& o : rec.outputs) {
    struct stat st;
    if (::stat(o.path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != o.size ||
        int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec != o.mtime_ns) {
      notes.push_back("'" + rp + "' does not describe '" + o.path + "' as it is now: its tokenizer is not checked");
      return {};
    }
  }
  Identity id;
  for (const auto& kv : rec.options)
    if (is_tokenizer_option(kv.first)) id.push_back(kv);
  return id;
}

std::string identity_difference(const Identity& a, const Identity& b) {
  std::map<std::string, std::pair<std::string, std::string>> keys;
  for (const auto& [k, v] : a) keys[k].first = v;
  for (const auto& [k, v] : b) keys[k].second = v;
  std::string s;
  for (const auto& [k, v] : keys)
    if (v.first != v.second)
      s += (s.empty() ? "" : ", ") + k + " " + (v.first.empty() ? "(none)" : v.first) + " vs " +
           (v.second.empty() ? "(none)" : v.second);
  return s;
}

std::string identity_line(const FileIdentity& f) {
  return f.path + " " + std::to_string(f.size) + " " + std::to_string(f.mtime_ns) + " " + f.fingerprint;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// The output being built: the two part files and the journal (locked).
class Work {
 public:
  Work(const std::string& out, const std::string& plan, uint64_t bin_bytes, uint64_t idx_bytes)
      : out_(out),
        plan_(plan),
        journal_path_(merge_journal_path(out)),
        bin_part_(merge_part_path(bin_path(out))),
        idx_part_(merge_part_path(idx_path(out))) {
    bool busy = false;
    journal_ = open_locked(journal_path_, /*create=*/true, &busy);
    if (busy)
      throw Error("another sp_merge is writing '" + out + "' (it holds the lock on '" + journal_path_ + "')");
    bin_bytes_ = bin_bytes;
    idx_bytes_ = idx_bytes;
  }

  // Reads the journal: the parts it lists, when it was made for this plan and
  // the part files are there at their full sizes; else starts afresh.
  std::map<uint64_t, std::string> open_or_start() {
    std::map<uint64_t, std::string> done;
    const std::string text = read_file(journal_path_);
    const std::string head = plan_ + std::string(kJournalPlanEnd);
    struct stat sb, si;
    const bool resumable = text.compare(0, head.size(), head) == 0 && ::stat(bin_part_.c_str(), &sb) == 0 &&
                           ::stat(idx_part_.c_str(), &si) == 0 && static_cast<uint64_t>(sb.st_size) == bin_bytes_ &&
                           static_cast<uint64_t>(si.st_size) == idx_bytes_;
    if (resumable) {
      std::istringstream lines(text.substr(head.size()));
      std::string line;
      // A line cut short by a kill has no '\n' (getline then hits eof): not trusted.
      while (std::getline(lines, line) && !lines.eof()) {
        std::istringstream f(line);
        std::string word, checksum;
        uint64_t part;
        if (f >> word >> part >> checksum && word == "part") done[part] = checksum;
      }
      bin_ = open_part(bin_part_, false);
      idx_ = open_part(idx_part_, false);
      journal_end_ = text.size();
      return done;
    }
    // Afresh: the journal is emptied first, so no listed part outlives the files it describes.
    if (::ftruncate(journal_.get(), 0) != 0) throw Error(errno_message("cannot truncate", journal_path_));
    bin_ = open_part(bin_part_, true);
    idx_ = open_part(idx_part_, true);
    if (::ftruncate(bin_.get(), static_cast<off_t>(bin_bytes_)) != 0)
      throw Error(errno_message("cannot size", bin_part_));
    if (::ftruncate(idx_.get(), static_cast<off_t>(idx_bytes_)) != 0)
      throw Error(errno_message("cannot size", idx_part_));
    pwrite_all(journal_.get(), head.data(), head.size(), 0, journal_path_);
    if (sync_outputs() && ::fsync(journal_.get()) != 0) throw Error(errno_message("cannot sync", journal_path_));
    journal_end_ = head.size();
    return done;
  }

  // Lists a written part; its bytes are made durable first when outputs are synced.
  void part_done(uint64_t part, const std::string& checksum, bool in_bin) {
    if (sync_outputs() && ::fdatasync(in_bin ? bin_.get() : idx_.get()) != 0)
      throw Error(errno_message("cannot sync", in_bin ? bin_part_ : idx_part_));
    const std::string line = "part " + std::to_string(part) + " " + checksum + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    pwrite_all(journal_.get(), line.data(), line.size(), journal_end_, journal_path_);
    journal_end_ += line.size();
  }

  int bin_fd() const { return bin_.get(); }
  int idx_fd() const { return idx_.get(); }
  const std::string& bin_part() const { return bin_part_; }
  const std::string& idx_part() const { return idx_part_; }

  // Renames the finished parts into place: the .bin first, the .idx last, an
  // older .idx removed before, so it never describes the new .bin.
  void commit() {
    const std::string idx = idx_path(out_);
    if (::unlink(idx.c_str()) != 0 && errno != ENOENT) throw Error(errno_message("cannot replace", idx));
    durable_rename(bin_.get(), bin_part_, bin_path(out_));
    failpoint("merge.between_bin_and_idx_rename");
    durable_rename(idx_.get(), idx_part_, idx);
  }

  // Removes the journal (the merge is recorded, or there was nothing to do) and any part files.
  void remove_all() {
    for (const std::string& p : {bin_part_, idx_part_, journal_path_})
      if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw Error(errno_message("cannot remove", p));
  }

 private:
  static UniqueFd open_part(const std::string& path, bool truncate) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644));
    if (!fd) throw Error(errno_message("cannot open", path));
    return fd;
  }

  std::string out_, plan_, journal_path_, bin_part_, idx_part_;
  uint64_t bin_bytes_ = 0, idx_bytes_ = 0, journal_end_ = 0;
  UniqueFd journal_, bin_, idx_;
  std::mutex mu_;
};

// Writes one part (checking the input as it goes) and returns the checksum of its bytes.
std::string write_part(const Part& p, const Input& in, uint64_t sequences_out, const Work& w, Progress* progress) {
  ChecksumStream sum;
  const uint64_t buffer = p.kind == PartKind::kBin       ? p.end - p.begin
                          : p.kind == PartKind::kLengths ? 4 * (p.end - p.begin)
                                                         : 0;
  std::vector<char> buf(static_cast<size_t>(std::min(kBufferBytes, buffer)));
  const std::string ip = idx_path(in.prefix);
  const auto emit = [&](int fd, const std::string& path, const void* data, size_t n, uint64_t offset) {
    sum.update(data, n);
    pwrite_all(fd, data, n, offset, path);
    if (progress) progress->add(n);
  };
  const uint64_t item = dtype_size(in.header.dtype);
  const uint64_t S = in.header.sequences;
  switch (p.kind) {
    case PartKind::kBin:
      for (uint64_t at = p.begin; at < p.end; at += kBufferBytes) {
        throw_if_interrupted();
        const size_t n = static_cast<size_t>(std::min(kBufferBytes, p.end - at));
        read_exact(in.bin.get(), buf.data(), n, at, bin_path(in.prefix));
        emit(w.bin_fd(), w.bin_part(), buf.data(), n, in.bin_base + at);
      }
      break;
    case PartKind::kLengths:
      for (uint64_t i = p.begin; i < p.end; i += kBufferBytes / 4) {
        throw_if_interrupted();
        const uint64_t n = std::min(kBufferBytes / 4, p.end - i);
        read_exact(in.idx.get(), buf.data(), n * 4, lengths_at(i), ip);
        for (uint64_t k = 0; k < n; ++k) {
          int32_t len;
          std::memcpy(&len, buf.data() + 4 * k, 4);
          if (len < 0) throw InconsistentInput(ip + ": sequence " + std::to_string(i + k) + " has a negative length");
        }
        emit(w.idx_fd(), w.idx_part(), buf.data(), n * 4, lengths_at(in.sequence_base + i));
      }
      break;
    case PartKind::kPointers: {
      // Megatron recomputes pointers as running offsets; the input's must be
      // exactly those (else its readers see other tokens than the merge),
      // and then the output's are the input's shifted by the .bins before.
      int64_t expected = 0;
      if (p.begin > 0) {
        const auto len = read_one<int32_t>(in, lengths_at(p.begin - 1));
        if (len < 0)
          throw InconsistentInput(ip + ": sequence " + std::to_string(p.begin - 1) + " has a negative length");
        expected = read_one<int64_t>(in, pointers_at(S, p.begin - 1)) + int64_t{len} * static_cast<int64_t>(item);
      }
      const uint64_t kEntries = std::min(kBufferBytes / 8, p.end - p.begin);
      std::vector<int32_t> lens(kEntries);
      std::vector<int64_t> ptrs(kEntries);
      for (uint64_t i = p.begin; i < p.end; i += kEntries) {
        throw_if_interrupted();
        const uint64_t n = std::min(kEntries, p.end - i);
        read_exact(in.idx.get(), lens.data(), n * 4, lengths_at(i), ip);
        read_exact(in.idx.get(), ptrs.data(), n * 8, pointers_at(S, i), ip);
        for (uint64_t k = 0; k < n; ++k) {
          if (ptrs[k] != expected)
            throw InconsistentInput(ip + ": sequence " + std::to_string(i + k) + " points at byte " +
                                    std::to_string(ptrs[k]) + ", not at " + std::to_string(expected) +
                                    " where the one before it ends");
          if (lens[k] < 0)
            throw InconsistentInput(ip + ": sequence " + std::to_string(i + k) + " has a negative length");
          expected += int64_t{lens[k]} * static_cast<int64_t>(item);
          ptrs[k] += static_cast<int64_t>(in.bin_base);
        }
        emit(w.idx_fd(), w.idx_part(), ptrs.data(), n * 8, pointers_at(sequences_out, in.sequence_base + i));
      }
      if (p.end == S && static_cast<uint64_t>(expected) != in.bin_size)
        throw InconsistentInput(bin_path(in.prefix) + ": size " + std::to_string(in.bin_size) +
                                " does not match its index, whose sequences end at byte " + std::to_string(expected));
      break;
    }
    case PartKind::kDocuments: {
      // Megatron appends document indices 1.. of each input offset by the sequences before it.
      int64_t previous = read_one<int64_t>(in, documents_at(S, p.begin - 1));
      const uint64_t kEntries = std::min(kBufferBytes / 8, p.end - p.begin);
      std::vector<int64_t> docs(kEntries);
      for (uint64_t j = p.begin; j < p.end; j += kEntries) {
        throw_if_interrupted();
        const uint64_t n = std::min(kEntries, p.end - j);
        read_exact(in.idx.get(), docs.data(), n * 8, documents_at(S, j), ip);
        for (uint64_t k = 0; k < n; ++k) {
          if (docs[k] < previous)
            throw InconsistentInput(ip + ": document indices decrease at " + std::to_string(j + k));
          previous = docs[k];
          docs[k] += static_cast<int64_t>(in.sequence_base);
        }
        emit(w.idx_fd(), w.idx_part(), docs.data(), n * 8, documents_at(sequences_out, in.document_base + (j - 1)));
      }
      break;
    }
  }
  return sum.finish();
}

// The checksum of the bytes a part left in its output, read back.
std::string checksum_written(const Part& p, const Work& w, Progress* progress) {
  ChecksumStream sum;
  std::vector<char> buf(static_cast<size_t>(std::min(kBufferBytes, p.out_bytes)));
  const bool in_bin = p.kind == PartKind::kBin;
  for (uint64_t at = 0; at < p.out_bytes; at += kBufferBytes) {
    throw_if_interrupted();
    const size_t n = static_cast<size_t>(std::min(kBufferBytes, p.out_bytes - at));
    read_exact(in_bin ? w.bin_fd() : w.idx_fd(), buf.data(), n, p.out_offset + at,
               in_bin ? w.bin_part() : w.idx_part());
    sum.update(buf.data(), n);
    if (progress) progress->add(n);
  }
  return sum.finish();
}

void add_parts(std::vector<Part>& parts, PartKind kind, size_t input, uint64_t begin, uint64_t end, uint64_t per_part,
               uint64_t out_offset, uint64_t item_bytes) {
  for (uint64_t b = begin; b < end; b += per_part) {
    const uint64_t e = std::min(end, b + per_part);
    parts.push_back({kind, input, b, e, out_offset + (b - begin) * item_bytes, (e - b) * item_bytes});
  }
}

}  // namespace

std::string merge_part_path(const std::string& final_path) { return final_path + ".sp-merge-part"; }
std::string merge_journal_path(const std::string& output_prefix) { return output_prefix + ".sp-merge-journal"; }

MergeStats merge_datasets(const std::vector<std::string>& paths, const std::string& output_prefix,
                          const MergeOptions& options, Progress* progress) {
  if (paths.empty()) throw UsageError("no input datasets given");
  if (output_prefix.empty()) throw UsageError("the output prefix is empty");
  if (options.part_bytes < 8) throw UsageError("the part size must be at least 8 bytes");
  MergeStats stats;
  const std::string out_abs = absolute_path(output_prefix);
  // An output among a directory's datasets would be an input of the next run
  // (and, half renamed after a kill, an unpaired file that stops it).
  for (const std::string& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && same_file(path, parent_dir(out_abs)))
      throw UsageError("the output '" + output_prefix + "' is inside the input directory '" + path +
                       "', where a rerun would take it for an input: write it elsewhere");
  }
  stats.inputs = expand_dataset_paths(paths);
  for (const std::string& prefix : stats.inputs)
    if (absolute_path(prefix) == out_abs || same_file(bin_path(prefix), bin_path(output_prefix)) ||
        same_file(idx_path(prefix), idx_path(output_prefix)))
      throw UsageError("the output '" + output_prefix + "' is also an input ('" + prefix +
                       "'): merge into another prefix");
  check_output_file_path(bin_path(output_prefix), "--output-prefix");

  // Headers, dtypes and layout: O(1) per input.
  std::vector<Input> inputs(stats.inputs.size());
  uint64_t sequences = 0, document_indices = 1, bin_bytes = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Input& in = inputs[k];
    in.prefix = stats.inputs[k];
    in.header = read_index_header(in.prefix);
    in.idx = open_for_reading(idx_path(in.prefix));
    in.bin = open_for_reading(bin_path(in.prefix));
    in.bin_size = file_size(bin_path(in.prefix));
    if (in.header.dtype != inputs[0].header.dtype)
      throw Error("cannot merge datasets of different token dtypes: '" + idx_path(in.prefix) + "' holds " +
                  describe(in.header.dtype) + " tokens, '" + idx_path(inputs[0].prefix) + "' (the first input) " +
                  describe(inputs[0].header.dtype) +
                  "; Megatron's merge takes the first input's dtype and requires "
                  "it of every input (re-tokenize one of them)");
    const std::string ip = idx_path(in.prefix);
    if (in.header.document_indices == 0 || read_one<int64_t>(in, documents_at(in.header.sequences, 0)) != 0)
      throw Error(ip + ": document indices must start at 0");
    if (static_cast<uint64_t>(read_one<int64_t>(
            in, documents_at(in.header.sequences, in.header.document_indices - 1))) != in.header.sequences)
      throw Error(ip + ": document indices must end at the sequence count " + std::to_string(in.header.sequences));
    if (in.header.sequences == 0 && in.bin_size != 0)
      throw Error(bin_path(in.prefix) + ": size " + std::to_string(in.bin_size) + " but its index has no sequences");
    in.sequence_base = sequences;
    in.document_base = document_indices;
    in.bin_base = bin_bytes;
    sequences += in.header.sequences;
    document_indices += in.header.document_indices - 1;
    bin_bytes += in.bin_size;
  }
  const TokenDtype dtype = inputs[0].header.dtype;
  stats.dtype = dtype;
  stats.dtype_description = describe(dtype);
  stats.sequences = sequences;
  stats.documents = document_indices - 1;
  stats.bin_bytes = bin_bytes;
  stats.tokens = bin_bytes / dtype_size(dtype);
  stats.idx_bytes = kHeaderBytes + 12 * sequences + 8 * document_indices;
  if (bin_bytes > uint64_t{INT64_MAX} || sequences > uint64_t{INT64_MAX} / 16)
    throw Error("the merged dataset would be too large for Megatron's int64 pointers and indices");

  // Tokenizers, as the inputs' completion records name them.
  Identity identity;
  std::string identity_from;
  std::vector<std::string> unrecorded;
  for (const Input& in : inputs) {
    const Identity id = tokenizer_identity(in.prefix, stats.notes);
    if (id.empty()) {
      unrecorded.push_back(in.prefix);
    } else if (identity_from.empty()) {
      identity = id;
      identity_from = in.prefix;
    } else if (id != identity) {
      throw Error("cannot merge datasets of different tokenizers: '" + in.prefix + "' and '" + identity_from +
                  "' differ in " + identity_difference(id, identity) + " (their completion records say)");
    }
  }
  if (!unrecorded.empty())
    stats.notes.push_back(std::to_string(unrecorded.size()) + " of " + std::to_string(inputs.size()) +
                          " inputs have no completion record naming their tokenizer (e.g. '" + unrecorded[0] +
                          "'): their vocabulary cannot be checked");

  // The output's record: the inputs' identities and, when every input named
  // it, the tokenizer, so a merge of merges is checked too.
  CompletionRecord record;
  record.path = record_path_for(output_prefix);
  record.tool = "sp_merge";
  if (unrecorded.empty()) record.options = identity;
  record.options.emplace_back("dtype", std::to_string(static_cast<int>(dtype)));
  for (const Input& in : inputs) {
    record.inputs.push_back(identify_input(idx_path(in.prefix)));
    record.inputs.push_back(identify_input(bin_path(in.prefix)));
  }
  record.outputs = {FileIdentity{bin_path(output_prefix)}, FileIdentity{idx_path(output_prefix)}};
  const std::vector<std::pair<std::string, uint64_t>> counts = {
      {"inputs", inputs.size()}, {"documents", stats.documents}, {"sequences", sequences}, {"tokens", stats.tokens}};

  // The plan a journal must have been made for to be resumed.
  std::string plan = "sp_merge journal 1\noutput " + out_abs + "\ndtype " + std::to_string(static_cast<int>(dtype)) +
                     "\npart_bytes " + std::to_string(options.part_bytes) + "\n";
  for (size_t k = 0; k < record.inputs.size(); ++k) plan += "input " + identity_line(record.inputs[k]) + "\n";

  Work work(output_prefix, plan, bin_bytes, stats.idx_bytes);  // locked from here on
  remove_stale_temps({bin_path(output_prefix), idx_path(output_prefix), record.path});
  const CompletionCheck check = check_completion(record, VerifyDepth::kQuick);
  const OutputDecision decision = decide_outputs(check, output_prefix, "", options.overwrite, false);
  if (decision.plan == OutputPlan::kKeep) {
    stats.kept = true;
    work.remove_all();  // a journal here is this lock's, or the finished merge's
    return stats;
  }
  if (!decision.message.empty()) stats.notes.push_back(decision.message);

  std::vector<Part> parts;
  const uint64_t per = options.part_bytes;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Input& in = inputs[k];
    const uint64_t S = in.header.sequences, D = in.header.document_indices;
    add_parts(parts, PartKind::kBin, k, 0, in.bin_size, per, in.bin_base, 1);
    add_parts(parts, PartKind::kLengths, k, 0, S, std::max<uint64_t>(1, per / 4), lengths_at(in.sequence_base), 4);
    add_parts(parts, PartKind::kPointers, k, 0, S, std::max<uint64_t>(1, per / 8),
              pointers_at(sequences, in.sequence_base), 8);
    add_parts(parts, PartKind::kDocuments, k, 1, D, std::max<uint64_t>(1, per / 8),
              documents_at(sequences, in.document_base), 8);
  }
  stats.parts = parts.size();
  if (progress) progress->add_total_bytes(bin_bytes + stats.idx_bytes);

  const std::map<uint64_t, std::string> done = work.open_or_start();
  std::atomic<uint64_t> resumed{0}, redone{0};
  try {
    parallel_for_each_index(parts.size(), [&](size_t i) {
      const Part& p = parts[i];
      const auto listed = done.find(i);
      if (listed != done.end()) {
        if (checksum_written(p, work, progress) == listed->second) {
          resumed.fetch_add(1, std::memory_order_relaxed);
          if (progress) progress->add(0, 1);
          return;
        }
        redone.fetch_add(1, std::memory_order_relaxed);
      }
      const std::string checksum = write_part(p, inputs[p.input], sequences, work, progress);
      work.part_done(i, checksum, p.kind == PartKind::kBin);
      if (progress) progress->add(0, 1);
      failpoint("merge.after_part");
    });
  } catch (const InconsistentInput&) {
    work.remove_all();
    throw;
  }
  stats.parts_resumed = resumed.load();
  stats.parts_redone = redone.load();

  // The header and the first document index, which no part writes.
  std::string head(kMagic, sizeof kMagic);
  const auto put = [&head](const auto v) { head.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(uint64_t{1});
  put(static_cast<uint8_t>(dtype));
  put(sequences);
  put(document_indices);
  pwrite_all(work.idx_fd(), head.data(), head.size(), 0, work.idx_part());
  const int64_t zero = 0;
  pwrite_all(work.idx_fd(), &zero, sizeof zero, documents_at(sequences, 0), work.idx_part());
  if (progress) progress->add(head.size() + sizeof zero);

  std::vector<CompletionRecord> records{record};
  build_recorded(records, [&] {
    work.commit();
    return BuildResult{{}, counts};
  });
  work.remove_all();
  return stats;
}

}  // namespace sp
