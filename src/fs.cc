#include "sp/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "sp/error.h"
#include "sp/failpoint.h"
#include "sp/io.h"

namespace sp {

static std::atomic<bool> g_sync_outputs{true};
void set_sync_outputs(bool on) { g_sync_outputs.store(on, std::memory_order_relaxed); }
bool sync_outputs() { return g_sync_outputs.load(std::memory_order_relaxed); }

std::vector<cli::Option> with_output_flags(std::vector<cli::Option> options) {
  options.push_back({"no-sync", "",
                     "Do not fsync outputs before renaming them into place: faster on scratch disks; a killed "
                     "process still leaves no complete-looking partial file, but a machine crash might."});
  return options;
}

void apply_output_flags(const cli::Args& args) { set_sync_outputs(!args.flag("no-sync")); }

std::string temp_path_for(const std::string& final_path) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "host");
  return final_path + ".tmp-" + host + "-" + std::to_string(getpid());
}

AtomicFile::AtomicFile(std::string final_path, size_t buffer_bytes)
    : final_(std::move(final_path)), temp_(temp_path_for(final_)), capacity_(std::max<size_t>(buffer_bytes, 1)) {
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(errno_message("cannot create", temp_));
}

AtomicFile::AtomicFile(std::string final_path, std::string part_path, uint64_t keep_bytes, size_t buffer_bytes)
    : final_(std::move(final_path)), temp_(std::move(part_path)), capacity_(std::max<size_t>(buffer_bytes, 1)),
      kept_(true) {
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(errno_message("cannot open", temp_));
  if (::ftruncate(fd_, static_cast<off_t>(keep_bytes)) != 0 ||
      ::lseek(fd_, static_cast<off_t>(keep_bytes), SEEK_SET) < 0) {
    const std::string why = errno_message("cannot cut back", temp_);
    ::close(fd_);
    throw Error(why);
  }
  written_ = keep_bytes;
}

AtomicFile::~AtomicFile() {
  if (kept_ && !done_) {
    if (fd_ >= 0) ::close(fd_);
    return;
  }
  discard();
}

void AtomicFile::sync() {
  flush();
  if (sync_outputs() && ::fdatasync(fd_) != 0 && errno != EINVAL) throw Error(errno_message("cannot sync", temp_));
}

void AtomicFile::write(const void* data, size_t n) {
  if (n == 0) return;  // data may be null then (an empty vector's), which memcpy must not see
  const char* p = static_cast<const char*>(data);
  if (used_ + n > capacity_) {
    flush();
    if (n >= capacity_) {  // large writes go straight through
      write_all(fd_, p, n, temp_);
      written_ += n;
      return;
    }
  }
  // Lazily: a file written only through reserve/write_at, or in large
  // pieces, never needs the buffer (nor its page faults).
  if (!buf_) buf_.reset(new char[capacity_]);
  std::memcpy(buf_.get() + used_, p, n);
  used_ += n;
}

uint64_t AtomicFile::reserve(uint64_t n) {
  flush();
  const uint64_t offset = written_;
  if (n > 0 && ::lseek(fd_, static_cast<off_t>(offset + n), SEEK_SET) < 0)
    throw Error(errno_message("cannot seek in", temp_));
  written_ += n;
  return offset;
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t n) const {
  pwrite_all(fd_, data, n, offset, temp_);
}

void AtomicFile::flush() {
  if (used_) write_all(fd_, buf_.get(), used_, temp_);
  written_ += used_;
  used_ = 0;
}

void AtomicFile::commit() {
  if (done_) throw Error("internal: commit of a closed file " + final_);
  flush();
  failpoint("atomic_file.before_rename");
  durable_rename(fd_, temp_, final_);
  failpoint("atomic_file.after_rename");
  ::close(fd_);
  fd_ = -1;
  done_ = true;
}

void AtomicFile::discard() {
  if (done_) return;
  done_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
}

void durable_rename(int fd, const std::string& from, const std::string& to) {
  const bool sync = sync_outputs();
  if (sync && fd >= 0 && ::fsync(fd) != 0 && errno != EINVAL) throw Error(errno_message("cannot sync", from));
  if (::rename(from.c_str(), to.c_str()) != 0) throw Error(errno_message("cannot rename to " + to + " from", from));
  if (!sync) return;
  // Persist the directory entry too; failure here is not worth failing the run.
  int dfd = ::open(parent_dir(to).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

UniqueFd open_locked(const std::string& path, bool create, bool* busy) {
  *busy = false;
  for (;;) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644));
    if (!fd) {
      if (!create && errno == ENOENT) return {};
      throw Error(errno_message("cannot open", path));
    }
    failpoint("open_locked.before_lock");
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) throw Error(errno_message("cannot lock", path));
      *busy = true;
      return {};
    }
    struct stat held, now;
    if (::fstat(fd.get(), &held) != 0) throw Error(errno_message("cannot stat", path));
    if (::stat(path.c_str(), &now) == 0) {
      if (now.st_dev == held.st_dev && now.st_ino == held.st_ino) return fd;
      continue;  // renamed away by its holder, and another file is at `path` now
    }
    if (errno != ENOENT) throw Error(errno_message("cannot stat", path));
    if (!create) return {};  // renamed or removed by its holder: no file at `path` any more
  }
}

