// sp::failpoint: inert without SP_FAILPOINT, SIGKILL at exactly the chosen hit
// with it. Each case runs in a forked child, since the variable is read once
// per process.
#include "sp/failpoint.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace {

struct ChildEnd {
  bool killed = false;  // by SIGKILL
  int hits_done = 0;    // calls of failpoint("target") that returned
};

// In a child with SP_FAILPOINT = spec (unset when null): calls
// failpoint("other") and failpoint("target") five times each, telling the
// parent through a pipe after each "target" call that returned.
ChildEnd run_child(const char* spec) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (spec) ::setenv("SP_FAILPOINT", spec, 1);
    else ::unsetenv("SP_FAILPOINT");
    for (int i = 0; i < 5; ++i) {
      sp::failpoint("other");
      sp::failpoint("target");
      const char c = 'x';
      if (::write(fds[1], &c, 1) != 1) ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildEnd end;
  char c;
  while (::read(fds[0], &c, 1) == 1) ++end.hits_done;
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  end.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (!end.killed) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  return end;
}

TEST(Failpoint, InertWithoutTheVariable) {
  const ChildEnd end = run_child(nullptr);
  EXPECT_FALSE(end.killed);
  EXPECT_EQ(end.hits_done, 5);
}

TEST(Failpoint, BareNameKillsAtTheFirstHit) {
  const ChildEnd end = run_child("target");
  EXPECT_TRUE(end.killed);
  EXPECT_EQ(end.hits_done, 0);
}

TEST(Failpoint, CountKillsAtThatHitOnly) {
  const ChildEnd end = run_child("target:3");
  EXPECT_TRUE(end.killed);
  EXPECT_EQ(end.hits_done, 2);
}

TEST(Failpoint, CountBeyondTheHitsNeverKills) {
  const ChildEnd end = run_child("target:6");
  EXPECT_FALSE(end.killed);
  EXPECT_EQ(end.hits_done, 5);
}

TEST(Failpoint, OtherNamesAndMalformedSpecsArmNothing) {
  for (const char* spec : {"targe", "target:0", "target:x", "target:", ":2", ""}) {
    const ChildEnd end = run_child(spec);
    EXPECT_FALSE(end.killed) << spec;
    EXPECT_EQ(end.hits_done, 5) << spec;
  }
}

}  // namespace
