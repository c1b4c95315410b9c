#include "test_support.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

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

}  // namespace sp::test
