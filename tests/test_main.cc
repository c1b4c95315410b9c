// The test binaries' main: gtest's, then oneTBB's workers joined before the
// process exits (WorkerThreadsJoin in sp/threads.h says which crash that
// avoids). A join that is skipped fails the binary: some test left a thread
// or a scheduler handle inside oneTBB, and tools would then exit as before.
#include <gtest/gtest.h>

#include <cstdio>

#include "sp/threads.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  sp::WorkerThreadsJoin workers;
  const int rc = RUN_ALL_TESTS();
  if (!workers.join(rc ? rc : 1)) {
    std::fprintf(stderr, "test_main: oneTBB's worker threads could not be joined at exit\n");
    return rc ? rc : 1;
  }
  return rc;
}
