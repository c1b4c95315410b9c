#include "sp/extract.h"

#include <fcntl.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "sp/byte_source.h"
#include "sp/checkpoint.h"
#include "sp/checksum.h"
#include "sp/cli.h"
#include "sp/error.h"
#include "sp/failpoint.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/io.h"
#include "sp/jsonl.h"
#include "sp/progress.h"
#include "sp/record.h"

namespace sp {

namespace {

std::string trim_slashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// Why a source's name cannot give an output name ("" when it can).
std::string name_problem(const std::string& relative) {
  const std::string out = relative.substr(0, relative.size() - 4);
  if (out.empty() || out.back() == '/')
    return "its name without '.zst' is empty, so it has no output name; rename it (e.g. to data.jsonl.zst)";
  if (is_record_name(out)) return "its output name would end in '.sp-record', the name of completion records";
  return "";
}

}  // namespace

std::vector<ExtractTask> plan_extract(const std::string& input_dir, const std::string& output_dir,
                                      std::vector<std::string>* dangling) {
  const std::string in_root = trim_slashes(input_dir);
  const std::string out_root = output_dir.empty() ? in_root : trim_slashes(output_dir);
  std::map<std::string, ExtractTask> by_relative;
  for (auto& f : list_files(in_root, [](std::string_view rel) { return ends_with(rel, ".zst"); }, dangling)) {
    ExtractTask t;
    t.problem = name_problem(f.relative);
    t.output = out_root + "/" + f.relative.substr(0, f.relative.size() - 4);
    t.source = std::move(f.path);
    t.source_bytes = f.size;
    t.relative = f.relative;
    by_relative.emplace(std::move(f.relative), std::move(t));
  }
  // Sources already extracted and removed: their records carry the size the
  // source had, so the plan is the same as when the source was there.
  if (path_exists(out_root)) {
    for (const auto& f : list_files(out_root, [](std::string_view rel) { return ends_with(rel, ".sp-record"); })) {
      const std::string output_rel = f.relative.substr(0, f.relative.size() - std::string_view(".sp-record").size());
      const std::string rel = output_rel + ".zst";
      if (by_relative.count(rel)) continue;
      ExtractTask t;
      t.source = in_root + "/" + rel;
      t.output = out_root + "/" + output_rel;
      try {
        const CompletionRecord r = read_record(f.path);
        // Only records of this input directory's sources stand for a task.
        if (r.tool != "sp_extract" || r.inputs.size() != 1 || r.inputs[0].path != absolute_path(t.source)) continue;
        t.source_bytes = r.inputs[0].size;
      } catch (const Error&) {
        continue;  // not ours to interpret; a task whose source exists reports its own record
      }
      t.relative = rel;
      t.source_present = false;
      by_relative.emplace(rel, std::move(t));
    }
  }
  std::vector<ExtractTask> tasks;
  tasks.reserve(by_relative.size());
  for (auto& [rel, t] : by_relative) tasks.push_back(std::move(t));
  return tasks;
}

namespace {

// Where decompressed bytes go: every byte into the checksum; then into an
// AtomicFile (no checkpoints), or into the partial past the prefix a
// checkpoint kept (the same bytes: the source is unchanged), with a
// checkpoint every `every` bytes of output. Starts asynchronous writeback
// every few MiB, so the fsync before the rename (or a checkpoint) finds
// little left to flush: disk writes overlap decompression instead of all
// waiting at the end (measured: the difference between ~0.75x and ~1x the
// speed of `zstd -d`, which does not fsync at all).
class OutputSink {
 public:
  // Starts at output byte `start` (0, or where a resumed source was skipped
  // to: the checksum then continues from the checkpoint's whole leaves and
  // the partial's bytes after them).
  OutputSink(AtomicFile* atomic, PartialOutput* partial, uint64_t kept, uint64_t every,
             const CompletionRecord& expected, uint64_t start = 0, const std::vector<uint64_t>& leaves = {})
      : atomic_(atomic), partial_(partial), kept_(kept), every_(every), last_(kept), started_(kept),
        produced_(start), expected_(expected), sum_(leaves) {
    std::vector<char> buf(size_t{1} << 20);
    for (uint64_t at = leaves.size() * kChecksumLeafBytes; at < start;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), start - at));
      if (pread_full(partial_->fd(), buf.data(), want, at, partial_->path()) != want)
        throw Error("'" + partial_->path() + "' shrank while being resumed");
      sum_.update(buf.data(), want);
      at += want;
    }
  }

  void write(const char* p, size_t n) {
    sum_.update(p, n);
    const uint64_t end = produced_ + n;
    if (end > kept_) {
      const uint64_t from = std::max(produced_, kept_);
      const char* q = p + (from - produced_);
      const size_t m = static_cast<size_t>(end - from);
      if (atomic_) atomic_->write(q, m);
      else pwrite_all(partial_->fd(), q, m, from, partial_->path());
      if (end - started_ >= (uint64_t{8} << 20) && sync_outputs()) {
        (void)::sync_file_range(atomic_ ? atomic_->fd() : partial_->fd(), static_cast<off_t>(started_), 0,
                                SYNC_FILE_RANGE_WRITE);
        started_ = end;
      }
    }
    produced_ = end;
    if (partial_ && every_ && produced_ >= last_ + every_) checkpoint();
  }
  // Vouches for everything written so far (partial only; nothing new: nothing to do).
  void checkpoint() {
    if (!partial_ || produced_ <= last_) return;
    std::string leaves;  // the checksum's whole leaves, so a resumed run need not read them back
    for (const uint64_t leaf : sum_.leaves()) {
      char hex[20];
      std::snprintf(hex, sizeof hex, "%s%016llx", leaves.empty() ? "" : ",", static_cast<unsigned long long>(leaf));
      leaves += hex;
    }
    partial_->checkpoint(expected_, produced_,
                         {{"output_bytes", std::to_string(produced_)}, {"checksum_leaves", leaves}});
    last_ = produced_;
  }
  uint64_t produced() const { return produced_; }
  uint64_t checkpointed() const { return last_; }  // output bytes the last checkpoint vouches for
  std::string finish() { return sum_.finish(); }

 private:
  AtomicFile* atomic_;
  PartialOutput* partial_;
  uint64_t kept_, every_, last_, started_, produced_;
  const CompletionRecord& expected_;
  ChecksumStream sum_;
};

