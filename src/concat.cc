#include "sp/concat.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/progress.h"

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

// Closes an fd on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

void pwrite_all(int fd, const char* p, size_t n, uint64_t off, const std::string& what) {
  while (n) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(errno_message("cannot write", what));
    }
    p += w, n -= static_cast<size_t>(w), off += static_cast<uint64_t>(w);
  }
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
      if (::link(f.temp_path().c_str(), path.c_str()) != 0 && errno != EEXIST)
        throw Error(errno_message("cannot create plan file " + path + " from", f.temp_path()));
    }  // the AtomicFile destructor removes its temporary
  }
  std::string text;
  {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.fd < 0) throw Error(errno_message("cannot open", path));
    char buf[1 << 16];
    for (;;) {
      ssize_t r = ::read(fd.fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error(errno_message("cannot read", path));
      if (r == 0) break;
      text.append(buf, static_cast<size_t>(r));
    }
  }
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

void remove_inputs(const Chunk& c, ChunkResult& r) {
  for (const auto& in : c.inputs) {
    if (::unlink(in.path.c_str()) == 0) ++r.sources_removed;
    else if (errno != ENOENT && r.error.empty()) {
      r.status = ChunkStatus::kFailed;
      r.error = errno_message(c.output + " is complete but cannot remove source", in.path);
    }
  }
}

}  // namespace

ChunkResult write_chunk(const Chunk& chunk, const ConcatOptions& opt, Progress* progress) {
  ChunkResult r;
  if (path_exists(chunk.output)) {
    r.status = ChunkStatus::kSkipped;
    if (opt.remove_source) remove_inputs(chunk, r);
    if (progress) progress->add(chunk.bytes, 1);
    return r;
  }
  try {
    // Pass 1: sizes (must match the plan) and whether each input already ends
    // with '\n'. This fixes every input's offset in the chunk up front.
    const size_t n = chunk.inputs.size();
    std::vector<uint64_t> offset(n + 1, 0);
    std::vector<char> add_newline(n, 0);
    for (size_t i = 0; i < n; ++i) {
      const ChunkInput& in = chunk.inputs[i];
      Fd fd(::open(in.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.fd < 0) throw Error(errno_message("cannot open", in.path));
      struct stat st;
      if (::fstat(fd.fd, &st) != 0) throw Error(errno_message("cannot stat", in.path));
      if (static_cast<uint64_t>(st.st_size) != in.size)
        throw Error("'" + in.path + "' is " + std::to_string(st.st_size) + " bytes, but was " + std::to_string(in.size) +
                    " when the plan was made (is it still being written?)");
      if (in.size > 0) {
        char last = 0;
        ssize_t got;
        do got = ::pread(fd.fd, &last, 1, static_cast<off_t>(in.size - 1));
        while (got < 0 && errno == EINTR);
        if (got != 1) throw Error(errno_message("cannot read", in.path));
        add_newline[i] = last != '\n';
      }
      offset[i + 1] = offset[i] + in.size + static_cast<uint64_t>(add_newline[i]);
    }

    make_dirs(parent_dir(chunk.output));
    AtomicFile out(chunk.output, 4096);
    const std::string& tmp = out.temp_path();
    // Sized up front: concurrent writes at their offsets then fill it in any order.
    if (::ftruncate(out.fd(), static_cast<off_t>(offset[n])) != 0) throw Error(errno_message("cannot resize", tmp));

    std::mutex err_mu;
    std::string first_error;
    auto copy_one = [&](size_t i) {
      try {
        const ChunkInput& in = chunk.inputs[i];
        if (in.size > 0) {
          Fd fd(::open(in.path.c_str(), O_RDONLY | O_CLOEXEC));
          if (fd.fd < 0) throw Error(errno_message("cannot open", in.path));
          (void)::posix_fadvise(fd.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
          copy_range(fd.fd, in.path, out.fd(), tmp, in.size, offset[i], progress);
        }
        if (add_newline[i]) pwrite_all(out.fd(), "\n", 1, offset[i] + in.size, tmp);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lk(err_mu);
        if (first_error.empty()) first_error = e.what();
      }
    };
    if (opt.parallel_inputs && n > 1) {
      tbb::parallel_for(tbb::blocked_range<size_t>(0, n, 1), [&](const tbb::blocked_range<size_t>& range) {
        for (size_t i = range.begin(); i != range.end(); ++i) copy_one(i);
      });
    } else {
      for (size_t i = 0; i < n; ++i) copy_one(i);
    }
    throw_if_interrupted();  // copy_one kept only the message of an Interrupted
    if (!first_error.empty()) throw Error(first_error);
    out.note_external_write(offset[n]);
    out.commit();
    r.status = ChunkStatus::kWritten;
    r.bytes_out = offset[n];
    r.newlines_added = static_cast<uint64_t>(std::count(add_newline.begin(), add_newline.end(), 1));
  } catch (const Interrupted&) {
    throw;  // not this chunk's failure: the run stops (the temporary is already removed)
  } catch (const std::exception& e) {
    r.status = ChunkStatus::kFailed;
    r.error = chunk.output + ": " + e.what();
  }
  if (r.status == ChunkStatus::kWritten && opt.remove_source) remove_inputs(chunk, r);
  if (progress) progress->add(0, 1);
  return r;
}

}  // namespace sp
