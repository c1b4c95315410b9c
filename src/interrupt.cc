#include "sp/interrupt.h"

#include <signal.h>

#include <atomic>
#include <cstring>

namespace sp {

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Lock-free, so reading and writing it from a handler is safe.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

void on_signal(int sig) {
  int none = 0;
  g_signal.compare_exchange_strong(none, sig, std::memory_order_relaxed);
  // From now on any of them ends the process: the user's way to force it.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int s : kSignals) (void)::sigaction(s, &dfl, nullptr);
}

}  // namespace

Interrupted::Interrupted(int sig) : Error("interrupted by " + signal_name(sig)), signal(sig) {}

void install_interrupt_handlers() {
  for (int s : kSignals) {
    struct sigaction old;
    if (::sigaction(s, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) continue;  // nohup, background jobs
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int m : kSignals) sigaddset(&sa.sa_mask, m);
    // Restart interrupted system calls: the flag is polled, so no read or
    // write has to fail with EINTR for the signal to be noticed.
    sa.sa_flags = SA_RESTART;
    (void)::sigaction(s, &sa, nullptr);
  }
}

bool interrupted() { return g_signal.load(std::memory_order_relaxed) != 0; }

int interrupt_signal() { return g_signal.load(std::memory_order_relaxed); }

void throw_if_interrupted() {
  if (const int sig = interrupt_signal()) throw Interrupted(sig);
}

std::optional<Interrupted> run_interruptible(const std::function<void()>& work) {
  try {
    work();
  } catch (const Interrupted& e) {
    return e;
  }
  return std::nullopt;
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGKILL: return "SIGKILL";
    case SIGQUIT: return "SIGQUIT";
    default: return "signal " + std::to_string(sig);
  }
}

}  // namespace sp
