// Helpers shared by the test binaries: scratch directories, running the built
// tools, reading and writing files, locating the GPT-2 vocabulary.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sp::test {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;       // exit status, or 128+signal
  std::string out;          // stdout
  std::string err;          // stderr
};

// Runs a shell command line (via /bin/sh -c), capturing stdout and stderr.
CommandResult run_command(const std::string& command_line);

// A shell command line started in the background (stdout and stderr to
// files, stdin from /dev/null), with SIGINT, SIGTERM and SIGHUP at their
// default action whatever the test runner's. The command is exec'd by the
// shell, so pid() is the tool's own process when the line is one command.
// The destructor kills (SIGKILL) and reaps it if it is still running.
class BackgroundCommand {
 public:
  explicit BackgroundCommand(const std::string& command_line);
  ~BackgroundCommand();
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;
  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // SIGSTOP, returning once it has stopped (false if it exited first).
  bool freeze();
  bool running();          // false once it has exited (then it is reaped)
  CommandResult wait();    // waits for it to exit; exit_code as in run_command

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// Polls `condition` every millisecond until it holds (true) or `seconds` pass (false).
bool wait_until(const std::function<bool()>& condition, double seconds);

// Paths of AtomicFile temporaries ("*.tmp-*") anywhere under root, sorted.
std::vector<std::string> temps_under(const std::string& root);

// Partials and checkpoints (sp/checkpoint.h) anywhere under root, relative to
// it, sorted; none while root is not there yet, or while a running tool
// renames files under the listing.
std::vector<std::string> partials_under(const std::string& root);

// For each completion record under root (relative path): its outputs' sizes
// and checksums, which equal those of an uninterrupted run's when the bytes do.
std::map<std::string, std::string> recorded_outputs(const std::string& root);

// Runs command_line in the background; as soon as a temporary shows up under
// watch_dir, freezes it (SIGSTOP), sets *caught_mid_run to work_remains()
// (false means the run was about to end anyway: the test is void), sends
// `sig`, lets it continue (SIGCONT) and waits for it to exit.
CommandResult interrupt_while_working(const std::string& command_line, const std::string& watch_dir, int sig,
                                      const std::function<bool()>& work_remains, bool* caught_mid_run);

// AtomicFile's temporary name for `final_path` as a process of this host
// that has exited would have left it ("<final>.tmp-<this host>-<dead pid>").
std::string temp_of_dead_process(const std::string& final_path);

// Absolute path of a built tool: SP_BIN_DIR "/" name.
std::string tool_path(const std::string& name);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& data);
bool file_exists(const std::string& path);
// Peak resident memory (KiB) of one run of a command (sh -c), from wait4's
// rusage; a failing command fails the calling test.
long peak_rss_kib(const std::string& command_line);
// Names of the entries of a directory (not recursive), sorted.
std::vector<std::string> list_dir(const std::string& dir);

// Directory holding the verified GPT-2 vocab.json and merges.txt:
// $SP_GPT2_DIR, else ~/.cache/sp_toolkit/gpt2 (what
// third_party/gpt2/fetch_vocab.sh fills). Empty string when absent.
std::string gpt2_dir();

// Directory of the tokenizer models third_party/tokenizers/fetch_models.sh
// fills: $SP_TOKENIZERS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/sp_toolkit/tokenizers.
// Empty string when absent.
std::string tokenizers_dir();

// One line of a tests/golden/tok_*.jsonl file: a text and the oracle's ids
// (the `field` read_golden was asked for: "ids" or "ids_no_special").
struct GoldenLine {
  std::string text;
  std::vector<uint32_t> ids;
};
std::vector<GoldenLine> read_golden(const std::string& path, const std::string& field = "ids");

// Standard base64 with padding (tiktoken rank files).
std::string base64(std::string_view bytes);

// UTF-8 bytes of one code point (surrogates too, for invalid-input tests).
std::string utf8(char32_t cp);

// True under CI (the environment variable CI set, not "0" or "false"): there a
// missing fixture (vocabulary, tool, package) must fail a test, never skip it.
bool in_ci();

// Single-quotes a string for /bin/sh.
std::string shell_quote(const std::string& s);

// tests/download_test_server.py, started on loopback (127.0.0.1 and
// 127.0.0.2) for the test's lifetime and killed when it ends. It serves the
// files under `root` at url(mode, name), misbehaving as `mode` says (see the
// script), and logs every request under `dir`.
struct LogLine {
  std::string server, path, range, auth, if_range;
  double t = 0;  // arrival time (Unix seconds)
};
class TestServer {
 public:
  // extra_args: e.g. "--tls-cert C --tls-key K" (then url() gives https:// URLs).
  explicit TestServer(const std::string& root, const std::string& dir, const std::string& extra_args = "");
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  std::string url(const std::string& mode, const std::string& name) const;
  std::vector<LogLine> requests() const;

 private:
  std::string log_, scheme_;
  int port1_ = 0, port2_ = 0;
  int pid_ = -1;
};

}  // namespace sp::test

// Skips the current test when a fixture is missing on a developer's machine,
// but fails it under CI, so CI cannot pass with a suite silently skipped.
#define SP_REQUIRE_FIXTURE(present, what)                                           \
  do {                                                                              \
    if (!(present)) {                                                               \
      if (::sp::test::in_ci()) FAIL() << (what) << " (a missing fixture fails under CI)"; \
      else GTEST_SKIP() << (what);                                                  \
    }                                                                               \
  } while (0)
