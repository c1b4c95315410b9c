// Crash consistency of sp_extract, sp_concat, sp_tokenize, sp_merge and sp_download:
// each tool is killed with SIGKILL at every hit of its fail points
// (sp/failpoint.h: after each output rename, around each record write, before
// each source unlink, between the .bin and .idx renames, ...), on a fresh
// start and while rebuilding the outputs of a changed input, and at random
// times (with SIGTERM and SIGINT too, which every tool handles). After
// every stop the files must be trustworthy:
//   (a) every output that a record vouches for (check_completion says
//       complete) holds exactly the bytes of an uninterrupted run, and no
//       final name (anything but a temporary) holds other bytes;
//   (b) every source is still there (unchanged), or the output standing for it
//       is, verified in full against its record;
//   (c) rerunning the same command exits 0, leaves exactly the tree of an
//       uninterrupted run (records aside: they hold mtimes and host names),
//       every output vouched for by its record, and no temporary (*.tmp-*,
//       *.part, *.part.meta).
// The tools run inside a scenario's directory (reset before every trial) and
// name their files relative to it. SP_CRASH_SEED=N varies the random times.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sp/checkpoint.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/io.h"
#include "sp/record.h"
#include "sp/sha256.h"
#include "merge_reference.h"
#include "test_support.h"

extern char** environ;

namespace {

using sp::test::read_file;
using sp::test::TempDir;
using sp::test::tool_path;

// A file's size and XXH3-64 hash: trees are compared after every kill, and
// hashing them is much cheaper than holding their bytes.
struct Content {
  uint64_t size = 0;
  uint64_t hash = 0;
  bool operator==(const Content&) const = default;
};
using Tree = std::map<std::string, Content>;        // path relative to a scenario's root -> content
using Files = std::map<std::string, std::string>;  // path relative to a scenario's root -> bytes

Content content_of(std::string_view bytes) { return {bytes.size(), XXH3_64bits(bytes.data(), bytes.size())}; }

Content content_of_file(const std::string& path) {
  const sp::UniqueFd fd = sp::open_for_reading(path);
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  static thread_local std::vector<char> buf(size_t{1} << 20);
  Content c;
  for (size_t n; (n = sp::pread_full(fd.get(), buf.data(), buf.size(), c.size, path)) > 0; c.size += n)
    XXH3_64bits_update(st, buf.data(), n);
  c.hash = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return c;
}

// A pool of English-looking words (so BPE has real merges to do), built
// once; documents are runs of its words, cut at spaces so every JSON escape
// in it stays whole.
struct WordPool {
  std::string text;
  std::vector<size_t> starts;  // where each word begins; one past the end last
  WordPool() {
    static const char* const kWords[] = {"the", "data", "model", "token", "shard", "crash", "record", "output",
                                         "source", "rename", "durable", "complete", "kill", "rerun", "byte",
                                         "Megatron", "pajama", "zstd", "chunk", "naïve", "café", "日本語", "2024",
                                         "x86_64", "don't", "it's", "\\n", "\\\"quoted\\\"", "!?", "e.g."};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 400000; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      starts.push_back(text.size());
      (text += kWords[x % std::size(kWords)]) += ' ';
    }
    starts.push_back(text.size());
  }
  // n words from word i on (i + n must not pass the end).
  std::string_view slice(size_t i, size_t n) const {
    return std::string_view(text).substr(starts[i], starts[i + n] - starts[i] - 1);
  }
  size_t words() const { return starts.size() - 1; }
};

// JSONL with two string keys ("title", "text") and varied document lengths.
std::string jsonl(uint64_t seed, size_t docs, size_t max_words, bool final_newline = true) {
  static const WordPool pool;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> len(1, max_words), at(0, pool.words() - max_words - 4);
  std::string s;
  for (size_t i = 0; i < docs; ++i) {
    ((s += "{\"title\": \"") += pool.slice(at(rng), 3)) += "\", \"text\": \"";
    (s += pool.slice(at(rng), len(rng))) += "\"}\n";
  }
  if (!final_newline && !s.empty()) s.pop_back();
  return s;
}

std::string zstd_compress(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 1);
  if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

// AtomicFile's temporaries, and sp_download's partial files and their sidecars.
bool is_temp(const std::string& rel) {
  // sp_merge's work files count too: its part files (renamed into place when whole) and its journal; and the
  // parts and checkpoints of outputs resumed inside a task (sp/checkpoint.h: sp_tokenize, sp_extract, sp_concat).
  return rel.find(".tmp-") != std::string::npos || sp::ends_with(rel, ".part") || sp::ends_with(rel, ".part.meta") ||
         sp::ends_with(rel, ".sp-merge-part") || sp::ends_with(rel, ".sp-merge-journal") ||
         sp::is_part_or_checkpoint_name(sp::base_name(rel));
}

