#include "sp/concat.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>


#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>

#include "sp/byte_source.h"
#include "sp/checkpoint.h"
#include "sp/cli.h"
#include "sp/error.h"
#include "sp/failpoint.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/io.h"
#include "sp/progress.h"
#include "sp/record.h"
#include "sp/threads.h"

namespace sp {

namespace {

std::string chunk_name(const std::string& prefix, size_t i) { return prefix + std::to_string(i) + ".jsonl"; }

std::string join_path(const std::string& dir, const std::string& rel) {
  if (dir.empty()) return rel;
  return dir.back() == '/' ? dir + rel : dir + "/" + rel;
}

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

// Copies len bytes of `in` (from offset 0) to `out` at out_off. copy_file_range
// lets the kernel (or the file system: reflinks, server-side copy on NFS 4.2)
// move the data without a round trip through user space; where it is not
// supported we fall back to pread/pwrite. Both keep the fds' file positions
// untouched, so several threads can fill one output concurrently.
void copy_range(int in, const std::string& in_path, int out, const std::string& out_path, uint64_t len,
                uint64_t out_off, Progress* progress) {
  constexpr uint64_t kPiece = uint64_t{64} << 20;  // progress granularity
  loff_t ioff = 0, ooff = static_cast<loff_t>(out_off);
  bool use_cfr = true;
  std::vector<char> buf;
  while (static_cast<uint64_t>(ioff) < len) {
    throw_if_interrupted();
    const size_t want = static_cast<size_t>(std::min(kPiece, len - static_cast<uint64_t>(ioff)));
    ssize_t got = -1;
    if (use_cfr) {
      got = ::copy_file_range(in, &ioff, out, &ooff, want, 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF ||
            errno == EPERM) {
          use_cfr = false;  // not supported here: copy through user space
          continue;
        }
        throw Error(errno_message("cannot copy into " + out_path + " from", in_path));
      }
    } else {
      if (buf.empty()) buf.resize(size_t{1} << 20);
      got = ::pread(in, buf.data(), std::min(want, buf.size()), ioff);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw Error(errno_message("cannot read", in_path));
      }
      if (got > 0) pwrite_all(out, buf.data(), static_cast<size_t>(got), static_cast<uint64_t>(ooff), out_path);
      ioff += got, ooff += got;
    }
    if (got == 0) throw Error("'" + in_path + "' shrank while being copied (expected " + std::to_string(len) + " bytes)");
    // Start writeback of what was just copied (asynchronous), so the fsync
    // before the final rename finds little left to do: it overlaps the disk
    // writes with the rest of the copy instead of waiting for all at the end.
    if (sync_outputs()) (void)::sync_file_range(out, ooff - got, got, SYNC_FILE_RANGE_WRITE);
    if (progress) progress->add(static_cast<uint64_t>(got));
  }
}

}  // namespace

std::vector<Chunk> plan_chunks(const std::vector<ChunkInput>& inputs, const ConcatPlanOptions& o) {
  if (o.files_per_chunk == 0 && o.target_size == 0)
    throw UsageError("a chunk needs a limit: give --target-size or --files-per-chunk");
  std::vector<Chunk> chunks;
  for (const auto& in : inputs) {
    bool fresh = chunks.empty();
    if (!fresh) {
      const Chunk& c = chunks.back();
      fresh = o.files_per_chunk ? c.inputs.size() >= o.files_per_chunk : c.bytes + in.size > o.target_size;
    }
    if (fresh) {
      Chunk c;
      c.index = chunks.size();
      c.output = join_path(o.output_dir, chunk_name(o.prefix, c.index));
      chunks.push_back(std::move(c));
    }
    chunks.back().inputs.push_back(in);
    chunks.back().bytes += in.size;
  }
  return chunks;
}

std::vector<ChunkInput> list_concat_inputs(const std::string& input_dir, const std::string& output_dir,
                                           std::vector<std::string>* dangling) {
  const std::string in_real = real_path(input_dir), out_real = real_path(output_dir);
  std::string skip;  // relative prefix of output_dir inside input_dir
  if (!in_real.empty() && !out_real.empty()) {
    if (in_real == out_real) throw UsageError("--output-dir must not be the input directory (chunks would be read back as inputs)");
    if (out_real.rfind(in_real + "/", 0) == 0) skip = out_real.substr(in_real.size() + 1) + "/";
  }
  auto files = list_files(input_dir, [&](std::string_view rel) {
    return ends_with(rel, ".jsonl") && (skip.empty() || rel.substr(0, skip.size()) != skip);
  }, dangling);
  std::vector<ChunkInput> out;
  out.reserve(files.size());
  for (auto& f : files) {
    if (f.relative.find_first_of("\t\n") != std::string::npos)
      throw Error("'" + f.path + "': file names with tabs or newlines are not supported");
    out.push_back({std::move(f.path), std::move(f.relative), f.size});
  }
  return out;
}

