#include "sp/progress.h"

#include <unistd.h>

#include <cstdio>

#include "sp/cli.h"
#include "sp/error.h"

namespace sp {

ProgressMode parse_progress_mode(const std::string& t) {
  if (t == "auto" || t.empty()) return ProgressMode::kAuto;
  if (t == "tty") return ProgressMode::kTerminal;
  if (t == "lines") return ProgressMode::kLines;
  if (t == "none" || t == "off") return ProgressMode::kOff;
  throw UsageError("--progress: expected auto, tty, lines or none, got '" + t + "'");
}

std::vector<cli::Option> with_progress_flags(std::vector<cli::Option> options) {
  options.push_back({"progress", "MODE", "Progress on stderr: auto (redrawn on a terminal, lines in logs), tty, lines or none.", "auto"});
  options.push_back({"progress-interval", "SEC", "Seconds between progress lines (0: 0.25 on a terminal, 30 in logs).", "0"});
  options.push_back({"quiet", "", "No progress and no informational messages; errors and failures are still printed."});
  return options;
}

void apply_progress_flags(const cli::Args& args, ProgressOptions& o) {
  o.mode = args.flag("quiet") ? ProgressMode::kOff : parse_progress_mode(args.get("progress"));
  o.interval_s = args.get_double("progress-interval", 0);
  if (o.interval_s < 0) throw UsageError("--progress-interval must not be negative");
}

Progress::Progress(ProgressOptions o) : opt_(std::move(o)), start_(std::chrono::steady_clock::now()) {
  total_bytes_ = opt_.total_bytes;
  switch (opt_.mode) {
    case ProgressMode::kOff: enabled_ = false; break;
    case ProgressMode::kTerminal: enabled_ = terminal_ = true; break;
    case ProgressMode::kLines: enabled_ = true; break;
    case ProgressMode::kAuto: enabled_ = true; terminal_ = isatty(STDERR_FILENO); break;
  }
  if (opt_.interval_s <= 0) opt_.interval_s = terminal_ ? 0.25 : 30.0;
  if (enabled_) thread_ = std::thread([this] { loop(); });
}

Progress::~Progress() { finish(); }

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::render() const {
  const double t = elapsed_seconds();
  uint64_t b = bytes(), items_done = items();
  if (opt_.job_counts) opt_.job_counts(b, items_done);
  const uint64_t total = total_bytes_.load(std::memory_order_relaxed);
  const double rate = mb_per_s(b, t);
  char buf[256];
  std::string s = opt_.label + ": ";
  if (opt_.total_items) {
    std::snprintf(buf, sizeof buf, "%llu/%llu %s", static_cast<unsigned long long>(items_done),
                  static_cast<unsigned long long>(opt_.total_items), opt_.item_name.c_str());
  } else {
    std::snprintf(buf, sizeof buf, "%llu %s", static_cast<unsigned long long>(items_done), opt_.item_name.c_str());
  }
  s += buf;
  if (total) {
    std::snprintf(buf, sizeof buf, " | %.1f/%.1f MB (%.1f%%)", b / 1e6, total / 1e6,
                  100.0 * static_cast<double>(b) / static_cast<double>(total));
  } else {
    std::snprintf(buf, sizeof buf, " | %.1f MB", b / 1e6);
  }
  s += buf;
  std::snprintf(buf, sizeof buf, " | %.1f MB/s | %s elapsed", rate, cli::format_duration(t).c_str());
  s += buf;
  if (total && b > 0 && b < total) {
    const double eta = t * static_cast<double>(total - b) / static_cast<double>(b);
    s += " | ETA " + cli::format_duration(eta);
  }
  if (opt_.extra) {
    std::string e = opt_.extra();
    if (!e.empty()) s += " | " + e;
  }
  return s;
}

void Progress::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  const auto step = std::chrono::duration<double>(opt_.interval_s);
  while (!cv_.wait_for(lk, step, [this] { return stop_; })) {
    std::string line = render();
    if (terminal_) std::fprintf(stderr, "\r\033[K%s", line.c_str());
    else std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
}

void Progress::finish() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (finished_) return;
    finished_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (enabled_ && terminal_) {
    std::fprintf(stderr, "\r\033[K%s\n", render().c_str());
    std::fflush(stderr);
  }
}

}  // namespace sp
