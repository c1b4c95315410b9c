// Stopping cleanly on SIGINT, SIGTERM and SIGHUP (Ctrl-C, a batch system's
// time limit, a closed terminal), the same way in every tool.
//
// Guarantees: once install_interrupt_handlers() has run (run_tool does it for
// every tool), the first of these signals only records itself: interrupted()
// turns true and throw_if_interrupted() throws Interrupted naming the signal.
// Long loops poll it, so the exception unwinds through the RAII owners of
// temporaries (AtomicFile removes its file), nothing half-written reaches a
// final name, and run_tool exits with 128 + the signal number (130 for
// SIGINT, 143 for SIGTERM, 129 for SIGHUP) after the tool has reported what
// it finished. A second signal gets the default action (the process ends at
// once), so a user can always force it. Signals ignored when the process
// started (nohup, a background job) stay ignored.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "sp/error.h"

namespace sp {

// The work was cut short by a signal. what(): "interrupted by SIGTERM".
struct Interrupted : Error {
  explicit Interrupted(int signal);
  int signal;
};

// Installs the handlers (idempotent). Async-signal-safe handlers: they only
// store the signal number and reset all three signals to their default action.
void install_interrupt_handlers();

// Whether one of the signals has arrived; cheap (one relaxed atomic load).
bool interrupted();
// The signal that arrived, 0 if none.
int interrupt_signal();
// Throws Interrupted when interrupted().
void throw_if_interrupted();

// Runs `work`. When a signal cuts it short, returns the Interrupted instead of
// throwing, so the caller can first report what was finished and then throw
// it (run_tool turns it into the exit status). Other exceptions pass through.
std::optional<Interrupted> run_interruptible(const std::function<void()>& work);

// "SIGTERM", "SIGINT", ...; "signal N" for others.
std::string signal_name(int signal);

}  // namespace sp
