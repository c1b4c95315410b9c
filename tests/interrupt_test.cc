// Cancellation by signal: the first SIGINT/SIGTERM/SIGHUP is recorded and
// turned into Interrupted where work polls for it, a second one ends the
// process, ignored signals stay ignored, and run_tool exits 128 + signal.
// Every test that raises a signal does so in a child process (death test).
#include "sp/interrupt.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

namespace sp {
namespace {

TEST(Interrupt, NothingHappensWithoutASignal) {
  install_interrupt_handlers();
  EXPECT_FALSE(interrupted());
  EXPECT_EQ(interrupt_signal(), 0);
  EXPECT_NO_THROW(throw_if_interrupted());
  int calls = 0;
  EXPECT_FALSE(run_interruptible([&] { ++calls; }).has_value());
  EXPECT_EQ(calls, 1);
  // Other errors are not its business.
  EXPECT_THROW(run_interruptible([] { throw Error("disk full"); }), Error);
}

TEST(Interrupt, FirstSignalIsRecordedAndThrownNamingIt) {
  EXPECT_EXIT(
      {
        install_interrupt_handlers();
        ::raise(SIGTERM);  // delivered before raise returns (single thread)
        if (!interrupted() || interrupt_signal() != SIGTERM) ::_exit(10);
        try {
          throw_if_interrupted();
          ::_exit(11);
        } catch (const Interrupted& e) {
          if (e.signal != SIGTERM || std::strcmp(e.what(), "interrupted by SIGTERM") != 0) ::_exit(12);
        }
        ::_exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Interrupt, RunInterruptibleHandsBackTheInterruption) {
  EXPECT_EXIT(
      {
        install_interrupt_handlers();
        bool after = false;
        auto stop = run_interruptible([&] {
          ::raise(SIGINT);
          throw_if_interrupted();
          after = true;
        });
        ::_exit(stop && stop->signal == SIGINT && !after ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Interrupt, SecondSignalEndsTheProcess) {
  EXPECT_EXIT(
      {
        install_interrupt_handlers();
        ::raise(SIGINT);
        if (interrupt_signal() != SIGINT) ::_exit(10);
        ::raise(SIGTERM);  // the user insists: default action
        ::_exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

TEST(Interrupt, SignalsIgnoredAtStartStayIgnored) {
  EXPECT_EXIT(
      {
        ::signal(SIGHUP, SIG_IGN);  // as under nohup
        install_interrupt_handlers();
        ::raise(SIGHUP);
        ::_exit(interrupted() ? 1 : 0);
      },
      ::testing::ExitedWithCode(0), "");
}

int body_interrupted_by_sighup(int, char**) {
  ::raise(SIGHUP);
  throw_if_interrupted();
  return 0;
}

int run_fake_tool() {
  ::signal(SIGHUP, SIG_DFL);
  char name[] = "sp_fake";
  char* argv[] = {name, nullptr};
  return run_tool("sp_fake", body_interrupted_by_sighup, 1, argv);  // installs the handlers itself
}

TEST(Interrupt, RunToolExits128PlusTheSignalAndSaysSo) {
  EXPECT_EXIT(::_exit(run_fake_tool()), ::testing::ExitedWithCode(128 + SIGHUP),
              "sp_fake: interrupted by SIGHUP; rerun the same command to finish");
}

TEST(Interrupt, SignalNames) {
  EXPECT_EQ(signal_name(SIGINT), "SIGINT");
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGHUP), "SIGHUP");
  EXPECT_EQ(signal_name(SIGUSR1), "signal " + std::to_string(SIGUSR1));
}

}  // namespace
}  // namespace sp
