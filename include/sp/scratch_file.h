// Scratch space on disk that never has a name: no kill -9, crash or rerun can
// leave it behind, and no other process can see or remove it.
//
// Guarantees: the file lives in the directory given (so it is on the outputs'
// file system and counted there, not in a small /tmp). It is opened with
// O_TMPFILE; where the file system does not support that, it is created under
// a unique name (AtomicFile's "<near_path>.tmp-<host>-<pid>") and unlinked at
// once, so only a kill in between those two calls can leave a name, which
// remove_stale_temps (sp/stale_temps.h) recognises as a dead process's. The
// space is freed when the object is destroyed or the process ends.
//
// The one exception is asked for by name: ScratchFile::resumable() keeps its
// space under a fixed name that outlives the process, for work that a later
// run continues from a checkpoint (it then removes it with remove()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sp {

class ScratchFile {
 public:
  // near_path: a path in the directory that holds the scratch space; names
  // it in messages. try_tmpfile = false skips O_TMPFILE (tests use it to
  // exercise the create-and-unlink fallback). Throws Error.
  explicit ScratchFile(std::string near_path, bool try_tmpfile = true, size_t buffer_bytes = size_t{1} << 20);
  // At the fixed name `path`, kept when this object goes away (remove()
  // deletes it); continues after the first `keep_bytes` bytes left there by
  // an earlier writer, cutting off the rest (0: afresh). Throws Error.
  static std::unique_ptr<ScratchFile> resumable(const std::string& path, uint64_t keep_bytes,
                                                size_t buffer_bytes = size_t{1} << 20);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Appends (buffered).
  void write(const void* data, size_t n);
  uint64_t size() const { return written_ + used_; }
  // Reads everything written so far from the start, handing it to `consume`
  // in pieces of `piece` bytes (the last may be shorter). Throws Error.
  void read_all(const std::function<void(const char* data, size_t n)>& consume, size_t piece = size_t{1} << 20);
  // Whether O_TMPFILE was used (false: the create-and-unlink fallback).
  bool anonymous_from_start() const { return anonymous_; }
  // Writes out the buffer and makes the file durable (fdatasync, while
  // sync_outputs()). Throws Error.
  void sync();
  // A resumable file: deletes its name (the space goes with this object). Throws Error.
  void remove();

 private:
  ScratchFile(std::string path, uint64_t keep_bytes, size_t buffer_bytes);
  void flush();
  std::string near_;
  std::string named_;  // resumable: its path
  int fd_ = -1;
  bool anonymous_ = false;
  std::unique_ptr<char[]> buf_;
  size_t capacity_, used_ = 0;
  uint64_t written_ = 0;
};

}  // namespace sp