std::vector<ChunkInput> list_shard_inputs(const std::string& shard_dir, bool with_sizes,
                                          std::vector<std::string>* counted, std::vector<std::string>* dangling) {
  auto files = list_files(shard_dir, [](std::string_view rel) {
    return ends_with(rel, ".jsonl.zst") || ends_with(rel, ".jsonl");
  }, dangling);
  std::vector<ChunkInput> out;
  out.reserve(files.size());
  for (auto& f : files) {
    std::string name = ends_with(f.relative, ".zst") ? f.relative.substr(0, f.relative.size() - 4) : f.relative;
    if (name.find_first_of("\t\n") != std::string::npos)
      throw Error("'" + f.path + "': file names with tabs or newlines are not supported");
    out.push_back({std::move(f.path), std::move(name), 0});
  }
  // sp_concat's order: byte-wise by the extracted names (not the shards' own names).
  std::sort(out.begin(), out.end(), [](const ChunkInput& a, const ChunkInput& b) { return a.relative < b.relative; });
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i].relative == out[i - 1].relative)
      throw Error("'" + out[i - 1].path + "' and '" + out[i].path + "' would both be " + out[i].relative +
                  "; keep one of them");
  if (with_sizes) {
    std::mutex mu;
    std::string first_error;
    std::vector<char> was_counted(out.size(), 0);
    parallel_for_each_index(out.size(), [&](size_t i) {
      try {
        bool c = false;
        out[i].size = decompressed_size(out[i].path, &c);
        was_counted[i] = c;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lk(mu);
        if (first_error.empty()) first_error = e.what();
      }
    });
    if (!first_error.empty()) throw Error(first_error);
    for (size_t i = 0; counted && i < out.size(); ++i)
      if (was_counted[i]) counted->push_back(out[i].path);
  }
  return out;
}

void attach_shards(std::vector<Chunk>& plan, const std::vector<ChunkInput>& shards, const std::string& where) {
  std::map<std::string_view, const std::string*> by_name;
  for (const auto& s : shards) by_name.emplace(s.relative, &s.path);
  for (auto& c : plan)
    for (auto& in : c.inputs) {
      const auto it = by_name.find(in.relative);
      if (it == by_name.end())
        throw Error("the plan " + where + " lists " + in.relative + ", but neither it nor " + in.relative +
                    ".zst is there any more; finish with the original shards, or use a new --output-dir");
      in.path = *it->second;
    }
}

std::string plan_file_path(const std::string& output_dir) { return join_path(output_dir, "sp_concat_plan.tsv"); }

std::string serialize_plan(const std::vector<Chunk>& chunks, const ConcatPlanOptions& o) {
  std::string s = "# sp_concat plan v1: do not edit; delete it (and the chunks) to re-plan\n";
  s += "prefix\t" + o.prefix + "\n";
  s += "target_size\t" + std::to_string(o.files_per_chunk ? 0 : o.target_size) + "\n";
  s += "files_per_chunk\t" + std::to_string(o.files_per_chunk) + "\n";
  for (const auto& c : chunks) {
    s += "chunk\t" + std::to_string(c.index) + "\t" + std::to_string(c.inputs.size()) + "\n";
    for (const auto& in : c.inputs) s += "file\t" + std::to_string(in.size) + "\t" + in.relative + "\n";
  }
  s += "end\n";  // a plan without it was cut short
  return s;
}

