// Fail points: a test hook for crash-consistency tests (tests/crash_consistency_test.cc).
//
// failpoint("name") marks a place where a crash must leave the files in a
// state a rerun can trust (after an output is renamed into place, before a
// record is written, before a source is unlinked, ...). It is inert unless the
// environment variable SP_FAILPOINT is set: then, when it equals "name" or
// "name:N", the process kills itself with SIGKILL at that point (at the N-th
// time any thread reaches it, counting from 1; "name" alone means the first).
// "name:sleep=MS" makes every hit wait MS milliseconds instead: a slow disk or
// node, for tests of how work is shared (job.before_task in sp/job.h).
// No destructor, flush or handler runs, exactly as when the machine's OOM
// killer or a scheduler's kill -9 ends a job there.
//
// The variable is read once, at the first call. In production (variable unset)
// a fail point costs one relaxed atomic load. Names are "<area>.<moment>",
// e.g. "record.before_rename"; the tests list the names they rely on and fail
// when one is never reached, so renaming one here means renaming it there.
#pragma once

namespace sp {

void failpoint(const char* name);

}  // namespace sp