// Passes a source's bytes through to the output as they are read, so the
// line validator and the writer see exactly the same stream in one pass.
class TeeSource final : public ByteSource {
 public:
  TeeSource(ByteSource& in, OutputSink& out) : ByteSource(in.path()), in_(in), out_(out) {}
  size_t read(char* dst, size_t n) override {
    size_t got = in_.read(dst, n);
    out_.write(dst, got);
    return got;
  }
  uint64_t raw_bytes_read() const override { return in_.raw_bytes_read(); }

 private:
  ByteSource& in_;
  OutputSink& out_;
};

// The record a complete output of this task has (outputs' identities aside).
CompletionRecord expected_record(const ExtractTask& t, const ExtractOptions& opt) {
  CompletionRecord r;
  r.path = record_path_for(t.output);
  r.tool = "sp_extract";
  // Not a byte of the output, but what was checked: a rerun with --validate
  // must not keep an output whose lines nobody validated.
  r.options = {{"validated_lines", opt.validate ? "true" : "false"}};
  r.inputs = {identify_input(t.source)};
  if (!t.source_present) r.inputs[0].present = false;
  r.outputs = {FileIdentity{t.output}};
  return r;
}

// Deletes the source once its output is proven: the record matches the
// output read back in full, and both are on disk.
void remove_source(const ExtractTask& t, const CompletionRecord& expected, ExtractResult& r) {
  const CompletionCheck check = check_completion(expected, VerifyDepth::kFull);
  if (check.state != Completion::kComplete) {
    r.status = ExtractStatus::kFailed;
    r.error = "not removing source '" + t.source + "': its output " + check.reason;
    return;
  }
  failpoint("remove_source.after_verify");
  make_durable(t.output);
  make_durable(expected.path);
  failpoint("remove_source.before_unlink");
  if (::unlink(t.source.c_str()) == 0) {
    failpoint("remove_source.after_unlink");
    r.source_removed = true;
  } else if (errno != ENOENT) {  // gone already: another rerun beat us to it
    r.status = ExtractStatus::kFailed;
    r.error = errno_message("output is complete but cannot remove source", t.source);
  }
}