std::vector<Chunk> parse_plan(const std::string& text, const ConcatPlanOptions& o, const std::string& where) {
  std::vector<Chunk> chunks;
  std::istringstream in(text);
  std::string line;
  uint64_t n = 0;
  bool ended = false;
  auto fail = [&](const std::string& why) { throw InputError(where, n, why); };
  auto field = [&](const std::string& key, const std::string& want) {
    auto tab = line.find('\t');
    if (tab == std::string::npos || line.substr(0, tab) != key) fail("expected '" + key + "'");
    if (line.substr(tab + 1) != want)
      fail("this plan was made with " + key + " " + line.substr(tab + 1) + ", not " + want +
           "; use the same options, another --output-dir, or delete the plan file and the chunks");
  };
  const std::string target = std::to_string(o.files_per_chunk ? 0 : o.target_size);
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line.rfind("# sp_concat plan v1", 0) != 0) fail("not an sp_concat plan file");
      continue;
    }
    if (n == 2) { field("prefix", o.prefix); continue; }
    if (n == 3) { field("target_size", target); continue; }
    if (n == 4) { field("files_per_chunk", std::to_string(o.files_per_chunk)); continue; }
    if (ended) fail("text after 'end'");
    if (line == "end") { ended = true; continue; }
    if (line.rfind("chunk\t", 0) == 0) {
      Chunk c;
      c.index = chunks.size();
      if (line.substr(6, line.find('\t', 6) - 6) != std::to_string(c.index)) fail("chunks out of order");
      c.output = join_path(o.output_dir, chunk_name(o.prefix, c.index));
      chunks.push_back(std::move(c));
    } else if (line.rfind("file\t", 0) == 0 && !chunks.empty()) {
      auto tab = line.find('\t', 5);
      if (tab == std::string::npos) fail("malformed file line");
      ChunkInput ci;
      char* end = nullptr;
      ci.size = std::strtoull(line.c_str() + 5, &end, 10);
      if (end != line.c_str() + tab) fail("malformed size");
      ci.relative = line.substr(tab + 1);
      ci.path = join_path(o.input_dir, ci.relative);
      chunks.back().bytes += ci.size;
      chunks.back().inputs.push_back(std::move(ci));
    } else {
      fail("unexpected line");
    }
  }
  if (!ended) throw InputError(where, 0, "plan file is incomplete (no 'end' line)");
  return chunks;
}

std::vector<Chunk> pin_plan(const std::vector<Chunk>& planned, const ConcatPlanOptions& o, bool create, bool* from_file) {
  const std::string path = plan_file_path(o.output_dir);
  if (from_file) *from_file = false;
  if (!path_exists(path)) {
    if (!create) return planned;
    make_dirs(o.output_dir);
    // Write a private temporary, then link() it to the final name: link never
    // replaces an existing file, so the first rank to arrive wins and all
    // later ones read its plan (atomic on local file systems and NFS alike).
    {
      AtomicFile f(path);  // for its temporary and fd only: we link, never commit
      f.write(serialize_plan(planned, o));
      f.flush();
      if (::fsync(f.fd()) != 0 && errno != EINVAL) throw Error(errno_message("cannot sync", f.temp_path()));
      failpoint("plan.before_link");
      if (::link(f.temp_path().c_str(), path.c_str()) != 0 && errno != EEXIST)
        throw Error(errno_message("cannot create plan file " + path + " from", f.temp_path()));
    }  // the AtomicFile destructor removes its temporary
  }
  const std::string text = read_file(path);
  if (from_file) *from_file = true;
  return parse_plan(text, o, path);
}

void check_plan_covers(const std::vector<Chunk>& plan, const std::vector<ChunkInput>& listed, const std::string& where) {
  std::vector<std::string_view> planned;
  for (const auto& c : plan)
    for (const auto& in : c.inputs) planned.push_back(in.relative);
  std::sort(planned.begin(), planned.end());
  for (const auto& f : listed)
    if (!std::binary_search(planned.begin(), planned.end(), std::string_view(f.relative)))
      throw Error("'" + f.path + "' is not in the plan " + where +
                  " (the inputs changed since it was made); finish with the original inputs, or use a new --output-dir");
}

std::string format_plan(const std::vector<Chunk>& chunks, bool with_files) {
  std::string s;
  uint64_t total = 0, files = 0;
  for (const auto& c : chunks) {
    s += c.output + "  " + std::to_string(c.inputs.size()) + " files, " + cli::format_size(c.bytes) + " (" +
         std::to_string(c.bytes) + " bytes)\n";
    if (with_files)
      for (const auto& in : c.inputs) s += "    " + in.relative + "  " + std::to_string(in.size) + "\n";
    total += c.bytes, files += c.inputs.size();
  }
  s += std::to_string(chunks.size()) + " chunks, " + std::to_string(files) + " files, " + cli::format_size(total) + "\n";
  return s;
}