std::string signal_name(int sig) { return std::string("SIG") + sigabbrev_np(sig); }

// Every regular file under root but the records.
Tree snapshot(const std::string& root) {
  Tree t;
  for (const auto& f : sp::list_files(root, [](std::string_view rel) { return !sp::is_record_name(std::string(rel)); }))
    t[f.relative] = content_of_file(f.path);
  return t;
}

// What differs between two trees ("" when nothing), naming at most a few files.
std::string tree_diff(const Tree& want, const Tree& got) {
  std::string s;
  int shown = 0;
  auto note = [&](const std::string& what) {
    if (shown++ < 8) s += "\n  " + what;
  };
  for (const auto& [rel, content] : want) {
    auto it = got.find(rel);
    if (it == got.end()) note("missing: " + rel);
    else if (!(it->second == content))
      note("different bytes: " + rel + " (" + std::to_string(it->second.size) + " bytes, want " +
           std::to_string(content.size) + ")");
  }
  for (const auto& [rel, content] : got)
    if (!want.count(rel)) note("unexpected: " + rel);
  if (shown > 8) s += "\n  ... " + std::to_string(shown - 8) + " more";
  return s;
}

struct Outcome {
  bool killed = false;     // ended by SIGKILL (a fail point, or our timer)
  bool signalled = false;  // our timer fired (the signal was sent before the tool ended)
  bool hung = false;       // did not end within 10 s of an interrupt signal (then killed)
  int exit_code = -1;      // exit status, or 128 + signal
  double seconds = 0;
};

struct Scenario {
  std::string root;  // the tool's working area (its working directory)
  std::string log;   // stdout and stderr of the last run
  Files sources;     // as they are before the first run
  // When not empty: the sources of an earlier, complete run whose outputs the
  // trials then rebuild from `sources` (a changed input: a stale output and
  // record sit at the final names when the trial starts).
  Files earlier_sources;
  std::vector<std::string> argv;  // run in root, so sources and outputs are named relative to it
  // {".idx", ".bin"}: a file ending in the first at a final name promises its
  // sibling ending in the second is complete there too (Megatron's readers
  // open a dataset by its .idx).
  std::vector<std::pair<std::string, std::string>> sibling_promises;
  // False for sp_download: a file at its final name is complete by itself
  // (its SHA-256 and size were checked before the rename).
  bool writes_records = true;

  // Filled by prepare():
  Tree source_contents;
  Tree reference;          // root after an uninterrupted run, records left out
  Tree earlier_reference;  // root after the earlier run (rebuilds only)
  std::map<std::string, std::vector<std::string>> replaced_by;  // source -> the outputs its record lists
  double reference_seconds = 0;
};

std::string log_tail(const Scenario& s) {
  std::string l = sp::test::file_exists(s.log) ? read_file(s.log) : "";
  return "\n--- tool output ---\n" + (l.size() > 3000 ? "..." + l.substr(l.size() - 3000) : l);
}

void write_tree(const std::string& root, const Files& files) {
  for (const auto& [rel, bytes] : files) {
    const std::string path = root + "/" + rel;
    std::filesystem::create_directories(sp::parent_dir(path));
    sp::test::write_file(path, bytes);
  }
}

Outcome run(const Scenario& s, const std::string& failpoint, double signal_after = 0, int signal = SIGKILL,
            bool when_caught = false);

// Whether process pid has a handler installed for sig (/proc/PID/status, SigCgt).
bool catches(pid_t pid, int sig) {
  std::string status;
  try {
    status = sp::read_file("/proc/" + std::to_string(pid) + "/status");
  } catch (const sp::Error&) {
    return false;  // gone already
  }
  const auto at = status.find("SigCgt:");
  if (at == std::string::npos) return false;
  const unsigned long long mask = std::strtoull(status.c_str() + at + 7, nullptr, 16);
  return (mask >> (sig - 1)) & 1;
}

// The state a trial starts from; *earlier gets the tree the earlier run left.
void reset(const Scenario& s, Tree* earlier = nullptr) {
  std::filesystem::remove_all(s.root);
  if (!s.earlier_sources.empty()) {
    write_tree(s.root, s.earlier_sources);
    const Outcome o = run(s, "");
    ASSERT_EQ(o.exit_code, 0) << "the earlier run failed" << log_tail(s);
    if (earlier) *earlier = snapshot(s.root);
  }
  // Sources the earlier run had too are left untouched (their outputs stay complete).
  for (const auto& [rel, bytes] : s.earlier_sources)
    if (auto now = s.sources.find(rel); now == s.sources.end() || now->second != bytes)
      std::filesystem::remove(s.root + "/" + rel);
  for (const auto& [rel, bytes] : s.sources)
    if (auto before = s.earlier_sources.find(rel); before == s.earlier_sources.end() || before->second != bytes)
      write_tree(s.root, {{rel, bytes}});
}

