#include "sp/inspect.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>

#include "sp/checksum.h"
#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/json_out.h"
#include "sp/progress.h"
#include "sp/record.h"
#include "sp/threads.h"
#include "sp/tokenizer.h"

namespace sp {

namespace {

// Where the .idx arrays start (magic 9 + version 8 + dtype 1 + two counts 16):
// positions in messages are byte offsets into the files.
constexpr uint64_t kIdxArrays = 34;
constexpr uint64_t kSequencesPerChunk = uint64_t{1} << 20;
constexpr uint64_t kBinBytesPerChunk = uint64_t{16} << 20;

std::string num(uint64_t v) { return std::to_string(v); }
std::string num(int64_t v) { return std::to_string(v); }

// Kinds of problem, in the order they are reported.
enum Kind : size_t { kOpen, kLength, kPointer, kBinSize, kDocIndex, kToken, kEod, kRecord, kKinds };

struct Problem {
  Kind kind;
  uint64_t position;  // orders problems of a kind
  std::string text;
};

// Problems found by one task: counted all, kept up to `max` per kind (a task
// scans in file order, so its first ones are the ones worth keeping).
struct Found {
  explicit Found(size_t max) : max(max) {}
  size_t max;
  std::array<uint64_t, kKinds> counts{};
  std::vector<Problem> kept;
  template <class Text>
  void add(Kind k, uint64_t position, Text&& text) {
    if (counts[k]++ < max) kept.push_back({k, position, text()});
  }
  uint64_t structural() const { return counts[kLength] + counts[kPointer] + counts[kBinSize] + counts[kDocIndex]; }
};

// One file's problems, gathered from its tasks.
class Problems {
 public:
  explicit Problems(size_t max) : all_(max) {}
  void merge(Found&& f) {
    std::lock_guard lock(mu_);
    for (size_t k = 0; k < kKinds; ++k) all_.counts[k] += f.counts[k];
    for (auto& p : f.kept) all_.kept.push_back(std::move(p));
  }
  Found& direct() { return all_; }  // for serial steps
  uint64_t count(Kind k) const { return all_.counts[k]; }
  uint64_t structural() const { return all_.structural(); }
  void finish(DatasetSummary& s) {
    auto& kept = all_.kept;
    std::stable_sort(kept.begin(), kept.end(), [](const Problem& a, const Problem& b) {
      return a.kind != b.kind ? a.kind < b.kind : a.position < b.position;
    });
    std::array<size_t, kKinds> taken{};
    for (auto& p : kept)
      if (taken[p.kind]++ < all_.max) s.problems.push_back(std::move(p.text));
    for (uint64_t c : all_.counts) s.problem_count += c;
    for (size_t k = 0; k < kKinds; ++k)
      if (all_.counts[k] > all_.max)
        s.problems.push_back(s.prefix + ": ... and " + num(all_.counts[k] - all_.max) +
                             " more problem(s) like the last");
  }