namespace {

// Where each input goes in the chunk: offset[i] .. offset[i] + size, then a
// '\n' when the input does not end with one. Fixed before any byte is
// copied, so inputs can be copied concurrently.
struct Layout {
  std::vector<uint64_t> offset;  // n + 1 entries; offset[n] is the chunk size
  std::vector<char> add_newline;
};

// The layout from the inputs themselves (all present; sizes must match the plan).
Layout layout_from_inputs(const Chunk& chunk) {
  const size_t n = chunk.inputs.size();
  Layout l;
  l.offset.assign(n + 1, 0);
  l.add_newline.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const ChunkInput& in = chunk.inputs[i];
    const UniqueFd fd = open_for_reading(in.path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw Error(errno_message("cannot stat", in.path));
    if (static_cast<uint64_t>(st.st_size) != in.size)
      throw Error("'" + in.path + "' is " + std::to_string(st.st_size) + " bytes, but was " + std::to_string(in.size) +
                  " when the plan was made (is it still being written?)");
    if (in.size > 0) {
      char last = 0;
      if (pread_full(fd.get(), &last, 1, in.size - 1, in.path) != 1)
        throw Error("'" + in.path + "' shrank while being read");
      l.add_newline[i] = last != '\n';
    }
    l.offset[i + 1] = l.offset[i] + in.size + static_cast<uint64_t>(l.add_newline[i]);
  }
  return l;
}

// The layout of a finished chunk whose inputs may be gone: sizes from the
// plan, and whether a newline was added read from the chunk itself (the byte
// an input ended with is in the chunk).
Layout layout_from_chunk(const Chunk& chunk) {
  const size_t n = chunk.inputs.size();
  Layout l;
  l.offset.assign(n + 1, 0);
  l.add_newline.assign(n, 0);
  const UniqueFd fd = open_for_reading(chunk.output);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t size = chunk.inputs[i].size;
    if (size > 0) {
      char last = 0;
      if (pread_full(fd.get(), &last, 1, l.offset[i] + size - 1, chunk.output) != 1)
        throw Error("'" + chunk.output + "' is shorter than its plan");
      l.add_newline[i] = last != '\n';
    }
    l.offset[i + 1] = l.offset[i] + size + static_cast<uint64_t>(l.add_newline[i]);
  }
  return l;
}

// Compares an input with its place in the chunk, byte for byte.
void check_segment(const ChunkInput& in, const std::string& chunk_path, uint64_t offset) {
  const UniqueFd a = open_for_reading(in.path), b = open_for_reading(chunk_path);
  constexpr size_t kBlock = size_t{1} << 20;
  std::vector<char> x(kBlock), y(kBlock);
  for (uint64_t done = 0; done < in.size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kBlock, in.size - done));
    if (pread_full(a.get(), x.data(), want, done, in.path) != want ||
        pread_full(b.get(), y.data(), want, offset + done, chunk_path) != want ||
        std::memcmp(x.data(), y.data(), want) != 0)
      throw Error("'" + in.path + "' differs from its copy in '" + chunk_path + "' at or after byte " +
                  std::to_string(done));
    done += want;
  }
}

CompletionRecord expected_record(const Chunk& chunk) {
  CompletionRecord r;
  r.path = record_path_for(chunk.output);
  r.tool = "sp_concat";
  for (const auto& in : chunk.inputs) r.inputs.push_back(identify_input(in.path));
  r.outputs = {FileIdentity{chunk.output}};
  return r;
}

// Deletes the chunk's inputs once the chunk is proven: it matches its record
// (checksum read back), each input still present equals its bytes in the
// chunk, and chunk and record are on disk.
void remove_inputs(const Chunk& c, const CompletionRecord& expected, ChunkResult& r) {
  const CompletionCheck check = check_completion(expected, VerifyDepth::kFull);
  if (check.state != Completion::kComplete)
    throw Error("not removing the inputs of " + c.output + ": " + check.reason);
  const Layout l = layout_from_chunk(c);
  if (l.offset.back() != check.record.outputs[0].size)
    throw Error("not removing the inputs of " + c.output + ": its plan gives " + std::to_string(l.offset.back()) +
                " bytes, the chunk has " + std::to_string(check.record.outputs[0].size));
  std::vector<size_t> present;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (expected.inputs[i].present) present.push_back(i);
  std::mutex mu;
  std::string first_error;
  parallel_for_each_index(present.size(), [&](size_t k) {
    try {
      check_segment(c.inputs[present[k]], c.output, l.offset[present[k]]);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(mu);
      if (first_error.empty()) first_error = e.what();
    }
  });
  if (!first_error.empty()) throw Error("not removing the inputs of " + c.output + ": " + first_error);
  failpoint("remove_source.after_verify");
  make_durable(c.output);
  make_durable(expected.path);
  for (size_t i : present) {
    const ChunkInput& in = c.inputs[i];
    failpoint("remove_source.before_unlink");  // its later hits fall between two inputs' unlinks
    if (::unlink(in.path.c_str()) == 0) {
      ++r.sources_removed;
      failpoint("remove_source.after_unlink");
    } else if (errno != ENOENT) {
      throw Error(errno_message(c.output + " is complete but cannot remove source", in.path));
    }
  }
}