// Runs the scenario's command with SP_FAILPOINT = failpoint (unless empty);
// signal_after > 0 sends `signal` after that many seconds (and, when_caught,
// only once the tool has a handler for it) if it is still running.
Outcome run(const Scenario& s, const std::string& failpoint, double signal_after, int signal, bool when_caught) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string v = *e;
    const std::string name = v.substr(0, v.find('='));
    // Launcher variables would make the tool a rank of a larger job.
    static const std::set<std::string> kDropped = {"SP_FAILPOINT", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                                                   "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "RANK", "WORLD_SIZE",
                                                   "SLURM_PROCID", "SLURM_NTASKS"};
    if (!kDropped.count(name)) env.push_back(v);
  }
  if (!failpoint.empty()) env.push_back("SP_FAILPOINT=" + failpoint);
  std::vector<char*> envp, argv;
  for (auto& v : env) envp.push_back(v.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = s.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addchdir_np(&fa, s.root.c_str());
  posix_spawn_file_actions_addopen(&fa, 1, s.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + s.argv[0] + ": " + std::strerror(rc));
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  int status = 0;
  Outcome o;
  if (signal_after > 0) {
    while (::waitpid(pid, &status, WNOHANG) != pid) {
      if (!o.signalled && elapsed() >= signal_after && (!when_caught || catches(pid, signal))) {
        ::kill(pid, signal);
        o.signalled = true;
      }
      if (o.signalled && elapsed() >= signal_after + 10) {  // an interrupt that is not obeyed
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        o.hung = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  } else {
    ::waitpid(pid, &status, 0);
  }
  o.seconds = elapsed();
  o.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return o;
}

std::string relative_to(const Scenario& s, const std::string& path) {
  const std::string root = sp::absolute_path(s.root) + "/";
  return path.rfind(root, 0) == 0 ? path.substr(root.size()) : path;
}

// Whether the record at record_path vouches for its outputs: check_completion
// against what is on disk now (its own inputs, identified afresh, and
// options), as a rerun of the same command would judge it. Fills *outputs
// (relative to the root) when it does.
bool vouched(const Scenario& s, const std::string& record_path, sp::VerifyDepth depth,
             std::vector<std::string>* outputs = nullptr) {
  sp::CompletionRecord got;
  try {
    got = sp::read_record(record_path);
  } catch (const sp::Error&) {
    return false;
  }
  sp::CompletionRecord expected;
  expected.path = record_path;
  expected.tool = got.tool;
  expected.options = got.options;
  for (const auto& in : got.inputs) expected.inputs.push_back(sp::identify_input(in.path));
  for (const auto& out : got.outputs) expected.outputs.push_back(sp::FileIdentity{out.path});
  if (sp::check_completion(expected, depth).state != sp::Completion::kComplete) return false;
  if (outputs)
    for (const auto& out : got.outputs) outputs->push_back(relative_to(s, out.path));
  return true;
}

std::vector<std::string> record_paths(const std::string& root) {
  std::vector<std::string> paths;
  for (const auto& f : sp::list_files(root, [](std::string_view rel) { return sp::is_record_name(std::string(rel)); }))
    paths.push_back(f.path);
  return paths;
}

// An uninterrupted run: the reference every trial is compared with.
void prepare(Scenario& s, const std::string& dir) {
  // As the tools see it from inside (getcwd), for comparing with the paths in records.
  s.root = std::filesystem::canonical(dir).string() + "/root";
  s.log = dir + "/tool.log";
  reset(s, &s.earlier_reference);
  const Outcome o = run(s, "");
  ASSERT_EQ(o.exit_code, 0) << log_tail(s);
  s.reference_seconds = o.seconds;
  s.reference = snapshot(s.root);
  for (const auto& [rel, content] : s.reference) ASSERT_FALSE(is_temp(rel)) << rel;
  for (const auto& [rel, bytes] : s.sources) s.source_contents[rel] = content_of(bytes);
  for (const auto& rec : record_paths(s.root)) {
    std::vector<std::string> outs;
    ASSERT_TRUE(vouched(s, rec, sp::VerifyDepth::kFull, &outs)) << rec;
    for (const auto& in : sp::read_record(rec).inputs) {
      const std::string rel = relative_to(s, in.path);
      if (s.sources.count(rel)) s.replaced_by[rel] = outs;
    }
  }
  if (s.writes_records) {
    ASSERT_FALSE(s.replaced_by.empty()) << "the reference run wrote no records";
  }
}

// Whether `now` has rel with the content `tree` gives it.
bool holds(const Tree& now, const Tree& tree, const std::string& rel) {
  auto a = now.find(rel), b = tree.find(rel);
  return a != now.end() && b != tree.end() && a->second == b->second;
}

// (a) and (b): the state a kill left behind.
void expect_trustworthy(const Scenario& s) {
  const Tree now = snapshot(s.root);
  for (const auto& rec : record_paths(s.root)) {
    std::vector<std::string> outs;
    if (!vouched(s, rec, sp::VerifyDepth::kQuick, &outs)) continue;
    for (const auto& o : outs)
      EXPECT_TRUE(holds(now, s.reference, o))
          << rec << " vouches for " << o << ", which does not hold the bytes of an uninterrupted run";
  }
  for (const auto& [rel, content] : now) {
    if (is_temp(rel)) continue;
    if (s.source_contents.count(rel)) {
      EXPECT_TRUE(holds(now, s.source_contents, rel)) << "source " << rel << " was changed";
      continue;
    }
    // Files are renamed into place only when whole: a final name holds what
    // an uninterrupted run gives, or (rebuilds) what the earlier run gave,
    // which no complete record may vouch for any more (checked above).
    const Tree* from = holds(now, s.reference, rel) ? &s.reference
                       : holds(now, s.earlier_reference, rel) ? &s.earlier_reference
                                                               : nullptr;
    EXPECT_TRUE(from) << rel << " sits at a final name with bytes (" << content.size
                      << ") that no uninterrupted run gives";
    for (const auto& [suffix, sibling_suffix] : s.sibling_promises)
      if (from && sp::ends_with(rel, suffix)) {
        const std::string sibling = rel.substr(0, rel.size() - suffix.size()) + sibling_suffix;
        EXPECT_TRUE(holds(now, *from, sibling)) << rel << " is at its final name, but " << sibling
                                                << " of the same run is not complete beside it";
      }
  }
  std::map<std::string, bool> verified;  // record -> vouched after reading its outputs back (once per record)
  for (const auto& [rel, content] : s.source_contents) {
    if (now.count(rel)) continue;
    auto outs = s.replaced_by.find(rel);
    ASSERT_NE(outs, s.replaced_by.end()) << "source " << rel << " is gone, and no output ever stands for it";
    for (const auto& o : outs->second) {
      const std::string rec = sp::record_path_for(s.root + "/" + o);
      if (!verified.count(rec)) verified[rec] = vouched(s, rec, sp::VerifyDepth::kFull);
      EXPECT_TRUE(verified[rec]) << "source " << rel << " is gone, but " << o
                                 << " is not verified by a matching record";
      EXPECT_TRUE(holds(now, s.reference, o))
          << "source " << rel << " is gone, but " << o << " does not hold the bytes of an uninterrupted run";
    }
  }
}

// (c): the same command again finishes the job exactly.
void expect_rerun_completes(const Scenario& s) {
  const Outcome o = run(s, "");
  ASSERT_EQ(o.exit_code, 0) << "the rerun failed" << log_tail(s);
  EXPECT_EQ(tree_diff(s.reference, snapshot(s.root)), "") << "the rerun's tree differs from an uninterrupted run's";
  for (const auto& f : sp::list_files(s.root, [](std::string_view) { return true; }))
    EXPECT_FALSE(is_temp(f.relative)) << "left behind: " << f.relative;
  std::set<std::string> vouched_outputs;
  for (const auto& rec : record_paths(s.root)) {
    std::vector<std::string> outs;
    EXPECT_TRUE(vouched(s, rec, sp::VerifyDepth::kFull, &outs)) << rec << " does not match after the rerun";
    vouched_outputs.insert(outs.begin(), outs.end());
  }
  for (const auto& [src, outs] : s.replaced_by)
    for (const auto& out : outs) EXPECT_TRUE(vouched_outputs.count(out)) << out << " has no matching record";
}

// Kills the tool at the 1st, 2nd, ... hit of the fail point (up to
// max_hits), until a run passes them all and finishes by itself. Returns the
// number of kills.
int kill_at_every_hit(const Scenario& s, const std::string& point, int max_hits) {
  int kills = 0;
  for (int n = 1; n <= max_hits; ++n) {
    const std::string spec = point + ":" + std::to_string(n);
    SCOPED_TRACE("SP_FAILPOINT=" + spec);
    reset(s);
    const Outcome o = run(s, spec);
    if (!o.killed) {
      EXPECT_EQ(o.exit_code, 0) << log_tail(s);
      EXPECT_EQ(tree_diff(s.reference, snapshot(s.root)), "");
      break;
    }
    ++kills;
    expect_trustworthy(s);
    expect_rerun_completes(s);
    if (::testing::Test::HasFailure()) break;  // the first broken state says enough
  }
  EXPECT_GT(kills, 0) << "fail point " << point << " was never reached: is it still in the code by that name?";
  return kills;
}

// kill_at_every_hit for each point. The runs mostly wait for fsyncs, so
// several workers go at once, each in its own copy of the scenario's
// directory (outputs hold no absolute paths; records, which do, are only
// ever compared with the files beside them).
void kill_at_fail_points(const Scenario& s, const std::vector<std::string>& points, int max_hits) {
  constexpr int kWorkers = 3;
  std::atomic<size_t> next{0};
  std::atomic<int> kills{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w)
    workers.emplace_back([&, w] {
      Scenario mine = s;
      mine.root = s.root + "-worker" + std::to_string(w);
      mine.log = s.log + ".worker" + std::to_string(w);
      for (size_t i; (i = next++) < points.size() && !::testing::Test::HasFailure();)
        kills += kill_at_every_hit(mine, points[i], max_hits);
    });
  for (auto& t : workers) t.join();
  std::printf("[   stops  ] %d kills at %zu fail points\n", kills.load(), points.size());
}

uint64_t seed_from_env(uint64_t fallback) {
  const char* v = std::getenv("SP_CRASH_SEED");
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Chains of signals at random moments: each run resumes what the stopped one
// left (the state is checked after every stop), then a last run must finish.
// The signals take turns from `signals`: SIGKILL, or an interrupt (SIGTERM,
// SIGINT), which every tool handles: it must then end the run by itself,
// promptly, with exit status 128 + the signal (interrupted). An interrupt is sent only once
// the tool has installed its handler (before that, it would simply die).
// Delays are fractions of a full run's time, re-measured whenever the first
// run of a chain (a full one) ends before its timer, as it can on a machine
// whose load changes.
void stop_at_random_times(const Scenario& s, uint64_t seed, int chains, int stops_per_chain,
                          const std::vector<int>& signals = {SIGKILL}) {
  SCOPED_TRACE("SP_CRASH_SEED=" + std::to_string(seed) + ", reference run " + std::to_string(s.reference_seconds) +
               " s");
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> when(0.02, 0.8);
  double full_run = s.reference_seconds;
  std::map<int, int> stops;  // by signal
  for (int c = 0; c < chains; ++c) {
    reset(s);
    for (int k = 0; k < stops_per_chain; ++k) {
      const int sig = signals[static_cast<size_t>(c * stops_per_chain + k) % signals.size()];
      const double delay = when(rng) * full_run;
      SCOPED_TRACE("chain " + std::to_string(c) + ", " + signal_name(sig) + " after " + std::to_string(delay) + " s");
      const Outcome o = run(s, "", delay, sig, /*when_caught=*/sig != SIGKILL);
      if (!o.signalled) {  // finished before the timer
        ASSERT_EQ(o.exit_code, 0) << log_tail(s);
        if (k == 0) full_run = std::min(full_run, o.seconds);
        break;
      }
      if (sig != SIGKILL) {
        EXPECT_FALSE(o.hung) << "still running 10 s after the signal" << log_tail(s);
        EXPECT_TRUE(o.exit_code == 128 + sig || o.exit_code == 0) << "exit status " << o.exit_code << log_tail(s);
      } else if (!o.killed) {  // ended by itself just as the timer fired
        ASSERT_EQ(o.exit_code, 0) << log_tail(s);
        break;
      }
      ++stops[sig];
      expect_trustworthy(s);
      if (::testing::Test::HasFailure()) return;
    }
    expect_rerun_completes(s);
    if (::testing::Test::HasFailure()) return;
  }
  int total = 0;
  std::string by_signal;
  for (const auto& [sig, n] : stops) {
    total += n;
    by_signal += std::string(by_signal.empty() ? "" : ", ") + std::to_string(n) + " " + signal_name(sig);
  }
  std::printf("[   stops  ] %d at random times in %d chains (%s)\n", total, chains, by_signal.c_str());
  EXPECT_GE(total, chains) << "too few runs were still going when their timer fired";
}

// --- sp_extract -------------------------------------------------------------

Scenario extract_scenario(bool large) {
  Scenario s;
  const int files = large ? 6 : 3;
  for (int i = 0; i < files; ++i) {
    const std::string rel =
        std::string("in/") + (i % 2 ? "a/" : "b/deep/") + "shard" + std::to_string(i) + ".jsonl.zst";
    const std::string text = jsonl(100 + i, large ? 30000 + 5000 * i : 200 + 50 * i, 60);
    // Two frames in one file, as pzstd and concatenated shards have.
    s.sources[rel] = zstd_compress(text.substr(0, text.size() / 3)) + zstd_compress(text.substr(text.size() / 3));
  }
  return s;
}

TEST(CrashConsistency, ExtractKilledAtEveryFailPoint) {
  TempDir d;
  Scenario s = extract_scenario(false);
  s.argv = {tool_path("sp_extract"), "--input-dir", "in", "--output-dir", "out",
            "--remove-source", "--threads", "2", "--progress", "none"};
  prepare(s, d.path());
  kill_at_fail_points(s,
                      {"build.after_records_removed", "atomic_file.before_rename", "atomic_file.after_rename",
                       "build.after_outputs", "record.before_rename", "record.after_rename",
                       "remove_source.after_verify", "remove_source.before_unlink", "remove_source.after_unlink"},
                      /*max_hits=*/8);
}

// A changed source: its stale output and record are there when each trial starts.
TEST(CrashConsistency, ExtractRebuildKilledAtEveryFailPoint) {
  TempDir d;
  Scenario s = extract_scenario(false);
  s.earlier_sources = s.sources;
  s.earlier_sources.begin()->second = zstd_compress(jsonl(99, 500, 60));
  s.argv = {tool_path("sp_extract"), "--input-dir", "in", "--output-dir", "out", "--threads", "2", "--progress",
            "none"};
  prepare(s, d.path());
  kill_at_fail_points(s,
                      {"build.after_records_removed", "atomic_file.before_rename", "atomic_file.after_rename",
                       "build.after_outputs", "record.before_rename", "record.after_rename"},
                      /*max_hits=*/4);
}

TEST(CrashConsistency, ExtractKilledAtRandomTimes) {
  TempDir d;
  Scenario s = extract_scenario(true);
  // In place: outputs beside their sources, found again through their records once the sources are gone.
  s.argv = {tool_path("sp_extract"), "--input-dir", "in", "--remove-source", "--threads", "2",
            "--progress", "none"};
  prepare(s, d.path());
  stop_at_random_times(s, seed_from_env(1), /*chains=*/4, /*stops_per_chain=*/3, {SIGKILL, SIGTERM, SIGINT});
}

// Checkpoints every 64K: most stops fall inside a file, and the reruns resume there.
TEST(CrashConsistency, ExtractWithCheckpointsKilledAtEveryFailPoint) {
  TempDir d;
  Scenario s = extract_scenario(true);
  s.argv = {tool_path("sp_extract"), "--input-dir", "in", "--output-dir", "out", "--checkpoint-every", "64K",
            "--threads", "2", "--progress", "none"};
  prepare(s, d.path());
  kill_at_fail_points(s, {"checkpoint.after_write", "checkpoint.after_rename", "record.before_rename"},
                      /*max_hits=*/6);
}

TEST(CrashConsistency, ExtractWithCheckpointsKilledAtRandomTimes) {
  TempDir d;
  Scenario s = extract_scenario(true);
  s.argv = {tool_path("sp_extract"), "--input-dir", "in", "--output-dir", "out", "--checkpoint-every", "64K",
            "--remove-source", "--validate", "--threads", "2", "--progress", "none"};
  prepare(s, d.path());
  stop_at_random_times(s, seed_from_env(6), /*chains=*/4, /*stops_per_chain=*/3, {SIGKILL, SIGTERM, SIGINT});
}

// --- sp_concat --------------------------------------------------------------

Scenario concat_scenario(bool large) {
  Scenario s;
  const int files = large ? 12 : 5;
  for (int i = 0; i < files; ++i) {
    const std::string rel = std::string("in/") + (i < files / 2 ? "p/" : "q/") + "part" + std::to_string(i) + ".jsonl";
    // Some inputs lack their final newline: the chunk adds one.
    s.sources[rel] = jsonl(200 + i, large ? 16000 + 1000 * i : 30 + 10 * i, 60, /*final_newline=*/i % 3 != 1);
  }
  s.sources["in/q/empty.jsonl"] = "";
  return s;
}

TEST(CrashConsistency, ConcatKilledAtEveryFailPoint) {
  TempDir d;
  Scenario s = concat_scenario(false);
  s.argv = {tool_path("sp_concat"), "--input-dir", "in", "--output-dir", "out",
            "--files-per-chunk", "3", "--remove-source", "--threads", "2", "--progress", "none"};
  prepare(s, d.path());
  kill_at_fail_points(s,
                      {"plan.before_link", "build.after_records_removed", "atomic_file.before_rename",
                       "atomic_file.after_rename", "build.after_outputs", "record.before_rename",
                       "record.after_rename", "remove_source.after_verify", "remove_source.before_unlink",
                       "remove_source.after_unlink"},
                      /*max_hits=*/10);
}

TEST(CrashConsistency, ConcatKilledAtRandomTimes) {
  TempDir d;
  Scenario s = concat_scenario(true);
  s.argv = {tool_path("sp_concat"), "--input-dir", "in", "--output-dir", "out",
            "--target-size", "12M", "--remove-source", "--threads", "2", "--progress", "none"};
  prepare(s, d.path());
  stop_at_random_times(s, seed_from_env(2), /*chains=*/4, /*stops_per_chain=*/3, {SIGKILL, SIGTERM, SIGINT});
}

TEST(CrashConsistency, ConcatWithCheckpointsKilledAtEveryFailPoint) {
  TempDir d;
  Scenario s = concat_scenario(true);
  s.argv = {tool_path("sp_concat"), "--input-dir", "in", "--output-dir", "out", "--files-per-chunk", "6",
            "--checkpoint-every", "64K", "--threads", "2", "--progress", "none"};
  prepare(s, d.path());
  kill_at_fail_points(s, {"checkpoint.after_write", "checkpoint.after_rename", "record.before_rename"},
                      /*max_hits=*/6);
}

TEST(CrashConsistency, ConcatWithCheckpointsKilledAtRandomTimes) {
  TempDir d;
  Scenario s = concat_scenario(true);
  s.argv = {tool_path("sp_concat"), "--input-dir", "in", "--output-dir", "out", "--target-size", "12M",
            "--checkpoint-every", "64K", "--remove-source", "--threads", "2", "--progress", "none"};
  prepare(s, d.path());
  stop_at_random_times(s, seed_from_env(7), /*chains=*/4, /*stops_per_chain=*/3, {SIGKILL, SIGTERM, SIGINT});
}

// --- sp_tokenize ------------------------------------------------------------

Scenario tokenize_scenario(bool large) {
  Scenario s;
  const std::string vocab = sp::test::gpt2_dir();
  // A compressed input, and for the long runs a plain one too (the fail
  // points are all past the reading, so one input shows them all). Even the
  // short one spans ~15 blocks, a checkpoint every 2: a checkpoint is written
  // only once the blocks before it are, and with 5 blocks a loaded CI machine
  // once finished the whole input before any was (tokenize.after_checkpoint
  // never reached).
  s.sources["in/sub/docs1.jsonl.zst"] = zstd_compress(jsonl(301, large ? 10000 : 200, 80));
  if (large) s.sources["in/docs0.jsonl"] = jsonl(300, 9000, 80);
  s.argv = {tool_path("sp_tokenize"), "--input-dir", "in", "--output-dir", "out",
            "--json-keys", "text", "title", "--append-eod", "--vocab-file", vocab + "/vocab.json",
            "--merge-file", vocab + "/merges.txt", "--workers", "2", "--progress", "none",
            // Checkpoints every few blocks, so kills land between them and reruns resume from them.
            "--block-size", "4K", "--checkpoint-every", large ? "64K" : "8K"};
  s.sibling_promises = {{".idx", ".bin"}};
  return s;
}

TEST(CrashConsistency, TokenizeKilledAtEveryFailPoint) {
  SP_REQUIRE_FIXTURE(!sp::test::gpt2_dir().empty(), "GPT-2 vocab not found (run third_party/gpt2/fetch_vocab.sh)");
  TempDir d;
  Scenario s = tokenize_scenario(false);
  prepare(s, d.path());
  kill_at_fail_points(s,
                      {"build.after_records_removed", "tokenize.after_checkpoint", "atomic_file.before_rename",
                       "atomic_file.after_rename", "dataset.between_bin_and_idx_rename", "build.after_outputs",
                       "record.before_rename", "record.after_rename"},
                      /*max_hits=*/12);
}

// A changed input: the old pair and its record are there when each trial starts.
TEST(CrashConsistency, TokenizeRebuildKilledAtEveryFailPoint) {
  SP_REQUIRE_FIXTURE(!sp::test::gpt2_dir().empty(), "GPT-2 vocab not found (run third_party/gpt2/fetch_vocab.sh)");
  TempDir d;
  Scenario s = tokenize_scenario(false);
  s.earlier_sources = {{s.sources.begin()->first, zstd_compress(jsonl(299, 120, 80))}};
  prepare(s, d.path());
  // The moments where the old pair is half replaced: its .idx gone, then the new .bin in place.
  kill_at_fail_points(s,
                      {"build.after_records_removed", "atomic_file.before_rename",
                       "dataset.between_bin_and_idx_rename", "build.after_outputs"},
                      /*max_hits=*/6);
}

TEST(CrashConsistency, TokenizeKilledAtRandomTimes) {
  SP_REQUIRE_FIXTURE(!sp::test::gpt2_dir().empty(), "GPT-2 vocab not found (run third_party/gpt2/fetch_vocab.sh)");
  TempDir d;
  Scenario s = tokenize_scenario(true);
  prepare(s, d.path());
  stop_at_random_times(s, seed_from_env(3), /*chains=*/4, /*stops_per_chain=*/3, {SIGKILL, SIGTERM, SIGINT});
}

// --- sp_merge ---------------------------------------------------------------

// Three datasets and an empty one in in/, merged (Megatron's --input DIR) into merged.bin/.idx.
Scenario merge_scenario(bool large, uint32_t seed = 400) {
  Scenario s;
  const TempDir made;
  const std::vector<std::string> names = {"in/part_00", "in/part_01", "in/part_02", "in/empty"};
  for (size_t i = 0; i < names.size(); ++i) {
    const size_t docs = i == 3 ? 0 : (large ? 60000 : 300) * (i + 1);
    const std::string prefix = made / std::to_string(i);
    sp::test::write_dataset(prefix, sp::TokenDtype::kUint16,
                            sp::test::random_documents(docs, 50000, seed + static_cast<uint32_t>(i)));
    for (const char* ext : {".bin", ".idx"}) s.sources[names[i] + ext] = read_file(prefix + ext);
  }
  s.argv = {tool_path("sp_merge"), "--output-prefix", "merged", "--input", "in", "--part-size", large ? "256K" : "4K",
            "--threads", "2", "--progress", "none"};
  s.sibling_promises = {{".idx", ".bin"}};
  return s;
}

TEST(CrashConsistency, MergeKilledAtEveryFailPoint) {
  TempDir d;
  Scenario s = merge_scenario(false);
  prepare(s, d.path());
  kill_at_fail_points(s,
                      {"merge.after_part", "build.after_records_removed", "merge.between_bin_and_idx_rename",
                       "build.after_outputs", "record.before_rename", "record.after_rename"},
                      /*max_hits=*/8);
}

// A changed input: the old merged pair and its record are there when each trial starts.
TEST(CrashConsistency, MergeRebuildKilledAtEveryFailPoint) {
  TempDir d;
  Scenario s = merge_scenario(false);
  s.earlier_sources = merge_scenario(false, 500).sources;
  prepare(s, d.path());
  kill_at_fail_points(s,
                      {"merge.after_part", "build.after_records_removed", "merge.between_bin_and_idx_rename",
                       "build.after_outputs"},
                      /*max_hits=*/6);
}

TEST(CrashConsistency, MergeKilledAtRandomTimes) {
  TempDir d;
  Scenario s = merge_scenario(true);
  prepare(s, d.path());
  stop_at_random_times(s, seed_from_env(5), /*chains=*/4, /*stops_per_chain=*/3, {SIGKILL, SIGTERM, SIGINT});
}

// --- sp_download ------------------------------------------------------------

// Three files served by the loopback test server (mode "ok", or "slow": 64 KiB
// every 20 ms) and a manifest of them with SHA-256 and size; outputs go to out/.
Scenario download_scenario(const TempDir& d, const sp::test::TestServer& server, const std::string& mode,
                           size_t bytes) {
  Scenario s;
  std::string manifest;
  const std::vector<std::pair<std::string, std::string>> files = {
      {"a.bin", "a.bin"}, {"b.bin", "sub/b.bin"}, {"c.bin", "sub/deep/c.bin"}};
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string data(bytes * (files.size() - i) / files.size() + 1000 * i, '\0');
    for (char& c : data) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x >> 56);
    }
    sp::test::write_file(d / ("served/" + files[i].first), data);
    manifest += server.url(mode, files[i].first) + "\t" + sp::sha256_hex(data) + "\t" + std::to_string(data.size()) +
                "\t" + files[i].second + "\n";
  }
  s.sources["manifest.tsv"] = manifest;
  s.argv = {tool_path("sp_download"), "--manifest", "manifest.tsv", "--output-dir", "out", "--connections", "3",
            "--progress", "none"};
  s.writes_records = false;
  return s;
}

TEST(CrashConsistency, DownloadKilledAtEveryFailPoint) {
  TempDir d;
  std::filesystem::create_directories(d / "served");
  const sp::test::TestServer server(d / "served", d.path());
  Scenario s = download_scenario(d, server, "ok", 300000);
  prepare(s, d.path());
  kill_at_fail_points(s, {"build.after_records_removed", "build.after_outputs", "download.after_record"}, /*max_hits=*/3);
}

// sp_download stops on SIGTERM and SIGINT (keeping its .part files for the
// next run): interrupts are mixed with kills here.
TEST(CrashConsistency, DownloadStoppedAtRandomTimes) {
  TempDir d;
  std::filesystem::create_directories(d / "served");
  const sp::test::TestServer server(d / "served", d.path());
  Scenario s = download_scenario(d, server, "slow", 1000000);
  prepare(s, d.path());
  stop_at_random_times(s, seed_from_env(4), /*chains=*/4, /*stops_per_chain=*/3, {SIGKILL, SIGTERM, SIGINT});
}

}  // namespace