 private:
  std::mutex mu_;
  Found all_;
};

// Splits [0, n) into chunks of `per` and runs body(begin, end, found) on each
// in parallel, merging what each finds.
void for_chunks(uint64_t n, uint64_t per, Problems& problems, size_t max,
                const std::function<void(uint64_t, uint64_t, Found&)>& body) {
  const uint64_t chunks = (n + per - 1) / per;
  parallel_for_each_index(chunks, [&](size_t c) {
    throw_if_interrupted();
    Found found(max);
    const uint64_t begin = c * per;
    body(begin, std::min(n, begin + per), found);
    problems.merge(std::move(found));
  });
}

// Whether a sequence's bytes lie inside a .bin of `size` bytes. A length is
// below 2^31 and an item at most 8 bytes, so the sum of a non-negative int64
// pointer and the bytes cannot wrap a uint64.
bool within(int64_t ptr, int64_t len, uint64_t item, uint64_t size) {
  return ptr >= 0 && len >= 0 && static_cast<uint64_t>(ptr) + static_cast<uint64_t>(len) * item <= size;
}

bool is_signed(TokenDtype d) { return d != TokenDtype::kUint8 && d != TokenDtype::kUint16; }

// Token ids of .bin bytes [begin, end) that are not below `limit` (ids are
// widened to int64 and compared as uint64, so negative ones are never below):
// a max over the block first, which vectorizes, then a second look only when
// something is out of range.
template <class T>
void scan_tokens(const char* bin, uint64_t begin, uint64_t end, uint64_t limit,
                 const std::function<void(uint64_t, int64_t)>& bad) {
  const uint64_t n = (end - begin) / sizeof(T);
  const char* p = bin + begin;
  uint64_t high = 0;
  for (uint64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    high = std::max(high, static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
  if (high < limit) return;
  for (uint64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    if (static_cast<uint64_t>(static_cast<int64_t>(v)) >= limit) bad(begin + i * sizeof(T), static_cast<int64_t>(v));
  }
}

// The completion record's word on the pair, where there is one.
RecordCheck check_record(const std::string& prefix, Found& found, Progress* progress) {
  const std::string rp = record_path_for(prefix);
  if (!path_exists(rp)) return RecordCheck::kAbsent;
  CompletionRecord record;
  try {
    record = read_record(rp);
  } catch (const Error& e) {
    found.add(kRecord, 0, [&] { return rp + ": unreadable completion record: " + e.what(); });
    return RecordCheck::kMismatched;
  }
  bool listed = false, mismatched = false;
  for (const std::string& file : {bin_path(prefix), idx_path(prefix)}) {
    for (const FileIdentity& o : record.outputs) {
      if (base_name(o.path) != base_name(file)) continue;
      listed = true;
      try {
        const uint64_t size = file_size(file);
        if (size != o.size) {
          mismatched = true;
          found.add(kRecord, 0, [&] {
            return file + ": " + num(size) + " bytes, but its completion record " + rp + " says " + num(o.size);
          });
          break;
        }
        const std::string sum = file_checksum(file);
        if (progress) progress->add(size);
        throw_if_interrupted();  // a checksum cut short is no verdict
        if (sum != o.fingerprint) {
          mismatched = true;
          found.add(kRecord, 0, [&] {
            return file + ": checksum " + sum + " differs from its completion record's " + o.fingerprint + " (" + rp +
                   "): the contents changed after it was written";
          });
        }
      } catch (const Interrupted&) {
        throw;
      } catch (const Error& e) {
        mismatched = true;
        found.add(kRecord, 0, [&] { return std::string(e.what()); });
      }
    }
  }
  if (!listed) {
    found.add(kRecord, 0,
              [&] { return rp + ": the completion record lists neither " + bin_path(prefix) + " nor .idx"; });
    return RecordCheck::kMismatched;
  }
  return mismatched ? RecordCheck::kMismatched : RecordCheck::kMatched;
}

DatasetSummary verify_one(const std::string& prefix, const VerifyOptions& o) {
  DatasetSummary s;
  s.prefix = prefix;
  const std::string ip = idx_path(prefix), bp = bin_path(prefix);
  const size_t max = std::max<size_t>(o.max_problems, 1);
  Problems problems(max);
  std::optional<MappedIndexedDataset> opened;
  try {
    opened.emplace(prefix);
  } catch (const Error& e) {
    problems.direct().add(kOpen, 0, [&] { return std::string(e.what()); });
    for (auto [file, bytes] : {std::pair{&ip, &s.idx_bytes}, std::pair{&bp, &s.bin_bytes}})
      try {
        if (path_exists(*file)) *bytes = file_size(*file);  // the sizes, at least, for the summary
      } catch (const Error&) {  // not a regular file: already the problem reported
      }
  }
  if (opened) {
    const MappedIndexedDataset& ds = *opened;
    s.header_ok = true;
    const IndexHeader& h = ds.header();
    s.dtype = h.dtype;
    s.sequences = h.sequences;
    s.documents = h.documents();
    s.bin_bytes = ds.bin().size();
    s.idx_bytes = kIdxArrays + h.sequences * 12 + h.document_indices * 8;
    const uint64_t item = dtype_size(h.dtype);
    const uint64_t S = h.sequences, D = h.document_indices;

    // Lengths and pointers: each pointer must follow the one before it, so
    // every check is local to a chunk and a bad entry is named once or twice.
    std::mutex mu;
    uint64_t token_sum = 0, first_cut = UINT64_MAX;
    for_chunks(S, kSequencesPerChunk, problems, max, [&](uint64_t b, uint64_t e, Found& f) {
      uint64_t sum = 0, cut = UINT64_MAX;
      for (uint64_t i = b; i < e; ++i) {
        const int64_t len = ds.sequence_length(i), ptr = ds.sequence_pointer(i);
        if (len < 0) {
          f.add(kLength, i, [&] {
            return ip + ": sequence " + num(i) + " (.idx byte " + num(kIdxArrays + 4 * i) + "): negative length " +
                   num(len);
          });
        } else {
          sum += static_cast<uint64_t>(len);
        }
        if (i == 0) {
          if (ptr != 0)
            f.add(kPointer, i, [&] {
              return ip + ": sequence 0 (.idx byte " + num(kIdxArrays + 4 * S) + "): pointer " + num(ptr) +
                     ", expected 0";
            });
        } else if (const int64_t plen = ds.sequence_length(i - 1); plen >= 0) {
          // Modular arithmetic: a wild previous pointer cannot overflow, and equality is what matters.
          const uint64_t want = static_cast<uint64_t>(ds.sequence_pointer(i - 1)) + static_cast<uint64_t>(plen) * item;
          if (static_cast<uint64_t>(ptr) != want)
            f.add(kPointer, i, [&] {
              return ip + ": sequence " + num(i) + " (.idx byte " + num(kIdxArrays + 4 * S + 8 * i) + "): pointer " +
                     num(ptr) + ", expected " + num(static_cast<int64_t>(want)) + " (sequence " + num(i - 1) +
                     "'s pointer plus its " + num(plen) + " tokens)";
            });
        }
        if (len >= 0 && !within(ptr, len, item, s.bin_bytes)) cut = std::min(cut, i);
      }
      std::lock_guard lock(mu);
      token_sum += sum;
      first_cut = std::min(first_cut, cut);
    });
    s.tokens = token_sum;
    if (o.progress) o.progress->add(s.idx_bytes);
    if (token_sum * item != s.bin_bytes)
      problems.direct().add(kBinSize, 0, [&] {
        std::string t = bp + ": " + num(s.bin_bytes) + " bytes, but the index's " + num(token_sum) + " tokens of " +
                        num(item) + " byte(s) need " + num(token_sum * item);
        if (token_sum * item > s.bin_bytes) {
          t += " (truncated";
          if (first_cut != UINT64_MAX) t += ": sequence " + num(first_cut) + " and later lie beyond its end";
          t += ")";
        }
        return t;
      });

    // Document indices: from 0, never decreasing, up to the sequence count.
    const uint64_t doc_base = kIdxArrays + 12 * S;
    if (D == 0)
      problems.direct().add(kDocIndex, 0, [&] {
        return ip + ": no document indices (a well-formed index has at least the leading 0)";
      });
    for_chunks(D, kSequencesPerChunk, problems, max, [&](uint64_t b, uint64_t e, Found& f) {
      for (uint64_t j = b; j < e; ++j) {
        const int64_t v = ds.document_index(j);
        const std::string where = ip + ": document index " + num(j) + " (.idx byte " + num(doc_base + 8 * j) + "): ";
        if (j == 0 && v != 0) f.add(kDocIndex, j, [&] { return where + num(v) + ", expected 0"; });
        else if (v < 0 || static_cast<uint64_t>(v) > S)
          f.add(kDocIndex, j, [&] { return where + num(v) + " is outside 0.." + num(S) + " (the sequence count)"; });
        else if (j > 0 && v < ds.document_index(j - 1))
          f.add(kDocIndex, j, [&] {
            return where + num(v) + " is below the index before it (" + num(ds.document_index(j - 1)) + ")";
          });
        else if (j + 1 == D && static_cast<uint64_t>(v) != S)
          f.add(kDocIndex, j,
                [&] { return where + "the last is " + num(v) + ", expected the sequence count " + num(S); });
      }
    });
    s.structure_ok = problems.structural() == 0;

    // Token ids, over the whole .bin in blocks; sequences named where the
    // pointers can be trusted to say which one holds a byte.
    const bool pointers_ok = problems.count(kLength) + problems.count(kPointer) == 0;
    auto sequence_of = [&](uint64_t byte) -> std::string {
      if (!pointers_ok || S == 0) return "";
      uint64_t lo = 0, hi = S;  // last sequence whose pointer is <= byte
      while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        (static_cast<uint64_t>(ds.sequence_pointer(mid)) <= byte ? lo : hi) = mid;
      }
      return " (sequence " + num(lo) + ", token " + num((byte - ds.sequence_pointer(lo)) / item) + ")";
    };
    const uint64_t limit = o.vocab_size ? *o.vocab_size : uint64_t{1} << 63;
    const uint64_t dtype_top = h.dtype == TokenDtype::kUint8 ? 256 : h.dtype == TokenDtype::kUint16 ? 65536 : 0;
    const bool scan = (o.vocab_size || is_signed(h.dtype)) && !(dtype_top && dtype_top <= limit);
    const uint64_t usable = s.bin_bytes / item * item;
    const uint64_t block = kBinBytesPerChunk / item * item;
    const char* bin = ds.bin().data();
    for_chunks(scan ? usable : 0, block, problems, max, [&](uint64_t b, uint64_t e, Found& f) {
      auto bad = [&](uint64_t byte, int64_t id) {
        f.add(kToken, byte, [&] {
          std::string t = bp + ": .bin byte " + num(byte) + sequence_of(byte) + ": token id " +
                          (id == INT64_MIN && (h.dtype == TokenDtype::kFloat32 || h.dtype == TokenDtype::kFloat64)
                               ? std::string("not a number")
                               : num(id));
          return t + (id < 0 ? " is negative" : " is not below the vocabulary size " + num(limit));
        });
      };
      switch (h.dtype) {
        case TokenDtype::kUint8: scan_tokens<uint8_t>(bin, b, e, limit, bad); break;
        case TokenDtype::kInt8: scan_tokens<int8_t>(bin, b, e, limit, bad); break;
        case TokenDtype::kInt16: scan_tokens<int16_t>(bin, b, e, limit, bad); break;
        case TokenDtype::kUint16: scan_tokens<uint16_t>(bin, b, e, limit, bad); break;
        case TokenDtype::kInt32: scan_tokens<int32_t>(bin, b, e, limit, bad); break;
        case TokenDtype::kInt64: scan_tokens<int64_t>(bin, b, e, limit, bad); break;
        case TokenDtype::kFloat32:
        case TokenDtype::kFloat64:
          for (uint64_t p = b; p < e; p += item) {
            const int64_t id = ds.token_at(p);
            if (static_cast<uint64_t>(id) >= limit) bad(p, id);
          }
          break;
      }
      if (o.progress) o.progress->add(e - b);
    });
    if (!scan && o.progress) o.progress->add(s.bin_bytes);

    // Documents: lengths, empties and the EOD, where the structure is sound.
    if (s.structure_ok && D > 0) {
      uint64_t empty = 0;
      for_chunks(D - 1, kSequencesPerChunk, problems, max, [&](uint64_t b, uint64_t e, Found& f) {
        LengthHistogram hist;
        uint64_t chunk_empty = 0;
        for (uint64_t d = b; d < e; ++d) {
          const uint64_t s0 = ds.document_index(d), s1 = ds.document_index(d + 1);
          const uint64_t start = s0 < S ? ds.sequence_pointer(s0) : s.bin_bytes;
          const uint64_t end = s1 > s0 ? ds.sequence_pointer(s1 - 1) + ds.sequence_length(s1 - 1) * item : start;
          const uint64_t length = (end - start) / item;
          hist.add(length);
          if (length == 0) {
            ++chunk_empty;
          } else if (o.eod_id) {
            const int64_t last = ds.token_at(end - item);
            if (last != *o.eod_id)
              f.add(kEod, d, [&] {
                return bp + ": document " + num(d) + " (.bin byte " + num(end - item) + ", sequence " + num(s1 - 1) +
                       "): ends with id " + num(last) + ", not the EOD " + num(*o.eod_id);
              });
          }
        }
        std::lock_guard lock(mu);
        s.document_lengths.merge(hist);
        empty += chunk_empty;
      });
      s.empty_documents = empty;
    } else if (o.eod_id && problems.structural() > 0) {
      problems.direct().add(kEod, 0, [&] {
        return ip + ": documents' EOD not checked: the index above is damaged";
      });
    }
  }
  if (o.check_records) s.record = check_record(prefix, problems.direct(), o.progress);
  else s.record = RecordCheck::kSkipped;
  problems.finish(s);
  return s;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// 1234567 -> "1,234,567".
std::string grouped(uint64_t v) {
  std::string d = num(v), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

void add_totals(DatasetSummary& t, const DatasetSummary& s) {
  t.documents += s.documents;
  t.sequences += s.sequences;
  t.tokens += s.tokens;
  t.empty_documents += s.empty_documents;
  t.bin_bytes += s.bin_bytes;
  t.idx_bytes += s.idx_bytes;
  t.document_lengths.merge(s.document_lengths);
  t.problem_count += s.problem_count;
  t.header_ok = t.header_ok && s.header_ok;
  t.structure_ok = t.structure_ok && s.structure_ok;
}

std::string lengths_text(const LengthHistogram& h) {
  return "min " + grouped(h.min()) + ", p50 " + grouped(h.percentile(50)) + ", p90 " + grouped(h.percentile(90)) +
         ", p99 " + grouped(h.percentile(99)) + ", max " + grouped(h.max()) + ", mean " + fixed(h.mean(), 1);
}

std::string summary_text(const DatasetSummary& s, bool total) {
  std::string t;
  if (!total || s.header_ok) {
    t += "  " + std::string(total ? "" : std::string(dtype_name(s.dtype)) + ", ") + grouped(s.documents) +
         " documents (" + grouped(s.empty_documents) + " empty), " + grouped(s.sequences) + " sequences, " +
         grouped(s.tokens) + " tokens, " + cli::format_size(s.bin_bytes + s.idx_bytes) + " (.bin " +
         cli::format_size(s.bin_bytes) + ", .idx " + cli::format_size(s.idx_bytes) + ")\n";
  }
  if (s.document_lengths.count())
    t += "  document length in tokens: " + lengths_text(s.document_lengths) + "\n";
  else if (s.header_ok && s.documents)
    t += "  document lengths: not computed (the index is damaged)\n";
  return t;
}

std::string json_lengths(const LengthHistogram& h) {
  std::string bins;
  for (uint64_t c : h.log2_bins()) bins += (bins.empty() ? "" : ", ") + num(c);
  return "{\"count\": " + num(h.count()) + ", \"min\": " + num(h.min()) + ", \"p50\": " + num(h.percentile(50)) +
         ", \"p90\": " + num(h.percentile(90)) + ", \"p99\": " + num(h.percentile(99)) + ", \"max\": " + num(h.max()) +
         ", \"mean\": " + fixed(h.mean(), 3) + ", \"log2_bins\": [" + bins + "]}";
}

std::string json_summary(const DatasetSummary& s, bool total, const std::string& indent) {
  std::string j = "{";
  auto field = [&](const std::string& name, const std::string& value) {
    j += (j.size() > 1 ? ",\n" : "\n") + indent + "  " + json_quote(name) + ": " + value;
  };
  if (!total) {
    field("prefix", json_quote(s.prefix));
    field("bin", json_quote(bin_path(s.prefix)));
    field("idx", json_quote(idx_path(s.prefix)));
  }
  field("ok", s.ok() ? "true" : "false");
  if (!total) field("dtype", s.header_ok ? json_quote(dtype_name(s.dtype)) : "null");
  field("header_ok", s.header_ok ? "true" : "false");
  field("structure_ok", s.structure_ok ? "true" : "false");
  field("documents", num(s.documents));
  field("empty_documents", num(s.empty_documents));
  field("sequences", num(s.sequences));
  field("tokens", num(s.tokens));
  field("bin_bytes", num(s.bin_bytes));
  field("idx_bytes", num(s.idx_bytes));
  // The total's lengths are those of the sound datasets.
  field("document_length",
        s.structure_ok || s.document_lengths.count() ? json_lengths(s.document_lengths) : "null");
  if (!total) {
    field("record", json_quote(record_check_name(s.record)));
    std::string list;
    for (const auto& p : s.problems) list += (list.empty() ? "" : ", ") + json_quote(p);
    field("problems", "[" + list + "]");
  }
  field("problem_count", num(s.problem_count));
  return j + "\n" + indent + "}";
}

}  // namespace

void LengthHistogram::add(uint64_t length, uint64_t count) {
  if (count == 0) return;
  size_t b = length;
  if (length >= 256) {
    const int e = std::bit_width(length) - 1;
    b = 256 + static_cast<size_t>(e - 8) * 128 + ((length >> (e - 7)) & 127);
  }
  if (b >= buckets_.size()) buckets_.resize(b + 1);
  buckets_[b] += count;
  count_ += count;
  sum_ += length * count;
  min_ = std::min(min_, length);
  max_ = std::max(max_, length);
}

void LengthHistogram::merge(const LengthHistogram& other) {
  if (other.count_ == 0) return;
  if (other.buckets_.size() > buckets_.size()) buckets_.resize(other.buckets_.size());
  for (size_t b = 0; b < other.buckets_.size(); ++b) buckets_[b] += other.buckets_[b];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

namespace {
uint64_t bucket_floor(size_t b) {
  if (b < 256) return b;
  const size_t e = (b - 256) / 128 + 8, sub = (b - 256) % 128;
  return static_cast<uint64_t>(128 + sub) << (e - 7);
}
}  // namespace

uint64_t LengthHistogram::percentile(double percent) const {
  if (count_ == 0) return 0;
  if (percent >= 100) return max_;
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) return std::clamp(bucket_floor(b), min_, max_);
  }
  return max_;
}

std::vector<uint64_t> LengthHistogram::log2_bins() const {
  std::vector<uint64_t> bins;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (!buckets_[b]) continue;
    const size_t k = std::bit_width(bucket_floor(b));
    if (k >= bins.size()) bins.resize(k + 1);
    bins[k] += buckets_[b];
  }
  return bins;
}

const char* record_check_name(RecordCheck r) {
  switch (r) {
    case RecordCheck::kAbsent: return "absent";
    case RecordCheck::kMatched: return "matched";
    case RecordCheck::kMismatched: return "mismatched";
    case RecordCheck::kSkipped: return "not checked";
  }
  return "?";
}

InspectReport verify_datasets(const std::vector<std::string>& prefixes, const VerifyOptions& options) {
  InspectReport report;
  report.total.prefix = "total";
  report.total.header_ok = report.total.structure_ok = true;
  if (options.progress) {
    uint64_t total = 0;
    for (const auto& p : prefixes)
      for (const std::string& f : {bin_path(p), idx_path(p)}) {
        if (!path_exists(f)) continue;
        const uint64_t size = file_size(f);
        total += size;
        if (options.check_records && path_exists(record_path_for(p))) total += size;  // read again for the checksum
      }
    options.progress->add_total_bytes(total);
  }
  for (const auto& p : prefixes) {
    throw_if_interrupted();
    report.datasets.push_back(verify_one(p, options));
    add_totals(report.total, report.datasets.back());
  }
  return report;
}

std::string inspect_text(const InspectReport& r) {
  std::string t;
  uint64_t bad = 0;
  for (const auto& s : r.datasets) {
    bad += !s.ok();
    t += s.prefix + ": " + (s.ok() ? "ok" : num(s.problem_count) + " problem(s)");
    if (s.record != RecordCheck::kAbsent) t += std::string(", completion record ") + record_check_name(s.record);
    t += '\n';
    t += summary_text(s, false);
  }
  if (r.datasets.size() != 1) {
    t += "total: " + num(r.datasets.size()) + " dataset(s), " +
         (bad ? num(bad) + " with problems (" + num(r.total.problem_count) + ")" : std::string("all ok")) + "\n";
    t += summary_text(r.total, true);
  }
  return t;
}

std::string inspect_json(const InspectReport& r) {
  std::string j = "{\n  \"ok\": " + std::string(r.total.ok() ? "true" : "false") + ",\n  \"datasets\": [";
  for (size_t i = 0; i < r.datasets.size(); ++i) j += (i ? ", " : "") + json_summary(r.datasets[i], false, "  ");
  return j + "],\n  \"total\": " + json_summary(r.total, true, "  ") + "\n}\n";
}

namespace {

// The token range of document d, checked against the index and the .bin.
struct DocumentSpan {
  uint64_t first_sequence = 0, end_sequence = 0;
  uint64_t begin = 0, end = 0;  // .bin bytes
};

DocumentSpan document_span(const MappedIndexedDataset& ds, uint64_t d) {
  const IndexHeader& h = ds.header();
  const std::string ip = idx_path(ds.prefix());
  const auto damaged = [&](const std::string& why) {
    return Error(ip + ": document " + num(d) + ": " + why + " (sp_inspect " + ds.prefix() + " lists what is wrong)");
  };
  if (d >= h.documents())
    throw Error(ip + ": no document " + num(d) + " (the dataset has " + num(h.documents()) + ")");
  const int64_t s0 = ds.document_index(d), s1 = ds.document_index(d + 1);
  if (s0 < 0 || s1 < s0 || static_cast<uint64_t>(s1) > h.sequences) throw damaged("damaged document indices");
  DocumentSpan span{static_cast<uint64_t>(s0), static_cast<uint64_t>(s1), 0, 0};
  const uint64_t item = dtype_size(h.dtype);
  for (uint64_t i = span.first_sequence; i < span.end_sequence; ++i) {
    const int64_t ptr = ds.sequence_pointer(i), len = ds.sequence_length(i);
    const uint64_t want = i == span.first_sequence ? static_cast<uint64_t>(ptr) : span.end;
    if (len < 0 || ptr < 0 || static_cast<uint64_t>(ptr) != want || !within(ptr, len, item, ds.bin().size()))
      throw damaged("sequence " + num(i) + " has a damaged length or pointer");
    if (i == span.first_sequence) span.begin = static_cast<uint64_t>(ptr);
    span.end = static_cast<uint64_t>(ptr) + static_cast<uint64_t>(len) * item;
  }
  return span;
}

}  // namespace

std::string show_document(const std::string& prefix, uint64_t document, const TextTokenizer& tokenizer) {
  const MappedIndexedDataset ds(prefix);
  const DocumentSpan span = document_span(ds, document);
  const uint64_t item = dtype_size(ds.header().dtype);
  // The record names the tokenizer that made the pair: decoding with another gives another text.
  if (const std::string rp = record_path_for(prefix); path_exists(rp)) {
    const CompletionRecord record = read_record(rp);
    for (const auto& [key, value] : tokenizer.identity)
      for (const auto& [rkey, rvalue] : record.options)
        if (rkey == key && rvalue != value)
          throw Error(prefix + ": made with another tokenizer (its completion record " + rp + " has " + key + " " +
                      rvalue + ", the tokenizer given has " + value + "); give the tokenizer flags it was made with");
  }
  std::vector<uint32_t> ids;
  ids.reserve((span.end - span.begin) / item);
  for (uint64_t p = span.begin; p < span.end; p += item) {
    const int64_t id = ds.token_at(p);
    if (id < 0 || id > UINT32_MAX)
      throw Error(bin_path(prefix) + ": .bin byte " + num(p) + ": token id " + num(id) + " cannot be decoded");
    ids.push_back(static_cast<uint32_t>(id));
  }
  std::string out = "# " + prefix + ": document " + num(document) + " of " + num(ds.header().documents()) + ", " +
                    num(static_cast<uint64_t>(ids.size())) + " tokens in " +
                    num(span.end_sequence - span.first_sequence) + " sequence(s), " + tokenizer.name + "\n";
  return out + tokenizer.decode(ids);
}

CompareResult compare_datasets(const std::string& prefix_a, const std::string& prefix_b) {
  const MappedIndexedDataset a(prefix_a), b(prefix_b);
  const uint64_t da = a.header().documents(), db = b.header().documents();
  const uint64_t ia = dtype_size(a.header().dtype), ib = dtype_size(b.header().dtype);
  const bool same_dtype = a.header().dtype == b.header().dtype;
  const uint64_t common = std::min(da, db);

  // The first differing document, found in parallel: chunks past the best
  // difference so far are skipped, so identical data is read once and a
  // difference near the start costs little.
  struct Diff {
    uint64_t document = UINT64_MAX;
    std::string what;
  };
  std::mutex mu;
  Diff first;
  std::atomic<uint64_t> best{UINT64_MAX};
  constexpr uint64_t kDocumentsPerChunk = 1 << 16;
  const uint64_t chunks = (common + kDocumentsPerChunk - 1) / kDocumentsPerChunk;
  parallel_for_each_index(chunks, [&](size_t c) {
    throw_if_interrupted();
    const uint64_t begin = c * kDocumentsPerChunk, end = std::min(common, begin + kDocumentsPerChunk);
    for (uint64_t d = begin; d < end && d < best.load(std::memory_order_relaxed); ++d) {
      const DocumentSpan sa = document_span(a, d), sb = document_span(b, d);
      const uint64_t na = (sa.end - sa.begin) / ia, nb = (sb.end - sb.begin) / ib;
      std::string what;
      uint64_t t = 0;
      const uint64_t n = std::min(na, nb);
      if (same_dtype) {
        const char* pa = a.bin().data() + sa.begin;
        const char* pb = b.bin().data() + sb.begin;
        if (std::memcmp(pa, pb, n * ia) != 0) {
          while (std::memcmp(pa + t * ia, pb + t * ia, ia) == 0) ++t;
        } else {
          t = n;
        }
      } else {
        while (t < n && a.token_at(sa.begin + t * ia) == b.token_at(sb.begin + t * ib)) ++t;
      }
      if (t < n) {
        what = "document " + num(d) + ", token " + num(t) + ": " + prefix_a + " has " +
               num(a.token_at(sa.begin + t * ia)) + ", " + prefix_b + " has " + num(b.token_at(sb.begin + t * ib)) +
               " (.bin bytes " + num(sa.begin + t * ia) + " and " + num(sb.begin + t * ib) + ")";
      } else if (na != nb) {
        what = "document " + num(d) + ", token " + num(n) + ": " + (na < nb ? prefix_a : prefix_b) +
               "'s document ends there (" + num(std::min(na, nb)) + " tokens), the other's has " +
               num(std::max(na, nb));
      } else {
        // Same ids: the sequence boundaries must agree too.
        const uint64_t qa = sa.end_sequence - sa.first_sequence, qb = sb.end_sequence - sb.first_sequence;
        uint64_t k = 0;
        while (k < qa && k < qb &&
               a.sequence_length(sa.first_sequence + k) == b.sequence_length(sb.first_sequence + k))
          ++k;
        if (k < qa || k < qb)
          what = "document " + num(d) + ": same " + num(na) + " tokens, but other sequence boundaries (sequence " +
                 num(k) + " of the document: " + prefix_a + " has " + num(qa) + " sequence(s), " + prefix_b +
                 " has " + num(qb) + ")";
      }
      if (!what.empty()) {
        std::lock_guard lock(mu);
        if (d < first.document) first = {d, what};
        uint64_t cur = best.load();
        while (d < cur && !best.compare_exchange_weak(cur, d)) {
        }
        return;
      }
    }
  });

  CompareResult r;
  if (first.document != UINT64_MAX) {
    r.difference = "first difference: " + first.what;
  } else if (da != db) {
    r.difference = "first difference: document " + num(common) + ": " + (da < db ? prefix_a : prefix_b) +
                   " ends there (" + num(common) + " documents), the other has " + num(std::max(da, db));
  }
  r.identical = r.difference.empty();
  if (r.identical) {
    r.text = prefix_a + " and " + prefix_b + ": identical: " + num(da) + " documents, " +
             num(a.header().sequences) + " sequences";
    if (!same_dtype)
      r.text += std::string(" (ids equal; stored as ") + dtype_name(a.header().dtype) + " and " +
                dtype_name(b.header().dtype) + ")";
    r.text += "\n";
  } else {
    r.text = prefix_a + " and " + prefix_b + " differ: " + r.difference + "\n";
  }
  return r;
}

}  // namespace sp