// "0-3,5,7-9": a set of input indices, for checkpoints.
std::string format_index_set(const std::vector<char>& in) {
  std::string s;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i]) continue;
    size_t j = i;
    while (j + 1 < in.size() && in[j + 1]) ++j;
    s += (s.empty() ? "" : ",") + std::to_string(i) + (j > i ? "-" + std::to_string(j) : "");
    i = j;
  }
  return s;
}

// The set format_index_set wrote, over n inputs; false when it is malformed.
bool parse_index_set(const std::string& text, size_t n, std::vector<char>& out) {
  out.assign(n, 0);
  std::istringstream in(text);
  std::string range;
  while (std::getline(in, range, ',')) {
    char* end = nullptr;
    const unsigned long long a = std::strtoull(range.c_str(), &end, 10);
    unsigned long long b = a;
    if (end == range.c_str()) return false;
    if (*end == '-') {
      const char* from = end + 1;
      b = std::strtoull(from, &end, 10);
      if (end == from) return false;
    }
    if (*end || a > b || b >= n) return false;
    for (unsigned long long i = a; i <= b; ++i) out[i] = 1;
  }
  return true;
}

void add_notice(ChunkResult& r, const std::string& notice) {
  if (!notice.empty()) r.notice += (r.notice.empty() ? "" : "; ") + notice;
}

// Copies the inputs into the chunk: under a temporary name, or (with
// checkpoints) in its partial, listing the inputs copied and synced in a
// checkpoint every checkpoint_bytes and when a signal stops the copy; a
// matching checkpoint's inputs are not copied again. Renamed when complete.
void build_chunk(const Chunk& chunk, const ConcatOptions& opt, const CompletionRecord& expected, Progress* progress,
                 ChunkResult& r) {
  const Layout lay = layout_from_inputs(chunk);
  const size_t n = chunk.inputs.size();
  const std::vector<uint64_t>& offset = lay.offset;
  const std::vector<char>& add_newline = lay.add_newline;
  make_dirs(parent_dir(chunk.output));
  std::unique_ptr<PartialOutput> partial;
  if (opt.checkpoint_bytes) partial = PartialOutput::open(chunk.output);
  else remove_partial(chunk.output);
  std::optional<AtomicFile> atomic;  // when there is no partial
  if (!partial) atomic.emplace(chunk.output, 4096);
  const int out = partial ? partial->fd() : atomic->fd();
  const std::string& tmp = partial ? partial->path() : atomic->temp_path();

  std::vector<char> done(n, 0);  // copied (and, once checkpointed, synced)
  if (partial) {
    std::string discarded;
    std::optional<CompletionRecord> cp;
    if (!opt.overwrite) cp = partial->find_checkpoint(expected, &discarded);
    if (cp && (cp->outputs[0].size != offset[n] || !parse_index_set(cp->checkpoint_value("inputs_done"), n, done))) {
      discarded = "discarding the checkpoint of " + chunk.output + ": it does not fit this chunk's layout";
      cp.reset();
    }
    add_notice(r, discarded);
    if (cp) {
      uint64_t input_bytes = 0;  // progress counts inputs' bytes, without the newlines added
      for (size_t i = 0; i < n; ++i) {
        if (!done[i]) continue;
        ++r.resumed_inputs;
        r.resumed_bytes += offset[i + 1] - offset[i];
        input_bytes += chunk.inputs[i].size;
      }
      r.resumed = true;
      add_notice(r, "resuming " + chunk.output + " from its checkpoint: " + std::to_string(r.resumed_inputs) + " of " +
                        std::to_string(n) + " inputs (" + cli::format_size(r.resumed_bytes) + ") already copied");
      if (progress) progress->add(input_bytes);
    } else {
      done.assign(n, 0);
      partial->restart();
    }
  }
  // Sized up front: concurrent writes at their offsets then fill it in any order.
  if (::ftruncate(out, static_cast<off_t>(offset[n])) != 0) throw Error(errno_message("cannot resize", tmp));

  std::mutex mu;                 // guards done, first_error, unsynced
  std::mutex checkpoint_mu;      // one checkpoint at a time, each listing at least what the one before did
  std::string first_error;
  uint64_t unsynced = 0;         // bytes copied since the last checkpoint
  bool fresh = false;            // inputs copied since the last checkpoint
  // Lists the inputs copied so far: taken before the sync, so the sync covers them all.
  auto checkpoint = [&] {
    std::lock_guard<std::mutex> one(checkpoint_mu);
    std::string listed;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (!fresh) return;
      listed = format_index_set(done);
      unsynced = 0, fresh = false;
    }
    partial->checkpoint(expected, offset[n], {{"inputs_done", listed}});
  };
  auto copy_one = [&](size_t i) {
    if (done[i]) return;  // kept from the checkpoint (read without the lock: only set below, for other indices)
    try {
      const ChunkInput& in = chunk.inputs[i];
      if (in.size > 0) {
        const UniqueFd fd = open_for_reading(in.path);
        (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        copy_range(fd.get(), in.path, out, tmp, in.size, offset[i], progress);
      }
      if (add_newline[i]) pwrite_all(out, "\n", 1, offset[i] + in.size, tmp);
      bool due = false;
      {
        std::lock_guard<std::mutex> lk(mu);
        done[i] = 1, fresh = true;
        unsynced += offset[i + 1] - offset[i];
        due = partial && unsynced >= opt.checkpoint_bytes;
      }
      if (due) checkpoint();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(mu);
      if (first_error.empty()) first_error = e.what();
    }
  };
  if (opt.parallel_inputs && n > 1) {
    parallel_for_each_index(n, copy_one);
  } else {
    for (size_t i = 0; i < n; ++i) copy_one(i);
  }
  if (interrupted() || !first_error.empty()) {
    // Stopped, or one input failed: the inputs copied so far are vouched for, for the rerun.
    if (partial) {
      try {
        checkpoint();
        if (std::count(done.begin(), done.end(), 1) == 0) partial->discard();  // nothing to resume
      } catch (const Error&) {  // the stop matters more; the previous checkpoint still holds
      }
    }
    throw_if_interrupted();  // copy_one kept only the message of an Interrupted
    throw Error(first_error);
  }
  if (partial) {
    partial->commit();
  } else {
    atomic->note_external_write(offset[n]);
    atomic->commit();
  }
  r.bytes_out = offset[n];
  r.newlines_added = static_cast<uint64_t>(std::count(add_newline.begin(), add_newline.end(), 1));
}

}  // namespace

