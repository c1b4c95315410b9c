#include "sp/failpoint.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

namespace sp {

namespace {

enum State : int { kUnread, kInert, kArmed };

std::atomic<int> g_state{kUnread};
std::once_flag g_once;
std::string g_name;  // the armed fail point (written once, under g_once)
unsigned long long g_kill_at = 1;
unsigned long long g_sleep_ms = 0;  // "name:sleep=MS": every hit sleeps instead
std::atomic<unsigned long long> g_hits{0};

// Parses SP_FAILPOINT ("name", "name:N" or "name:sleep=MS"); a malformed count arms nothing
// rather than killing somewhere unexpected.
void arm() {
  int state = kInert;
  if (const char* v = std::getenv("SP_FAILPOINT"); v && *v) {
    std::string spec = v;
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos) {
      g_name = spec;
      state = kArmed;
    } else {
      const bool sleeps = spec.compare(colon + 1, 6, "sleep=") == 0;
      char* end = nullptr;
      const unsigned long long n = std::strtoull(spec.c_str() + colon + 1 + (sleeps ? 6 : 0), &end, 10);
      if (n > 0 && end && *end == '\0' && colon > 0) {
        g_name = spec.substr(0, colon);
        (sleeps ? g_sleep_ms : g_kill_at) = n;
        state = kArmed;
      }
    }
  }
  g_state.store(state, std::memory_order_release);
}

}  // namespace

void failpoint(const char* name) {
  if (g_state.load(std::memory_order_relaxed) == kInert) return;
  std::call_once(g_once, arm);  // also orders the reads of g_name after arm()'s writes
  if (g_state.load(std::memory_order_relaxed) != kArmed || std::strcmp(name, g_name.c_str()) != 0) return;
  if (g_sleep_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(g_sleep_ms));
    return;
  }
  if (g_hits.fetch_add(1, std::memory_order_relaxed) + 1 == g_kill_at) ::raise(SIGKILL);
}

}  // namespace sp