// The checkpoint's "checksum_leaves" (hex, comma-separated): true when they
// are the whole leaves of `kept` bytes.
bool parse_leaves(const std::string& text, uint64_t kept, std::vector<uint64_t>& leaves) {
  leaves.clear();
  for (size_t at = 0; at < text.size();) {
    char* end = nullptr;
    leaves.push_back(std::strtoull(text.c_str() + at, &end, 16));
    const size_t next = static_cast<size_t>(end - text.c_str());
    if (next != at + 16 || (next < text.size() && text[next] != ',')) return leaves.clear(), false;
    at = next + 1;
  }
  if (leaves.size() == kept / kChecksumLeafBytes) return true;
  leaves.clear();
  return false;
}

void add_notice(ExtractResult& r, const std::string& notice) {
  if (!notice.empty()) r.notice += (r.notice.empty() ? "" : "; ") + notice;
}

// Decompresses the source into the output and returns the output's checksum,
// computed on the way through. With checkpoints the output is built in its
// partial (checkpoint.h), resumed from a matching checkpoint: the source is
// skipped to the kept length and the checksum continues from the leaves the
// checkpoint kept; with --validate, whose line count and checks need every
// line, the source is decompressed from the start again and only the bytes
// past the kept prefix are written. Without checkpoints (or when another
// process holds the partial) the output goes to a temporary.
std::string decompress(const ExtractTask& task, const ExtractOptions& opt, const CompletionRecord& expected,
                       ExtractResult& r, const std::function<void(uint64_t)>& report) {
  make_dirs(parent_dir(task.output));
  std::unique_ptr<PartialOutput> partial;
  if (opt.checkpoint_bytes) partial = PartialOutput::open(task.output);
  else remove_partial(task.output);
  // Writes of buffer_bytes bypass AtomicFile's own buffer (it only copies
  // writes smaller than itself), saving one memcpy per byte.
  std::optional<AtomicFile> atomic;
  if (!partial) atomic.emplace(task.output, size_t{64} << 10);
  uint64_t kept = 0, start = 0;  // output bytes kept; where decompression starts
  std::vector<uint64_t> leaves;    // the checksum's whole leaves of the kept bytes
  if (partial) {
    std::string discarded;
    std::optional<CompletionRecord> cp;
    if (!opt.overwrite) cp = partial->find_checkpoint(expected, &discarded);
    add_notice(r, discarded);
    if (cp) {
      kept = cp->outputs[0].size;
      if (::ftruncate(partial->fd(), static_cast<off_t>(kept)) != 0)
        throw Error(errno_message("cannot truncate", partial->path()));
      r.resumed_from = kept;
      r.resumed = true;
      // Without --validate, the source is skipped to the kept length (whole
      // zstd frames by their headers): only lines need every byte decoded.
      if (!opt.validate && parse_leaves(cp->checkpoint_value("checksum_leaves"), kept, leaves)) start = kept;
      add_notice(r, "resuming " + task.output + " from its checkpoint at " + cli::format_size(kept) +
                        (start ? "" : " (decompressing the source from its start: --validate reads every line)"));
    } else {
      partial->restart();
    }
  }
  auto src = open_byte_source(task.source);
  if (start) src->skip(start);
  OutputSink sink(atomic ? &*atomic : nullptr, partial.get(), kept, opt.checkpoint_bytes, expected, start, leaves);
  try {
    if (opt.validate) {
      TeeSource tee(*src, sink);
      LineReader reader(tee, opt.buffer_bytes);
      LineBlock block;
      simdjson::dom::parser parser;
      while (reader.next(block)) {
        throw_if_interrupted();
        std::string bad;
        uint64_t bad_line = 0;
        for_each_line(block, [&](std::string_view line, uint64_t n) {
          r.lines = n;
          if (!bad.empty() || is_blank_line(line)) return;
          bad = json_object_line_error(parser, line);
          if (!bad.empty()) bad_line = n;
        });
        // Line numbers count decompressed lines, but the file to look at is
        // the source (the output is not kept): `zstdcat SRC | sed -n LINEp`.
        if (!bad.empty()) throw InputError(task.source, bad_line, bad);
        report(src->raw_bytes_read());
      }
    } else {
      std::vector<char> buf(opt.buffer_bytes);
      for (;;) {
        throw_if_interrupted();
        size_t n = read_full(*src, buf.data(), buf.size());
        if (n == 0) break;
        sink.write(buf.data(), n);
        report(src->raw_bytes_read());
      }
    }
  } catch (const Interrupted&) {
    // Stopped by a signal: what was written is vouched for, for the rerun.
    try {
      sink.checkpoint();
      if (partial && sink.checkpointed() == 0) partial->discard();  // nothing to resume: leave nothing behind
    } catch (const Error&) {  // the stop matters more; the previous checkpoint still holds
    }
    throw;
  } catch (...) {
    if (partial) partial->discard();  // a bad source: nothing in its partial is worth keeping
    throw;
  }
  r.bytes_out = sink.produced();
  r.bytes_in = src->raw_bytes_read();
  if (partial) partial->commit();
  else atomic->commit();
  return sink.finish();
}

}  // namespace

