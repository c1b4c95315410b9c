#include "test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/resource.h>
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

#include <gtest/gtest.h>
#include <simdjson.h>

#include "sp/checkpoint.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "sp/unicode.h"

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
  append_utf8(cp, s);
  return s;
}

bool in_ci() {
  // Services spell it "true", "1", "yes"...; scripts/test.sh keeps the value it finds.
  const char* ci = std::getenv("CI");
  return ci && *ci && std::string(ci) != "0" && std::string(ci) != "false";
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
  // Made here, not only in the child: a child killed before it opens them
  // (a loaded machine, a kill soon after the start) must still leave them to wait().
  write_file(out, "");
  write_file(err, "");
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

std::vector<std::string> partials_under(const std::string& root) {
  std::vector<std::string> out;
  try {
    auto partial = [](std::string_view rel) { return is_part_or_checkpoint_name(base_name(std::string(rel))); };
    for (const auto& f : list_files(root, partial)) out.push_back(f.relative);
  } catch (const Error&) {
    out.clear();
  }
  return out;
}

std::map<std::string, std::string> recorded_outputs(const std::string& root) {
  std::map<std::string, std::string> m;
  for (const auto& f : list_files(root, [](std::string_view rel) { return is_record_name(std::string(rel)); })) {
    const CompletionRecord r = read_record(f.path);
    for (const auto& o : r.outputs) m[f.relative] += std::to_string(o.size) + " " + o.fingerprint + "\n";
  }
  return m;
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

std::string base64(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s : {18, 12, 6, 0}) out += kAlphabet[(n >> s) & 63];
  }
  if (bytes.size() - i == 1) {
    const uint32_t n = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63], out += kAlphabet[(n >> 12) & 63], out += "==";
  } else if (bytes.size() - i == 2) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63], out += kAlphabet[(n >> 12) & 63], out += kAlphabet[(n >> 6) & 63], out += "=";
  }
  return out;
}

std::string tokenizers_dir() {
  std::string dir;
  if (const char* e = std::getenv("SP_TOKENIZERS_DIR"); e && *e) dir = e;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) dir = std::string(x) + "/sp_toolkit/tokenizers";
  else if (const char* h = std::getenv("HOME")) dir = std::string(h) + "/.cache/sp_toolkit/tokenizers";
  if (dir.empty() || !file_exists(dir)) return "";
  return dir;
}

std::vector<GoldenLine> read_golden(const std::string& path, const std::string& field) {
  simdjson::dom::parser parser;
  simdjson::dom::document_stream stream;
  const simdjson::padded_string json = simdjson::padded_string(read_file(path));
  if (parser.parse_many(json).get(stream)) throw std::runtime_error(path + ": not JSON lines");
  std::vector<GoldenLine> out;
  for (auto doc : stream) {
    simdjson::dom::element line;
    if (doc.get(line)) throw std::runtime_error(path + ": bad JSON line");
    GoldenLine g;
    std::string_view text;
    simdjson::dom::array ids;
    if (line["text"].get_string().get(text) || line[field].get_array().get(ids))
      throw std::runtime_error(path + ": a line without \"text\" and \"" + field + "\"");
    g.text = std::string(text);
    for (auto id : ids) g.ids.push_back(static_cast<uint32_t>(id.get_uint64().value()));
    out.push_back(std::move(g));
  }
  return out;
}

namespace {

// Extracts "key": "value" from one JSON log line (only \" and \\ escapes occur).
std::string field(const std::string& line, const std::string& key) {
  auto p = line.find("\"" + key + "\": \"");
  if (p == std::string::npos) return "";
  std::string out;
  for (p += key.size() + 5; p < line.size() && line[p] != '"'; ++p) {
    if (line[p] == '\\' && p + 1 < line.size()) ++p;
    out += line[p];
  }
  return out;
}

}  // namespace

TestServer::TestServer(const std::string& root, const std::string& dir, const std::string& extra_args)
    : log_(dir + "/requests.log"), scheme_(extra_args.find("--tls-cert") != std::string::npos ? "https" : "http") {
  const std::string port_file = dir + "/ports";
  const std::string cmd = "python3 " + shell_quote(std::string(SP_SOURCE_DIR) + "/tests/download_test_server.py") +
                          " --root " + shell_quote(root) + " --log " + shell_quote(log_) + " --port-file " +
                          shell_quote(port_file) + " --lifetime 150 " + extra_args + " >/dev/null 2>" +
                          shell_quote(dir + "/server.err") + " </dev/null & echo $! > " +
                          shell_quote(dir + "/server.pid");
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("cannot start the test server");
  for (int i = 0; i < 200 && !file_exists(port_file); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!file_exists(port_file)) throw std::runtime_error("test server did not start: " + read_file(dir + "/server.err"));
  std::istringstream(read_file(port_file)) >> port1_ >> port2_;
  pid_ = std::stoi(read_file(dir + "/server.pid"));
}

TestServer::~TestServer() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

std::string TestServer::url(const std::string& mode, const std::string& name) const {
  return scheme_ + "://127.0.0.1:" + std::to_string(port1_) + "/" + mode + "/" + name;
}

std::vector<LogLine> TestServer::requests() const {
  std::vector<LogLine> out;
  if (!file_exists(log_)) return out;
  std::istringstream in(read_file(log_));
  for (std::string l; std::getline(in, l);)
    out.push_back({field(l, "server"), field(l, "path"), field(l, "range"), field(l, "authorization"),
                   field(l, "if_range"), std::atof(field(l, "t").c_str())});
  return out;
}

long peak_rss_kib(const std::string& command_line) {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command_line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command_line;
  return ru.ru_maxrss;
}

}  // namespace sp::test
