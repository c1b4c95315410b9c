#include "test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "sp/fs.h"
#include "sp/stale_temps.h"

namespace sp::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sp_test_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::string cmd = "rm -rf " + shell_quote(path_);
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "warning: could not remove %s\n", path_.c_str());
}

std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && (std::string(ci) == "true" || std::string(ci) == "1");
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

CommandResult run_command(const std::string& command_line) {
  TempDir d;
  std::string cmd = "(" + command_line + ") >" + shell_quote(d / "out") + " 2>" + shell_quote(d / "err") + " </dev/null";
  int status = std::system(cmd.c_str());
  CommandResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
  r.out = read_file(d / "out");
  r.err = read_file(d / "err");
  return r;
}

BackgroundCommand::BackgroundCommand(const std::string& command_line) {
  const std::string cmd = "exec " + command_line;
  const std::string out = dir_ / "out", err = dir_ / "err";
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {  // only async-signal-safe calls until exec
    for (int s : {SIGINT, SIGTERM, SIGHUP}) ::signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int in = ::open("/dev/null", O_RDONLY);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0) ::_exit(127);
    ::dup2(in, 0), ::dup2(o, 1), ::dup2(e, 2);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

BackgroundCommand::~BackgroundCommand() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

void BackgroundCommand::signal(int sig) const {
  if (!reaped_) ::kill(pid_, sig);
}

bool BackgroundCommand::freeze() {
  if (reaped_) return false;
  ::kill(pid_, SIGSTOP);
  int st = 0;
  while (::waitpid(pid_, &st, WUNTRACED) < 0)
    if (errno != EINTR) return false;
  if (WIFSTOPPED(st)) return true;
  status_ = st;
  reaped_ = true;
  return false;
}

bool BackgroundCommand::running() {
  if (reaped_) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

CommandResult BackgroundCommand::wait() {
  if (!reaped_) {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  CommandResult r;
  if (WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
  else if (WIFSIGNALED(status_)) r.exit_code = 128 + WTERMSIG(status_);
  r.out = read_file(dir_ / "out");
  r.err = read_file(dir_ / "err");
  return r;
}

bool wait_until(const std::function<bool()>& condition, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::vector<std::string> temps_under(const std::string& root) {
  std::vector<std::string> out;
  if (!file_exists(root)) return out;
  for (const auto& f : list_files(root, [](std::string_view rel) { return is_temp_name(base_name(std::string(rel))); }))
    out.push_back(f.path);
  return out;
}

CommandResult interrupt_while_working(const std::string& command_line, const std::string& watch_dir, int sig,
                                      const std::function<bool()>& work_remains, bool* caught_mid_run) {
  BackgroundCommand cmd(command_line);
  *caught_mid_run = false;
  if (wait_until([&] { return !temps_under(watch_dir).empty() || !cmd.running(); }, 60) && cmd.freeze()) {
    *caught_mid_run = work_remains();
    cmd.signal(sig);
    cmd.signal(SIGCONT);
  }
  return cmd.wait();
}

std::string temp_of_dead_process(const std::string& final_path) {
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);  // reaped: the pid now names no process (until reused, far later)
  const std::string mine = temp_path_for(final_path);  // "<final>.tmp-<host>-<our pid>"
  return mine.substr(0, mine.rfind('-') + 1) + std::to_string(child);
}

std::string tool_path(const std::string& name) { return std::string(SP_BIN_DIR) + "/" + name; }

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + path);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!f) throw std::runtime_error("short write " + path);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string gpt2_dir() {
  std::string dir;
  if (const char* e = std::getenv("SP_GPT2_DIR"); e && *e) dir = e;
  else if (const char* h = std::getenv("HOME")) dir = std::string(h) + "/.cache/sp_toolkit/gpt2";
  if (dir.empty() || !file_exists(dir + "/vocab.json") || !file_exists(dir + "/merges.txt")) return "";
  return dir;
}

}  // namespace sp::test