ExtractResult extract_file(const ExtractTask& task, const ExtractOptions& opt, Progress* progress) {
  ExtractResult r;
  uint64_t reported = 0;  // compressed bytes already given to progress
  auto report = [&](uint64_t raw) {
    if (progress && raw > reported) progress->add(raw - reported);
    reported = std::max(reported, raw);
  };
  auto fail = [&](std::string why) {
    r.status = ExtractStatus::kFailed;
    r.error = std::move(why);
  };

  try {
    if (!task.problem.empty()) throw Error("cannot extract '" + task.source + "': " + task.problem);
    CompletionRecord expected = expected_record(task, opt);
    CompletionCheck check = check_completion(expected, VerifyDepth::kQuick);
    if (check.state == Completion::kStale && !opt.validate) {
      // An output whose lines were validated serves a run that does not ask for it.
      ExtractOptions validated = opt;
      validated.validate = true;
      CompletionRecord stricter = expected_record(task, validated);
      CompletionCheck again = check_completion(stricter, VerifyDepth::kQuick);
      if (again.state == Completion::kComplete) expected = std::move(stricter), check = std::move(again);
    }
    const OutputDecision d =
        decide_outputs(check, task.output, task.source_present ? "" : task.source, opt.overwrite, opt.remove_source);
    if (d.plan == OutputPlan::kKeep) {
      r.status = ExtractStatus::kSkipped;
      remove_partial(task.output);  // left by a run killed after its rename
      if (opt.remove_source && task.source_present) remove_source(task, expected, r);
    } else if (d.plan == OutputPlan::kRefuse) {
      fail(d.message);
    } else {
      r.notice = d.message;
      std::vector<CompletionRecord> records{expected};
      build_recorded(records, [&] {
        const std::string checksum = decompress(task, opt, expected, r, report);
        return BuildResult{{{task.output, checksum}}, {{"bytes_in", r.bytes_in}, {"bytes_out", r.bytes_out}}};
      });
      expected = records[0];
      r.status = ExtractStatus::kExtracted;
      if (opt.remove_source) remove_source(task, expected, r);
    }
  } catch (const Interrupted&) {
    throw;  // not this file's failure: the run stops (the temporary is already removed)
  } catch (const InputError& e) {
    fail(e.file == task.source ? e.what() : task.source + ": " + e.what());
  } catch (const std::exception& e) {
    fail(e.what());
  }
  report(task.source_bytes);
  if (progress) progress->add(0, 1);
  return r;
}

}  // namespace sp