void make_durable(const std::string& path) {
  {
    const UniqueFd fd = open_for_reading(path);
    if (::fsync(fd.get()) != 0 && errno != EINVAL) throw Error(errno_message("cannot sync", path));
  }
  const UniqueFd dir(::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir && ::fsync(dir.get()) != 0 && errno != EINVAL) throw Error(errno_message("cannot sync", parent_dir(path)));
}

static void walk(const std::string& root, const std::string& rel, const std::function<bool(std::string_view)>& keep,
                 std::vector<FileEntry>& out, std::vector<std::string>* dangling, int depth) {
  if (depth > 64) throw Error("directory nesting too deep (symlink loop?) at '" + root + "/" + rel + "'");
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw Error(errno_message("cannot read directory", dir));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    const std::string r = rel.empty() ? name : rel + "/" + name;
    const std::string full = root + "/" + r;
    struct stat st;
    if (::stat(full.c_str(), &st) != 0) {
      // A dangling symlink is worth a warning (its target may be a whole
      // unmounted directory); anything else vanished while we looked.
      if (dangling && ::lstat(full.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) dangling->push_back(full);
      continue;
    }
    if (S_ISDIR(st.st_mode)) walk(root, r, keep, out, dangling, depth + 1);
    else if (S_ISREG(st.st_mode) && keep(r)) out.push_back({full, r, static_cast<uint64_t>(st.st_size)});
  }
}

std::vector<FileEntry> list_files(const std::string& root, const std::function<bool(std::string_view)>& keep,
                                  std::vector<std::string>* dangling) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) throw Error(errno_message("cannot open directory", root));
  if (!S_ISDIR(st.st_mode)) throw Error("'" + root + "' is not a directory");
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  std::vector<FileEntry> out;
  const size_t dangling_before = dangling ? dangling->size() : 0;
  walk(r, "", keep, out, dangling, 0);
  std::sort(out.begin(), out.end(), [](const FileEntry& a, const FileEntry& b) { return a.relative < b.relative; });
  if (dangling) std::sort(dangling->begin() + static_cast<std::ptrdiff_t>(dangling_before), dangling->end());
  return out;
}

void warn_dangling_links(std::string_view label, const std::vector<std::string>& links) {
  for (const auto& l : links) print_warning(label, "skipping dangling symlink '" + l + "' (its target does not exist)");
}

void check_output_file_path(const std::string& path, std::string_view flag) {
  const std::string f(flag);
  if (path.empty()) throw UsageError(f + ": expected a file name");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw UsageError(f + ": '" + path + "' is a directory");
  const std::string dir = parent_dir(path);
  if (::stat(dir.c_str(), &st) != 0) throw UsageError(f + ": " + errno_message("cannot use directory", dir));
  if (!S_ISDIR(st.st_mode)) throw UsageError(f + ": '" + dir + "' is not a directory");
  if (::access(dir.c_str(), W_OK) != 0) throw UsageError(f + ": " + errno_message("cannot write in directory", dir));
}

void make_dirs(const std::string& dir) {
  if (dir.empty() || dir == "." || dir == "/") return;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error("'" + dir + "' exists and is not a directory");
    return;
  }
  make_dirs(parent_dir(dir));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw Error(errno_message("cannot create directory", dir));
}

std::string parent_dir(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string base_name(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string absolute_path(const std::string& path) {
  std::string in = path;
  if (in.empty() || in[0] != '/') {
    char buf[4096];
    if (!::getcwd(buf, sizeof buf)) throw Error(errno_message("cannot resolve", path));
    in = std::string(buf) + "/" + in;
  }
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    size_t j = in.find('/', i);
    if (j == std::string::npos) j = in.size();
    const std::string_view part(in.data() + i, j - i);
    if (!part.empty() && part != ".") (out += '/') += part;
    i = j + 1;
  }
  return out.empty() ? "/" : out;
}

uint64_t file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(errno_message("cannot open", path));
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace sp