ChunkResult write_chunk(const Chunk& chunk, const ConcatOptions& opt, Progress* progress) {
  ChunkResult r;
  bool counted = false;  // the chunk's bytes given to progress
  try {
    CompletionRecord expected = expected_record(chunk);
    std::string missing;  // an input already removed: the chunk can no longer be rebuilt
    for (size_t i = 0; i < chunk.inputs.size() && missing.empty(); ++i)
      if (!expected.inputs[i].present) missing = chunk.inputs[i].path;
    const CompletionCheck check = check_completion(expected, VerifyDepth::kQuick);
    const OutputDecision d = decide_outputs(check, chunk.output, missing, opt.overwrite, opt.remove_source);
    if (d.plan == OutputPlan::kKeep) {
      r.status = ChunkStatus::kSkipped;
      remove_partial(chunk.output);  // left by a run killed after its rename
      if (progress) progress->add(chunk.bytes);
      counted = true;
      if (opt.remove_source) remove_inputs(chunk, expected, r);
    } else if (d.plan == OutputPlan::kRefuse) {
      throw Error(d.message);
    } else {
      r.notice = d.message;
      counted = true;  // build_chunk reports bytes as they are copied
      std::vector<CompletionRecord> records{expected};
      build_recorded(records, [&] {
        build_chunk(chunk, opt, expected, progress, r);
        return BuildResult{{}, {{"bytes", r.bytes_out}, {"newlines_added", r.newlines_added}}};
      });
      expected = records[0];
      r.status = ChunkStatus::kWritten;
      if (opt.remove_source) remove_inputs(chunk, expected, r);
    }
  } catch (const Interrupted&) {
    throw;  // not this chunk's failure: the run stops (the temporary is already removed)
  } catch (const std::exception& e) {
    r.status = ChunkStatus::kFailed;
    const std::string what = e.what();
    r.error = what.rfind(chunk.output, 0) == 0 ? what : chunk.output + ": " + what;
  }
  if (progress && !counted) progress->add(chunk.bytes);
  if (progress) progress->add(0, 1);
  return r;
}

}  // namespace sp
