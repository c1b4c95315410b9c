#include "sp/stale_temps.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include "sp/fs.h"
#include "sp/threads.h"
#include "test_support.h"

namespace sp {
namespace {

// "<final>.tmp-<host>-<pid>" with this host's name.
std::string temp_with_pid(const std::string& final_path, long pid) {
  const std::string mine = temp_path_for(final_path);
  return mine.substr(0, mine.rfind('-') + 1) + std::to_string(pid);
}

TEST(StaleTemps, RecognisesAtomicFileTemporaries) {
  std::string final_name;
  EXPECT_TRUE(is_temp_name(base_name(temp_path_for("/x/a.jsonl")), &final_name));
  EXPECT_EQ(final_name, "a.jsonl");
  EXPECT_FALSE(is_temp_name("a.jsonl"));
  EXPECT_FALSE(is_temp_name(".tmp-x"));
}

TEST(StaleTemps, ParsesHostAndPidFromTheRight) {
  TempOwner o;
  ASSERT_TRUE(parse_temp_owner("a.jsonl.tmp-dgx-a100-node-07-4242", &o));
  EXPECT_EQ(o.host, "dgx-a100-node-07");
  EXPECT_EQ(o.pid, 4242);
  ASSERT_TRUE(parse_temp_owner("x.tmp-foo.tmp-h-1", &o));
  EXPECT_EQ(o.host, "h");
  EXPECT_EQ(o.pid, 1);
  ASSERT_TRUE(parse_temp_owner(base_name(temp_path_for("/x/a.jsonl")), &o));
  EXPECT_EQ(o.pid, ::getpid());
  for (const char* bad : {"a.jsonl", "a.tmp-host", "a.tmp-host-", "a.tmp--12", "a.tmp-host-12x", "a.tmp-h-0"})
    EXPECT_FALSE(parse_temp_owner(bad, &o)) << bad;
}

TEST(StaleTemps, RemovesOnlyDeadWritersTemporariesOfTheGivenFinals) {
  test::TempDir d;
  make_dirs(d / "sub");
  const std::string dead_a = test::temp_of_dead_process(d / "a.jsonl");
  const std::string dead_c = test::temp_of_dead_process(d / "sub/c");
  const std::string dead_b = test::temp_of_dead_process(d / "b.jsonl");  // not among the finals
  const std::string live = temp_with_pid(d / "a.jsonl", ::getpid());     // this very process, writing now
  const std::string parent = temp_with_pid(d / "a.jsonl", ::getppid());  // another live process of this host
  for (const auto& p : {dead_a, dead_c, dead_b, live, parent, d / "a.jsonl"}) test::write_file(p, "x");
  const StaleTempSweep s = remove_stale_temps({d / "a.jsonl", d / "sub/c", d / "missing/dir/z"});
  EXPECT_EQ(s.removed, 2u);
  EXPECT_EQ(s.live, 2u);
  EXPECT_EQ(s.other_hosts, 0u);
  EXPECT_FALSE(test::file_exists(dead_a));
  EXPECT_FALSE(test::file_exists(dead_c));
  EXPECT_TRUE(test::file_exists(dead_b)) << "not a final we were asked about";
  EXPECT_TRUE(test::file_exists(live)) << "a running process's temporary was removed";
  EXPECT_TRUE(test::file_exists(parent)) << "a running process's temporary was removed";
  EXPECT_TRUE(test::file_exists(d / "a.jsonl"));
}

TEST(StaleTemps, ReusedPidCountsAsDead) {
  // Our pid, but the file was last written long before this process started:
  // it was left by an earlier process that had the same pid.
  test::TempDir d;
  const std::string old = temp_with_pid(d / "a.jsonl", ::getpid());
  test::write_file(old, "x");
  struct utimbuf t{1'000'000'000, 1'000'000'000};  // 2001
  ASSERT_EQ(::utime(old.c_str(), &t), 0);
  const StaleTempSweep s = remove_stale_temps({d / "a.jsonl"});
  EXPECT_EQ(s.removed, 1u);
  EXPECT_FALSE(test::file_exists(old));
}

TEST(StaleTemps, ZombieWriterCountsAsDead) {
  // Killed, but not reaped yet (its parent was killed with it, say, and init
  // has not got to it): the pid still exists, the writer does not.
  test::TempDir d;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  const std::string stat = "/proc/" + std::to_string(child) + "/stat";
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(stat).find(") Z ") != std::string::npos; }, 10));
  const std::string zombie = temp_with_pid(d / "a.jsonl", child);
  test::write_file(zombie, "x");
  const StaleTempSweep s = remove_stale_temps({d / "a.jsonl"});
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(s.removed, 1u);
  EXPECT_FALSE(test::file_exists(zombie));
}

TEST(StaleTemps, OtherHostsTemporariesAreKeptAndCounted) {
  test::TempDir d;
  const std::string other = d / "a.jsonl.tmp-some-other-host.example-4242";
  test::write_file(other, "x");
  const std::string odd = d / "a.jsonl.tmp-noPid";  // not ours to judge either
  test::write_file(odd, "x");
  const StaleTempSweep s = remove_stale_temps({d / "a.jsonl"});
  EXPECT_EQ(s.removed, 0u);
  EXPECT_EQ(s.other_hosts, 2u);
  EXPECT_TRUE(test::file_exists(other));
  EXPECT_TRUE(test::file_exists(odd));
  const std::string note = s.other_hosts_note();
  EXPECT_NE(note.find("2 temporaries of other hosts"), std::string::npos) << note;
  EXPECT_NE(note.find(d.path()), std::string::npos) << note;
  EXPECT_EQ(StaleTempSweep{}.other_hosts_note(), "");
}

TEST(Threads, ResolveAndDefault) {
  EXPECT_EQ(resolve_threads(3), 3);
  EXPECT_GE(resolve_threads(0), 1);
  EXPECT_GE(default_threads(), 1);
  EXPECT_THROW(resolve_threads(-1), std::exception);
}

}  // namespace
}  // namespace sp
