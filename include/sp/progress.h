// Progress on stderr for long work: redrawn in place on a terminal, one line
// every --progress-interval seconds otherwise (batch-job logs), nothing with
// --quiet. Counters are relaxed atomics, so worker threads can call add()
// freely; a background thread does the printing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sp/cli.h"

namespace sp {

enum class ProgressMode { kAuto, kTerminal, kLines, kOff };

struct ProgressOptions {
  std::string label;              // "sp_tokenize" or "[rank 3/8] sp_tokenize"
  std::string item_name = "items";  // "documents", "files"
  uint64_t total_bytes = 0;       // for percent and ETA; 0 = unknown
  uint64_t total_items = 0;       // shown as done/total when known
  ProgressMode mode = ProgressMode::kAuto;
  double interval_s = 0;          // 0: 0.25 s on a terminal, 30 s in logs
  // Extra text appended to each line (e.g. "retries 3"); called from the
  // printing thread, so it must be thread-safe.
  std::function<std::string()> extra;
  // When set, the line shows these counts (a whole job's, sp/job.h) instead
  // of what add() was given; called from the printing thread.
  std::function<void(uint64_t& bytes, uint64_t& items)> job_counts;
};

class Progress {
 public:
  explicit Progress(ProgressOptions options);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(uint64_t bytes, uint64_t items = 0) {
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
    items_.fetch_add(items, std::memory_order_relaxed);
  }
  void add_total_bytes(uint64_t b) { total_bytes_.fetch_add(b, std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t items() const { return items_.load(std::memory_order_relaxed); }
  double elapsed_seconds() const;

  // Stops the printing thread and prints the last state (terminal mode ends
  // the line). Idempotent; the destructor calls it.
  void finish();

  // The line as it would be printed now (used by the thread and by tests).
  std::string render() const;

 private:
  void loop();

  ProgressOptions opt_;
  bool terminal_ = false;
  bool enabled_ = false;
  std::atomic<uint64_t> bytes_{0}, items_{0}, total_bytes_{0};
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool finished_ = false;
  std::thread thread_;
};

// Parses the shared --progress flag value: auto | tty | lines | none.
ProgressMode parse_progress_mode(const std::string& text);

// `options` followed by --progress, --progress-interval and --quiet, spelled
// and explained the same way in every tool.
std::vector<cli::Option> with_progress_flags(std::vector<cli::Option> options);
// Sets options.mode (off under --quiet) and options.interval_s from them.
void apply_progress_flags(const cli::Args& args, ProgressOptions& options);

// Rate in decimal megabytes per second, as every summary reports it.
inline double mb_per_s(uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0;
}

}  // namespace sp
