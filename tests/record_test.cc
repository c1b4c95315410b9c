// Completion records: an output counts as complete only when its record
// matches the files on disk and the current command.
#include "sp/record.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "sp/error.h"
#include "sp/fs.h"
#include "test_support.h"

namespace sp {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;

struct Fixture {
  TempDir dir;
  std::string in = dir / "in.jsonl", out = dir / "out.bin";
  Fixture() {
    write_file(in, "{\"text\":\"hello\"}\n");
    write_file(out, "made from in");
  }
  CompletionRecord expected(const std::string& eod = "true") const {
    CompletionRecord r;
    r.path = record_path_for(out);
    r.tool = "sp_test";
    r.options = {{"append_eod", eod}, {"key", "text"}};
    r.inputs = {identify_input(in)};
    r.outputs = {FileIdentity{out}};
    return r;
  }
  void finish() const {
    CompletionRecord r = expected();
    r.outputs = {identify_output(out)};
    r.counts = {{"documents", 1}, {"tokens", 7}};
    write_record(r);
  }
};

// Keeps a file's mtime while its bytes change: only a checksum can tell.
void rewrite_keeping_mtime(const std::string& path, const std::string& data) {
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  write_file(path, data);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(Record, AbsentUnrecordedAndComplete) {
  Fixture f;
  ::unlink(f.out.c_str());
  EXPECT_EQ(check_completion(f.expected(), VerifyDepth::kFull).state, Completion::kAbsent);
  write_file(f.out, "made from in");
  const auto c = check_completion(f.expected(), VerifyDepth::kFull);
  EXPECT_EQ(c.state, Completion::kUnrecorded);
  EXPECT_NE(c.reason.find("out.bin"), std::string::npos) << c.reason;
  f.finish();
  const auto done = check_completion(f.expected(), VerifyDepth::kFull);
  EXPECT_EQ(done.state, Completion::kComplete) << done.reason;
  EXPECT_EQ(done.record.count("tokens"), 7u);
  EXPECT_EQ(done.record.count("nothing"), 0u);
  EXPECT_EQ(done.record.inputs[0].path, absolute_path(f.in));
  // The record is JSON a person (or jq) can read.
  const std::string text = read_file(record_path_for(f.out));
  EXPECT_NE(text.find("\"tool\": \"sp_test\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"name\": \"out.bin\""), std::string::npos) << text;
}

TEST(Record, OtherOptionsOrOtherInputAreStale) {
  Fixture f;
  f.finish();
  auto c = check_completion(f.expected("false"), VerifyDepth::kQuick);
  EXPECT_EQ(c.state, Completion::kStale);
  EXPECT_NE(c.reason.find("append_eod true, not false"), std::string::npos) << c.reason;

  CompletionRecord extra = f.expected();
  extra.options.emplace_back("vocab_sha256", "abc");
  EXPECT_EQ(check_completion(extra, VerifyDepth::kQuick).state, Completion::kStale);

  CompletionRecord fewer = f.expected();
  fewer.options.pop_back();
  EXPECT_EQ(check_completion(fewer, VerifyDepth::kQuick).state, Completion::kStale);

  write_file(f.dir / "other.jsonl", "{\"text\":\"hello\"}\n");
  CompletionRecord other = f.expected();
  other.inputs = {identify_input(f.dir / "other.jsonl")};
  c = check_completion(other, VerifyDepth::kQuick);
  EXPECT_EQ(c.state, Completion::kStale);
  EXPECT_NE(c.reason.find("other.jsonl"), std::string::npos) << c.reason;

  // The same input, grown.
  write_file(f.in, "{\"text\":\"hello\"}\n{\"text\":\"again\"}\n");
  c = check_completion(f.expected(), VerifyDepth::kQuick);
  EXPECT_EQ(c.state, Completion::kStale);
  EXPECT_NE(c.reason.find("bytes now"), std::string::npos) << c.reason;
}

// The comparison for records of work in progress (checkpoints): inputs,
// tool and options only, whatever their outputs are doing.
TEST(Record, RecordDifferenceComparesToolOptionsAndInputsOnly) {
  Fixture f;
  CompletionRecord got = f.expected();
  got.outputs = {FileIdentity{f.dir / "growing.part", true, 5, 0, ""}};
  EXPECT_EQ(record_difference(f.expected(), got), "");
  EXPECT_NE(record_difference(f.expected("false"), got).find("append_eod true, not false"), std::string::npos);
  got.tool = "sp_other";
  EXPECT_NE(record_difference(f.expected(), got).find("made by sp_other"), std::string::npos);
  got = f.expected();
  write_file(f.in, "{\"text\":\"hello\"}\n{\"text\":\"again\"}\n");
  EXPECT_NE(record_difference(f.expected(), got).find("bytes now"), std::string::npos);
}

TEST(Record, SameSizeInputRewrittenIsStale) {
  Fixture f;
  f.finish();
  rewrite_keeping_mtime(f.in, "{\"text\":\"HELLO\"}\n");  // same size, same mtime: the fingerprint tells
  const auto c = check_completion(f.expected(), VerifyDepth::kQuick);
  EXPECT_EQ(c.state, Completion::kStale);
  EXPECT_NE(c.reason.find("modified"), std::string::npos) << c.reason;
}

TEST(Record, RemovedInputIsVouchedForByTheRecord) {
  Fixture f;
  f.finish();
  CompletionRecord e = f.expected();
  ::unlink(f.in.c_str());
  e.inputs = {identify_input(f.in)};
  EXPECT_FALSE(e.inputs[0].present);
  EXPECT_EQ(check_completion(e, VerifyDepth::kFull).state, Completion::kComplete);
}

TEST(Record, OutputsThatDifferFromTheRecordAreDamaged) {
  {
    Fixture f;
    f.finish();
    write_file(f.out, "made");  // truncated
    const auto c = check_completion(f.expected(), VerifyDepth::kQuick);
    EXPECT_EQ(c.state, Completion::kDamaged);
    EXPECT_NE(c.reason.find("4 bytes"), std::string::npos) << c.reason;
  }
  {
    Fixture f;
    f.finish();
    ::unlink(f.out.c_str());
    EXPECT_EQ(check_completion(f.expected(), VerifyDepth::kQuick).state, Completion::kDamaged);
    ::mkdir(f.out.c_str(), 0755);  // a directory at the output name
    const auto c = check_completion(f.expected(), VerifyDepth::kQuick);
    EXPECT_EQ(c.state, Completion::kDamaged);
    EXPECT_NE(c.reason.find("not a regular file"), std::string::npos) << c.reason;
  }
  {
    Fixture f;
    f.finish();
    rewrite_keeping_mtime(f.out, "MADE FROM IN");  // same size and mtime: only the checksum tells
    EXPECT_EQ(check_completion(f.expected(), VerifyDepth::kQuick).state, Completion::kComplete);
    const auto c = check_completion(f.expected(), VerifyDepth::kFull);
    EXPECT_EQ(c.state, Completion::kDamaged);
    EXPECT_NE(c.reason.find("checksum"), std::string::npos) << c.reason;
  }
  {
    Fixture f;
    f.finish();
    write_file(f.out, "made from IN");  // same size, new mtime
    EXPECT_EQ(check_completion(f.expected(), VerifyDepth::kQuick).state, Completion::kDamaged);
  }
}

TEST(Record, UnreadableOrForeignRecordIsDamaged) {
  Fixture f;
  for (const char* text : {"", "{", "{\"sp_record\": 99}", "[1,2]", "{\"sp_record\": 1, \"tool\": 5}"}) {
    write_file(record_path_for(f.out), text);
    const auto c = check_completion(f.expected(), VerifyDepth::kQuick);
    EXPECT_EQ(c.state, Completion::kDamaged) << text;
    EXPECT_NE(c.reason.find("unreadable"), std::string::npos) << c.reason;
  }
}

TEST(Record, RemoveRecordAndNames) {
  Fixture f;
  f.finish();
  EXPECT_TRUE(is_record_name(record_path_for(f.out)));
  EXPECT_FALSE(is_record_name(f.out));
  remove_record(record_path_for(f.out));
  remove_record(record_path_for(f.out));  // already gone: fine
  EXPECT_EQ(check_completion(f.expected(), VerifyDepth::kQuick).state, Completion::kUnrecorded);
}

TEST(Record, OneDecisionPolicy) {
  auto check = [](Completion state) {
    CompletionCheck c;
    c.state = state;
    c.reason = state == Completion::kAbsent ? "" : "why";
    return c;
  };
  const auto keep = OutputPlan::kKeep, build = OutputPlan::kBuild, refuse = OutputPlan::kRefuse;
  EXPECT_EQ(decide_outputs(check(Completion::kComplete), "o", "", false, true).plan, keep);
  EXPECT_EQ(decide_outputs(check(Completion::kComplete), "o", "", true, false).plan, build);
  EXPECT_EQ(decide_outputs(check(Completion::kComplete), "o", "src", true, false).plan, keep);  // cannot rebuild
  EXPECT_EQ(decide_outputs(check(Completion::kAbsent), "o", "", false, false).message, "");
  for (Completion s : {Completion::kUnrecorded, Completion::kStale, Completion::kDamaged}) {
    const auto d = decide_outputs(check(s), "o", "", false, false);
    EXPECT_EQ(d.plan, build) << completion_name(s);
    EXPECT_EQ(d.message, "rebuilding o: why");
    EXPECT_EQ(decide_outputs(check(s), "o", "src", false, false).plan, refuse) << completion_name(s);
  }
  // Under --remove-source only outputs that contradict their record stop the task.
  EXPECT_EQ(decide_outputs(check(Completion::kUnrecorded), "o", "", false, true).plan, build);
  EXPECT_EQ(decide_outputs(check(Completion::kStale), "o", "", false, true).plan, refuse);
  EXPECT_EQ(decide_outputs(check(Completion::kDamaged), "o", "", false, true).plan, refuse);
}

TEST(Record, AbsolutePath) {
  EXPECT_EQ(absolute_path("/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(absolute_path("/"), "/");
  char buf[4096];
  ASSERT_NE(::getcwd(buf, sizeof buf), nullptr);
  EXPECT_EQ(absolute_path("x/./y"), std::string(buf) + "/x/y");
}

// The checkpoint member round-trips; a record without one reads back with none.
TEST(Record, CheckpointMemberRoundTrips) {
  Fixture f;
  f.finish();
  EXPECT_TRUE(read_record(record_path_for(f.out)).checkpoint.empty());
  CompletionRecord r = f.expected();
  r.outputs = {identify_output(f.out)};
  r.checkpoint = {{"inputs_done", "0-3,5"}, {"output_bytes", "4096"}};
  write_record(r);
  const CompletionRecord back = read_record(r.path);
  EXPECT_EQ(back.checkpoint, r.checkpoint);
  EXPECT_EQ(back.checkpoint_value("inputs_done"), "0-3,5");
  EXPECT_EQ(back.checkpoint_value("absent"), "");
}

}  // namespace
}  // namespace sp
