#include "sp/stale_temps.h"

#include <gtest/gtest.h>

#include "sp/fs.h"
#include "sp/threads.h"
#include "test_support.h"

namespace sp {
namespace {

TEST(StaleTemps, RecognisesAtomicFileTemporaries) {
  std::string final_name;
  EXPECT_TRUE(is_temp_name(base_name(temp_path_for("/x/a.jsonl")), &final_name));
  EXPECT_EQ(final_name, "a.jsonl");
  EXPECT_FALSE(is_temp_name("a.jsonl"));
  EXPECT_FALSE(is_temp_name(".tmp-x"));
}

TEST(StaleTemps, RemovesOnlyTheTemporariesOfTheGivenFinals) {
  test::TempDir d;
  make_dirs(d / "sub");
  for (const char* n : {"a.jsonl.tmp-h-1", "a.jsonl.tmp-h2-99", "b.jsonl.tmp-h-1", "a.jsonl", "sub/c.tmp-h-5"})
    test::write_file(d / n, "x");
  EXPECT_EQ(remove_stale_temps({d / "a.jsonl", d / "sub/c", d / "missing/dir/z"}), 3u);
  EXPECT_EQ(test::list_dir(d.path()), (std::vector<std::string>{"a.jsonl", "b.jsonl.tmp-h-1", "sub"}));
  EXPECT_TRUE(test::list_dir(d / "sub").empty());
}

TEST(Threads, ResolveAndDefault) {
  EXPECT_EQ(resolve_threads(3), 3);
  EXPECT_GE(resolve_threads(0), 1);
  EXPECT_GE(default_threads(), 1);
  EXPECT_THROW(resolve_threads(-1), std::exception);
}

}  // namespace
}  // namespace sp
