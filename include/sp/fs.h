// File-system helpers shared by the tools: atomic output files (nothing
// half-written ever sits at a final name) and deterministic directory listing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sp/cli.h"
#include "sp/io.h"

namespace sp {

// An output file written under a temporary name beside its final path and
// renamed into place by commit() after flush + fsync. Destroyed (or
// discard()ed) without commit, the temporary is removed, so a failed run never
// leaves a file that looks complete. A kill -9 can leave the temporary
// ("<final>.tmp-<host>-<pid>"), never a truncated final file.
class AtomicFile {
 public:
  explicit AtomicFile(std::string final_path, size_t buffer_bytes = size_t{1} << 20);
  // A resumable output: written under the fixed name `part_path` (no
  // "<final>.tmp-" name, so remove_stale_temps leaves it to the run that
  // continues it), which outlives this object when it is destroyed without
  // commit() or discard(). Continues after the first `keep_bytes` bytes an
  // earlier writer left there (anything after them is cut off); 0 starts
  // afresh. The caller vouches that those bytes are what it wrote.
  AtomicFile(std::string final_path, std::string part_path, uint64_t keep_bytes,
             size_t buffer_bytes = size_t{1} << 20);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void flush();  // empties the buffer into the file
  // flush(), then makes everything written so far durable (fdatasync) while
  // sync_outputs(): what a checkpoint needs before it vouches for the bytes.
  void sync();
  // Sets aside the next n bytes of the file for write_at and returns their
  // offset; later write() calls go after them. Lets worker threads fill
  // their own parts of one sequential file in parallel (pwrite), with only
  // the cheap reservation kept in order.
  uint64_t reserve(uint64_t n);
  // Writes into a reserved range. Safe to call from several threads at once,
  // for disjoint ranges; all must return before commit().
  void write_at(uint64_t offset, const void* data, size_t n) const;
  int fd() const { return fd_; }  // for copy_file_range; flush() first
  uint64_t size() const { return written_ + used_; }
  void note_external_write(uint64_t n) { written_ += n; }  // bytes written via fd()
  void commit();
  void discard();
  const std::string& path() const { return final_; }
  const std::string& temp_path() const { return temp_; }

 private:
  std::string final_, temp_;
  int fd_ = -1;
  std::unique_ptr<char[]> buf_;  // allocated at the first buffered write
  size_t capacity_;
  size_t used_ = 0;
  uint64_t written_ = 0;
  bool done_ = false;
  bool kept_ = false;  // a resumable part: the destructor leaves it
};

// Whether outputs are made durable (fsync) before their rename. On by
// default: then even a machine crash cannot leave a complete-looking file
// with missing data. --no-sync turns it off for scratch disks, where the
// rename alone still guarantees that a killed process leaves no such file.
void set_sync_outputs(bool on);
bool sync_outputs();
// `options` followed by --no-sync, spelled the same in every tool that
// writes outputs; apply_output_flags sets sync_outputs() from it.
std::vector<cli::Option> with_output_flags(std::vector<cli::Option> options);
void apply_output_flags(const cli::Args& args);

// "<final>.tmp-<host>-<pid>": unique per process even on a shared file system.
std::string temp_path_for(const std::string& final_path);

// The one way a tool claims a work-in-progress file with a fixed name (a
// partial, a .part, a journal): opens `path` (creating it when `create`),
// then takes an exclusive flock without waiting. A file can be renamed or
// removed by its holder between another process's open and its lock; the
// lock then guards a file no longer at `path` (it may be the finished
// output), so the open is retried until the locked file is the one at
// `path`. Returns the locked descriptor; an empty one when another process
// holds the lock (*busy true) or, without `create`, when there is no file
// (*busy false). Throws Error on any other failure.
UniqueFd open_locked(const std::string& path, bool create, bool* busy);

// fsync(fd) then rename(from, to), then fsync the directory (the syncs only
// while sync_outputs()); throws Error.
void durable_rename(int fd, const std::string& from, const std::string& to);

// fsync a finished file and its directory, whatever sync_outputs() says: for
// the moment before a source is deleted, when its replacement must be on
// disk. Throws Error.
void make_durable(const std::string& path);

struct FileEntry {
  std::string path;      // as openable: root + "/" + relative
  std::string relative;  // relative to the listing root, '/'-separated
  uint64_t size = 0;
};

// All regular files under root (recursively, following symlinks to files),
// for which keep(relative) is true, sorted by relative path byte-wise
// (strcmp order, the same on every machine and rank). Throws Error when root
// is missing or unreadable. Symlinks whose target is missing (an unmounted
// file system, a moved directory) cannot be listed; when dangling_links is
// given, their paths are appended to it (sorted) so the caller can warn.
std::vector<FileEntry> list_files(const std::string& root,
                                  const std::function<bool(std::string_view relative)>& keep,
                                  std::vector<std::string>* dangling_links = nullptr);
// One warning line per dangling symlink: "<label>: warning: skipping dangling symlink '<path>' ...".
void warn_dangling_links(std::string_view label, const std::vector<std::string>& links);

// Checks, before any work, that a file can later be created at `path` (a
// --stats-json or --report file): its directory exists and is writable and
// the path is not a directory. Throws UsageError naming `flag` otherwise.
void check_output_file_path(const std::string& path, std::string_view flag);

// mkdir -p; throws Error.
void make_dirs(const std::string& dir);
// Parent directory of a path ("." for a bare name).
std::string parent_dir(const std::string& path);
// Last path component.
std::string base_name(const std::string& path);
bool path_exists(const std::string& path);
// `path` made absolute against the working directory, with "." components and
// repeated slashes removed (lexically: symlinks and ".." are kept as given).
std::string absolute_path(const std::string& path);
// Size of a regular file; throws Error when missing.
uint64_t file_size(const std::string& path);

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace sp
