// sp_concat: plans (target size / files per chunk), the pinned plan file,
// chunk writing (newline safety, unchanged bytes), and the tool (threads,
// ranks, --remove-source reruns, kills).
#include "sp/concat.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

#include "sp/checkpoint.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "test_support.h"

namespace sp {
namespace {

using test::partials_under;
using test::read_file;
using test::run_command;
using test::shell_quote;
using test::TempDir;
using test::tool_path;
using test::write_file;

std::vector<ChunkInput> inputs_of_sizes(const std::vector<uint64_t>& sizes) {
  std::vector<ChunkInput> v;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string rel = "f";
    rel += std::to_string(i);  // (not "f" + to_string: GCC 12 warns falsely about it)
    v.push_back({"/in/" + rel, rel, sizes[i]});
  }
  return v;
}

std::vector<std::vector<std::string>> shape(const std::vector<Chunk>& chunks) {
  std::vector<std::vector<std::string>> s;
  for (const auto& c : chunks) {
    s.emplace_back();
    for (const auto& in : c.inputs) s.back().push_back(in.relative);
  }
  return s;
}

TEST(PlanChunks, TargetSizeFillsUntilTheNextFileWouldPassIt) {
  ConcatPlanOptions o;
  o.target_size = 6;
  o.output_dir = "/out";
  auto c = plan_chunks(inputs_of_sizes({3, 3, 3, 10, 1, 1, 0, 4, 7}), o);
  using V = std::vector<std::vector<std::string>>;
  // 3+3 = 6 fits exactly; 10 alone (larger than the target); 1+1+0+4 = 6; 7 alone.
  EXPECT_EQ(shape(c), (V{{"f0", "f1"}, {"f2"}, {"f3"}, {"f4", "f5", "f6", "f7"}, {"f8"}}));
  EXPECT_EQ(c[0].output, "/out/train_chunk_0.jsonl");
  EXPECT_EQ(c[4].output, "/out/train_chunk_4.jsonl");
  EXPECT_EQ(c[3].bytes, 6u);
  EXPECT_EQ(c[3].index, 3u);
}

TEST(PlanChunks, FilesPerChunk) {
  ConcatPlanOptions o;
  o.files_per_chunk = 2;
  o.target_size = 1;  // ignored when files_per_chunk is set
  o.prefix = "p_";
  o.output_dir = "/o/";
  auto c = plan_chunks(inputs_of_sizes({100, 0, 5, 7, 9}), o);
  using V = std::vector<std::vector<std::string>>;
  EXPECT_EQ(shape(c), (V{{"f0", "f1"}, {"f2", "f3"}, {"f4"}}));
  EXPECT_EQ(c[2].output, "/o/p_2.jsonl");
}

TEST(PlanChunks, EmptyInputsAndMissingLimit) {
  ConcatPlanOptions o;
  o.target_size = 10;
  EXPECT_TRUE(plan_chunks({}, o).empty());
  o.target_size = 0;
  EXPECT_THROW(plan_chunks(inputs_of_sizes({1}), o), UsageError);
}

TEST(ListConcatInputs, ByteWiseOrderAndOutputDirExcluded) {
  TempDir d;
  for (const char* rel : {"in/b.jsonl", "in/B.jsonl", "in/a/z.jsonl", "in/a.b.jsonl", "in/x.txt", "in/a/y.jsonl.zst",
                          "in/chunks/train_chunk_0.jsonl"}) {
    make_dirs(parent_dir(d / rel));
    write_file(d / rel, "{}\n");
  }
  auto v = list_concat_inputs(d / "in", d / "in/chunks");
  std::vector<std::string> rel;
  for (auto& f : v) rel.push_back(f.relative);
  // '.' (0x2e) < '/' (0x2f): "a.b.jsonl" sorts before "a/z.jsonl".
  EXPECT_EQ(rel, (std::vector<std::string>{"B.jsonl", "a.b.jsonl", "a/z.jsonl", "b.jsonl"}));
  EXPECT_EQ(v[0].size, 3u);
  EXPECT_THROW(list_concat_inputs(d / "in", d / "in/"), UsageError);
}

TEST(PlanFile, RoundTripsAndRejectsOtherOptions) {
  ConcatPlanOptions o;
  o.target_size = 6;
  o.input_dir = "/in";
  o.output_dir = "/out";
  auto plan = plan_chunks(inputs_of_sizes({3, 3, 3, 0}), o);
  const std::string text = serialize_plan(plan, o);
  auto back = parse_plan(text, o, "plan.tsv");
  ASSERT_EQ(shape(back), shape(plan));
  EXPECT_EQ(back[1].inputs[1].path, "/in/f3");
  EXPECT_EQ(back[1].bytes, 3u);
  EXPECT_EQ(back[1].output, "/out/train_chunk_1.jsonl");

  ConcatPlanOptions other = o;
  other.target_size = 7;
  EXPECT_THROW(parse_plan(text, other, "plan.tsv"), InputError);
  other = o;
  other.prefix = "x_";
  EXPECT_THROW(parse_plan(text, other, "plan.tsv"), InputError);
  EXPECT_THROW(parse_plan(text.substr(0, text.size() - 4), o, "plan.tsv"), InputError);  // cut short
}

TEST(PlanFile, FirstWriterWins) {
  TempDir d;
  ConcatPlanOptions o;
  o.target_size = 6;
  o.input_dir = "/in";
  o.output_dir = d / "out";
  auto first = plan_chunks(inputs_of_sizes({3, 3, 3}), o);
  auto later = plan_chunks(inputs_of_sizes({3}), o);  // e.g. listed after --remove-source ran
  bool from_file = false;
  EXPECT_EQ(shape(pin_plan(first, o, false, &from_file)), shape(first));
  EXPECT_FALSE(from_file);
  EXPECT_FALSE(path_exists(plan_file_path(o.output_dir))) << "create=false writes nothing";
  EXPECT_EQ(shape(pin_plan(first, o, true, &from_file)), shape(first));
  EXPECT_TRUE(from_file);
  EXPECT_EQ(shape(pin_plan(later, o, true)), shape(first));
  EXPECT_EQ(test::list_dir(o.output_dir), std::vector<std::string>{"sp_concat_plan.tsv"});  // no temporaries left
  EXPECT_NO_THROW(check_plan_covers(first, inputs_of_sizes({3, 3}), "p"));
  EXPECT_THROW(check_plan_covers(first, inputs_of_sizes({3, 3, 3, 3}), "p"), Error);
}

Chunk chunk_of(const TempDir& d, const std::vector<std::pair<std::string, std::string>>& files) {
  Chunk c;
  c.output = d / "out/c0.jsonl";
  for (auto& [name, data] : files) {
    write_file(d / name, data);
    c.inputs.push_back({d / name, name, data.size()});
    c.bytes += data.size();
  }
  return c;
}

TEST(WriteChunk, AddsMissingNewlinesOnlyAndCopiesBytesUnchanged) {
  for (bool parallel : {false, true}) {
    TempDir d;
    const std::string big(3 << 20, 'x');  // larger than one copy piece of the fallback buffer
    auto c = chunk_of(d, {{"a", "{\"a\":1}\n"},
                          {"empty", ""},
                          {"nonl", "{\"b\":2}"},
                          {"crlf", "{\"c\":3}\r\n\xff\xfe raw bytes\r"},
                          {"nl_only", "\n"},
                          {"big", big + "\n"},
                          {"last_nonl", "{\"z\":0}"}});
    ConcatOptions opt;
    opt.parallel_inputs = parallel;
    auto r = write_chunk(c, opt);
    ASSERT_EQ(r.status, ChunkStatus::kWritten) << r.error;
    const std::string want = "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\r\n\xff\xfe raw bytes\r\n\n" + big + "\n{\"z\":0}\n";
    EXPECT_EQ(read_file(c.output), want);
    EXPECT_EQ(r.bytes_out, want.size());
    EXPECT_EQ(r.newlines_added, 3u);
    EXPECT_EQ(test::list_dir(d / "out"), (std::vector<std::string>{"c0.jsonl", "c0.jsonl.sp-record"}));
  }
}

TEST(WriteChunk, OnlyEmptyInputsMakeAnEmptyChunk) {
  TempDir d;
  auto c = chunk_of(d, {{"e1", ""}, {"e2", ""}});
  auto r = write_chunk(c, {});
  ASSERT_EQ(r.status, ChunkStatus::kWritten) << r.error;
  EXPECT_EQ(read_file(c.output), "");
}

TEST(WriteChunk, ChangedOrMissingInputFailsWithoutOutput) {
  TempDir d;
  auto c = chunk_of(d, {{"a", "{}\n"}, {"b", "{}\n"}});
  write_file(d / "b", "{\"grown\":1}\n");
  auto r = write_chunk(c, {});
  EXPECT_EQ(r.status, ChunkStatus::kFailed);
  EXPECT_NE(r.error.find(d / "b"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("when the plan was made"), std::string::npos) << r.error;
  ::unlink((d / "b").c_str());
  ConcatOptions opt;
  opt.remove_source = true;
  r = write_chunk(c, opt);
  EXPECT_EQ(r.status, ChunkStatus::kFailed);
  EXPECT_NE(r.error.find(d / "b"), std::string::npos) << r.error;
  EXPECT_FALSE(path_exists(c.output));
  EXPECT_TRUE(path_exists(d / "a")) << "sources stay when their chunk failed";
  EXPECT_TRUE(test::list_dir(d / "out").empty());
}

TEST(WriteChunk, RemoveSourceAfterCompletionAndSkipExisting) {
  TempDir d;
  auto c = chunk_of(d, {{"a", "1\n"}, {"b", "2"}});
  ConcatOptions opt;
  opt.remove_source = true;
  auto r = write_chunk(c, opt);
  ASSERT_EQ(r.status, ChunkStatus::kWritten) << r.error;
  EXPECT_EQ(r.sources_removed, 2u);
  EXPECT_FALSE(path_exists(d / "a"));
  EXPECT_EQ(read_file(c.output), "1\n2\n");
  r = write_chunk(c, opt);  // rerun: the chunk exists
  EXPECT_EQ(r.status, ChunkStatus::kSkipped) << r.error;
  EXPECT_EQ(read_file(c.output), "1\n2\n");
}

TEST(WriteChunk, UntrustedChunkIsRebuiltBeforeItsInputsAreRemoved) {
  for (const std::string junk : {"", "1\n", "1\n2\n"}) {  // empty, truncated, even right but unrecorded
    TempDir d;
    auto c = chunk_of(d, {{"a", "1\n"}, {"b", "2"}});
    make_dirs(d / "out");
    write_file(c.output, junk);
    ConcatOptions opt;
    opt.remove_source = true;
    auto r = write_chunk(c, opt);
    ASSERT_EQ(r.status, ChunkStatus::kWritten) << r.error;
    EXPECT_NE(r.notice.find("no completion record"), std::string::npos) << r.notice;
    EXPECT_EQ(read_file(c.output), "1\n2\n");
    EXPECT_EQ(r.sources_removed, 2u);
  }
}

TEST(WriteChunk, ChunkThatContradictsItsRecordKeepsItsInputs) {
  TempDir d;
  auto c = chunk_of(d, {{"a", "1\n"}, {"b", "2"}});
  ASSERT_EQ(write_chunk(c, {}).status, ChunkStatus::kWritten);
  write_file(c.output, "1\n");  // truncated after the fact
  ConcatOptions opt;
  opt.remove_source = true;
  auto r = write_chunk(c, opt);
  EXPECT_EQ(r.status, ChunkStatus::kFailed);
  EXPECT_NE(r.error.find("its record says 4"), std::string::npos) << r.error;
  EXPECT_TRUE(path_exists(d / "a"));
  EXPECT_TRUE(path_exists(d / "b"));
  // A directory where the chunk should be: never complete, nothing removed.
  ::unlink(c.output.c_str());
  make_dirs(c.output);
  r = write_chunk(c, opt);
  EXPECT_EQ(r.status, ChunkStatus::kFailed);
  EXPECT_TRUE(path_exists(d / "a"));
  // Without --remove-source a damaged chunk is rebuilt, with a notice.
  ::rmdir(c.output.c_str());
  write_file(c.output, "1\n");
  r = write_chunk(c, {});
  ASSERT_EQ(r.status, ChunkStatus::kWritten) << r.error;
  EXPECT_NE(r.notice.find("rebuilding"), std::string::npos);
  EXPECT_EQ(read_file(c.output), "1\n2\n");
}

TEST(WriteChunk, RemovalInterruptedHalfwayIsFinishedByTheRerun) {
  TempDir d;
  auto c = chunk_of(d, {{"a", "1"}, {"b", "22\n"}, {"c", "333"}});
  ASSERT_EQ(write_chunk(c, {}).status, ChunkStatus::kWritten);
  ::unlink((d / "a").c_str());  // as if killed after removing the first input
  ConcatOptions opt;
  opt.remove_source = true;
  auto r = write_chunk(c, opt);
  ASSERT_EQ(r.status, ChunkStatus::kSkipped) << r.error;
  EXPECT_EQ(r.sources_removed, 2u);
  EXPECT_FALSE(path_exists(d / "b"));
  EXPECT_EQ(read_file(c.output), "1\n22\n333\n");
}

TEST(WriteChunk, InputChangedAfterTheChunkWasMadeIsNotRemoved) {
  TempDir d;
  auto c = chunk_of(d, {{"a", "1\n"}, {"b", "2\n"}});
  ASSERT_EQ(write_chunk(c, {}).status, ChunkStatus::kWritten);
  write_file(d / "b", "3\n");  // same size, new content
  ConcatOptions opt;
  opt.remove_source = true;
  auto r = write_chunk(c, opt);
  EXPECT_EQ(r.status, ChunkStatus::kFailed);
  EXPECT_NE(r.error.find("modified"), std::string::npos) << r.error;
  EXPECT_TRUE(path_exists(d / "a"));
  EXPECT_TRUE(path_exists(d / "b"));
}

// ---- the tool ----

std::map<std::string, std::string> snapshot(const std::string& root, bool chunks_only = true) {
  std::map<std::string, std::string> m;
  for (const auto& f : list_files(root, [&](std::string_view rel) { return !chunks_only || ends_with(rel, ".jsonl"); }))
    m[f.relative] = read_file(f.path);
  return m;
}

std::string env_cmd(const std::string& env, const std::string& args) {
  return "env -u OMPI_COMM_WORLD_RANK -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u RANK -u WORLD_SIZE "
         "-u SLURM_PROCID -u SLURM_NTASKS " + env + " " + shell_quote(tool_path("sp_concat")) + " " + args;
}

// n JSONL files of assorted sizes in nested folders, some without a final
// newline, some empty; expected() is the plain `cat` of a group + fixes.
struct Inputs {
  TempDir dir;
  std::vector<std::pair<std::string, std::string>> files;  // relative, bytes; in plan order
  explicit Inputs(int n, int line_scale = 1) {
    for (int i = 0; i < n; ++i) {
      const std::string rel = (i % 2 ? "b/" : "a/") + std::string(i < 10 ? "s0" : "s") + std::to_string(i) + ".jsonl";
      std::string data;
      if (i % 7 != 3)
        for (int k = 0; k < (i * 37) % 50 * line_scale + 1; ++k) data += "{\"text\":\"file " + std::to_string(i) + " doc " + std::to_string(k) + "\"}\n";
      if (i % 5 == 1 && !data.empty()) data.pop_back();  // no final newline
      files.emplace_back(rel, data);
    }
    std::sort(files.begin(), files.end());
    for (auto& [rel, data] : files) {
      make_dirs(parent_dir(dir / ("in/" + rel)));
      write_file(dir / ("in/" + rel), data);
    }
  }
  std::string in() const { return dir / "in"; }
  std::string args(const std::string& out, const std::string& extra) const {
    return "--input-dir " + shell_quote(in()) + " --output-dir " + shell_quote(out) + " --progress none " + extra;
  }
};

TEST(SpConcatTool, ChunksMatchPlainCatWithNewlineFixes) {
  Inputs in(9);
  const std::string out = in.dir / "out";
  auto r = run_command(env_cmd("", in.args(out, "--files-per-chunk 4 --prefix part-")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> want;
  for (size_t i = 0; i < in.files.size(); ++i) {
    std::string& c = want["part-" + std::to_string(i / 4) + ".jsonl"];
    c += in.files[i].second;
    if (!in.files[i].second.empty() && in.files[i].second.back() != '\n') c += '\n';
  }
  EXPECT_EQ(snapshot(out), want);
  EXPECT_TRUE(test::file_exists(out + "/sp_concat_plan.tsv"));
}

TEST(SpConcatTool, DryRunPrintsThePlanAndWritesNothing) {
  Inputs in(5);
  const std::string out = in.dir / "out";
  auto r = run_command(env_cmd("", in.args(out, "--target-size 1K --dry-run")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(out + "/train_chunk_0.jsonl"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a/s00.jsonl"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5 files"), std::string::npos) << r.out;
  EXPECT_FALSE(test::file_exists(out));
}

TEST(SpConcatTool, SameChunksWhateverTheThreadsAndRanks) {
  Inputs in(40);
  const std::string args = "--target-size 3K";
  auto r = run_command(env_cmd("", in.args(in.dir / "ref", args + " --threads 1")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ref = snapshot(in.dir / "ref");
  ASSERT_GT(ref.size(), 4u);

  r = run_command(env_cmd("", in.args(in.dir / "t4", args + " --threads 4")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot(in.dir / "t4"), ref);

  // Each rank into its own directory: the shares are disjoint, their union the reference.
  std::map<std::string, std::string> merged;
  for (int rank = 0; rank < 3; ++rank) {
    const std::string out = in.dir / ("r" + std::to_string(rank));
    r = run_command(env_cmd("RANK=" + std::to_string(rank) + " WORLD_SIZE=3", in.args(out, args + " --threads 2")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto part = snapshot(out);
    EXPECT_FALSE(part.empty());
    for (auto& [k, v] : part) EXPECT_TRUE(merged.emplace(k, v).second) << k << " written by two ranks";
  }
  EXPECT_EQ(merged, ref);

}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string mpirun(const std::string& ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe " + ranks;
}

// Under mpirun the ranks draw chunks from one counter: 1, 2 and 4 ranks write
// the same bytes, and the job prints one summary (from rank 0) with the
// whole job's totals and each rank's share.
TEST(SpConcatTool, MpiRanksWriteTheSameBytesAndReportOnce) {
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "OpenMPI's mpirun not installed");
  Inputs in(40);
  const std::string args = "--target-size 2K --threads 2";
  auto r = run_command(env_cmd("", in.args(in.dir / "ref", args)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ref = snapshot(in.dir / "ref");
  for (int ranks : {1, 2, 4}) {
    const std::string out = in.dir / ("mpi" + std::to_string(ranks));
    r = run_command(mpirun("-np " + std::to_string(ranks) + " " + shell_quote(tool_path("sp_concat")) + " " +
                           in.args(out, args)));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(snapshot(out), ref) << ranks << " ranks";
    EXPECT_EQ(count_of(r.err, " chunks ("), 1u) << "one summary for the job:\n" << r.err;
    EXPECT_NE(r.err.find(std::to_string(ref.size()) + " of " + std::to_string(ref.size()) + " chunks (" +
                         std::to_string(ranks) + " ranks x 2 threads): " + std::to_string(ref.size()) + " written"),
              std::string::npos)
        << r.err;
    if (ranks > 1) EXPECT_EQ(count_of(r.err, "per rank: 0: "), 1u) << r.err;
  }
}

// A tool started by a program that is itself an MPI rank inherits mpirun's
// variables; SP_NO_MPI=1 keeps it out of MPI, taking that rank's static share.
TEST(SpConcatTool, NoMpiTakesTheInheritedRanksStaticShare) {
  Inputs in(12);
  const std::string args = "--files-per-chunk 1 --threads 1";
  auto r = run_command(env_cmd("", in.args(in.dir / "ref", args)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> merged;
  for (int rank = 0; rank < 2; ++rank) {
    const std::string out = in.dir / ("r" + std::to_string(rank));
    r = run_command("timeout 60 " + env_cmd("SP_NO_MPI=1 OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=" +
                                                std::to_string(rank),
                                            in.args(out, args)));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("[rank " + std::to_string(rank) + "/2] sp_concat: "), std::string::npos) << r.err;
    const auto part = snapshot(out);
    EXPECT_FALSE(part.empty());
    for (auto& [k, v] : part) EXPECT_TRUE(merged.emplace(k, v).second) << k << " written by both ranks";
  }
  EXPECT_EQ(merged, snapshot(in.dir / "ref"));
}

// A rank killed mid-job (SIGKILL at its second task) ends the job with a
// non-zero status instead of leaving the others waiting for it, and a rerun
// with another rank count finishes the same bytes.
TEST(SpConcatTool, MpiRankKilledEndsTheJobAndTheRerunFinishes) {
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "OpenMPI's mpirun not installed");
  Inputs in(20);
  const std::string tool = shell_quote(tool_path("sp_concat"));
  const std::string args = in.args(in.dir / "out", "--files-per-chunk 1 --threads 1");
  auto r = run_command("timeout 120 " + mpirun("-np 1 env SP_FAILPOINT=job.before_task:2 " + tool + " " + args +
                                               " : -np 1 env SP_FAILPOINT=job.before_task:sleep=50 " + tool + " " +
                                               args));
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.exit_code, 124) << "the job hung after a rank died:\n" << r.err;
  r = run_command(mpirun("-np 3 " + tool + " " + args));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ref = run_command(env_cmd("", in.args(in.dir / "ref", "--files-per-chunk 1")));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  EXPECT_EQ(snapshot(in.dir / "out"), snapshot(in.dir / "ref"));
}

// A slow rank (every task delayed 150 ms through the job.before_task fail
// point, MPMD so only rank 0 gets it) takes few chunks: the fast rank draws
// the rest, where a fixed share would have split them evenly. Progress is one
// line for the job, from rank 0, naming the slowest rank.
TEST(SpConcatTool, MpiSharingFollowsTheRanksSpeed) {
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "OpenMPI's mpirun not installed");
  Inputs in(20);
  const std::string tool = shell_quote(tool_path("sp_concat"));
  const std::string flags = " --files-per-chunk 1 --threads 1 --progress lines --progress-interval 0.1";
  const std::string args = "--input-dir " + shell_quote(in.in()) + " --output-dir " + shell_quote(in.dir / "out") +
                           flags;
  auto r = run_command(mpirun("-np 1 env SP_FAILPOINT=job.before_task:sleep=150 " + tool + " " + args + " : -np 1 " +
                              tool + " " + args));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ref = run_command(env_cmd("", in.args(in.dir / "ref", "--files-per-chunk 1")));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  EXPECT_EQ(snapshot(in.dir / "out"), snapshot(in.dir / "ref"));
  const size_t at = r.err.find("| 1: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const int fast = std::stoi(r.err.substr(at + 5));
  EXPECT_GE(fast, 15) << "the fast rank should have drawn most of the 20 chunks:\n" << r.err;
  std::istringstream lines(r.err);
  size_t progress_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("MB/s") == std::string::npos || line.find(" chunks (") != std::string::npos) continue;
    ++progress_lines;
    EXPECT_EQ(line.rfind("[rank 0/2] sp_concat: ", 0), 0u) << "a progress line not from rank 0: " << line;
    EXPECT_NE(line.find("/20 chunks"), std::string::npos) << line;
  }
  EXPECT_GT(progress_lines, 0u) << r.err;
  EXPECT_NE(r.err.find("slowest rank"), std::string::npos) << r.err;
}

TEST(SpConcatTool, RemoveSourceRerunsFollowThePinnedPlan) {
  Inputs in(30);
  const std::string args = "--target-size 2K";
  run_command("cp -r " + shell_quote(in.in()) + " " + shell_quote(in.dir / "copy"));
  auto r = run_command(env_cmd("", "--input-dir " + shell_quote(in.dir / "copy") + " --output-dir " +
                                       shell_quote(in.dir / "ref") + " --progress none " + args));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ref = snapshot(in.dir / "ref");

  // Rank 0 of 2 builds its chunks and deletes their inputs, then the job dies.
  // A later single-process rerun sees fewer inputs; without the pinned plan it
  // would regroup them and skip chunk names that already exist (losing data).
  const std::string out = in.dir / "out";
  r = run_command(env_cmd("RANK=0 WORLD_SIZE=2", in.args(out, args + " --remove-source")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(env_cmd("", in.args(out, args + " --remove-source")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot(out), ref);
  EXPECT_TRUE(snapshot(in.in()).empty()) << "every input removed once its chunk was complete";

  // Different options against the same output directory are refused.
  write_file(in.in() + "/new.jsonl", "{}\n");
  r = run_command(env_cmd("", in.args(out, "--target-size 4K")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("sp_concat_plan.tsv"), std::string::npos) << r.err;
  r = run_command(env_cmd("", in.args(out, args)));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("new.jsonl' is not in the plan"), std::string::npos) << r.err;
}

TEST(SpConcatTool, RerunAfterKillCompletesAndCleansTemporaries) {
  Inputs in(24, 400);
  const std::string out = in.dir / "out";
  const std::string cmd = env_cmd("", in.args(out, "--target-size 256K --threads 1"));
  auto r = run_command(env_cmd("", in.args(in.dir / "ref", "--target-size 256K")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ref = snapshot(in.dir / "ref");
  run_command("timeout -s KILL 0.1 " + cmd);  // killed wherever it happens to be
  make_dirs(out);
  write_file(test::temp_of_dead_process(out + "/train_chunk_1.jsonl"), "{\"half");  // what a kill mid-write leaves
  r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot(out), ref);
  for (const auto& name : test::list_dir(out)) EXPECT_FALSE(is_temp_name(name)) << name;
}

// SIGINT and SIGTERM mid-run: exit 128 + signal, the summary says it was
// interrupted, no temporaries and no partial chunk remain, and the rerun
// gives the chunks of an uninterrupted run.
TEST(SpConcatTool, SignalsStopCleanlyAndTheRerunMatches) {
  Inputs in(24, 3000);  // ~40 MB
  auto r = run_command(env_cmd("", in.args(in.dir / "ref", "--target-size 4M")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ref = snapshot(in.dir / "ref");
  ASSERT_GE(ref.size(), 6u);
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string out = in.dir / ("out" + std::to_string(sig));
    const std::string cmd = env_cmd("", in.args(out, "--target-size 4M --threads 1"));
    bool mid_run = false;
    r = test::interrupt_while_working(cmd, out, sig, [&] { return snapshot(out).size() < ref.size(); }, &mid_run);
    ASSERT_TRUE(mid_run) << "the run was over before the signal; test is void";
    EXPECT_EQ(r.exit_code, 128 + sig) << r.err;
    EXPECT_NE(r.err.find("sp_concat: interrupted by " + std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT")),
              std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" not finished"), std::string::npos) << "no summary marked interrupted: " << r.err;
    EXPECT_TRUE(test::temps_under(out).empty());
    const auto partial = snapshot(out);
    EXPECT_LT(partial.size(), ref.size());
    for (const auto& [name, bytes] : partial)
      EXPECT_TRUE(ref.count(name) && bytes == ref.at(name)) << name << " is not a complete output";
    r = run_command(cmd);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(snapshot(out) == ref);
  }
}

TEST(SpConcatTool, DanglingSymlinksAreReported) {
  Inputs in(3);
  ASSERT_EQ(::symlink((in.dir / "gone.jsonl").c_str(), (in.in() + "/a/lost.jsonl").c_str()), 0);
  auto r = run_command(env_cmd("", in.args(in.dir / "out", "--target-size 1M --quiet")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("sp_concat: warning: skipping dangling symlink '" + in.in() + "/a/lost.jsonl'"),
            std::string::npos) << r.err;
  EXPECT_EQ(snapshot(in.dir / "out").size(), 1u);
}

// ---- resuming inside a chunk (checkpoints) ----

// 24 inputs (~40 MB) in one chunk, copied two at a time with a checkpoint
// after every input (64K apart).
struct ResumeCase {
  Inputs in{24, 3000};
  std::string out = in.dir / "out";
  std::string ref = in.dir / "ref";
  std::map<std::string, std::string> ref_chunks, ref_records;
  ResumeCase() {
    auto r = run_command(env_cmd("", in.args(ref, "--target-size 1G --checkpoint-every 0")));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    ref_chunks = snapshot(ref);
    ref_records = test::recorded_outputs(ref);
  }
  std::string cmd(const std::string& flags = "", const std::string& env = "") const {
    return env_cmd(env, in.args(out, "--target-size 1G --threads 2 --checkpoint-every 64K " + flags));
  }
  // Inputs a checkpoint lists as copied, from its "inputs_done" ranges.
  size_t listed_inputs() const {
    const std::string cp = checkpoint_path_for(out + "/train_chunk_0.jsonl");
    const std::string text = read_record(cp).checkpoint_value("inputs_done");
    size_t n = 0;
    std::istringstream ranges(text);
    for (std::string range; std::getline(ranges, range, ',');) {
      const auto dash = range.find('-');
      n += dash == std::string::npos ? 1 : std::stoul(range.substr(dash + 1)) - std::stoul(range.substr(0, dash)) + 1;
    }
    return n;
  }
  void expect_finished_like_the_reference(const std::string& err) const {
    EXPECT_TRUE(snapshot(out) == ref_chunks) << err;
    EXPECT_EQ(test::recorded_outputs(out), ref_records);
    EXPECT_EQ(partials_under(out), std::vector<std::string>{});
    EXPECT_EQ(test::temps_under(out), std::vector<std::string>{});
  }
};

TEST(SpConcatTool, KilledAfterACheckpointCopiesOnlyTheRest) {
  ResumeCase rc;
  std::mt19937 rng(5);
  for (int hit : {1, 4, 2 + static_cast<int>(rng() % 10)}) {
    SCOPED_TRACE("killed after checkpoint " + std::to_string(hit));
    run_command("rm -rf " + shell_quote(rc.out));
    auto r = run_command(rc.cmd("", "SP_FAILPOINT=checkpoint.after_write:" + std::to_string(hit)));
    ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
    const size_t listed = rc.listed_inputs();
    EXPECT_GE(listed, static_cast<size_t>(hit));
    r = run_command(rc.cmd());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("from its checkpoint: " + std::to_string(listed) + " of 24 inputs"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("| 1 resumed from checkpoints (" + std::to_string(listed) + " inputs, "), std::string::npos)
        << r.err;
    rc.expect_finished_like_the_reference(r.err);
  }
}

// kill -9 at arbitrary moments once a checkpoint is there: inputs being
// copied (not listed) are copied again, the rest are kept.
TEST(SpConcatTool, KilledAtRandomMomentsAfterACheckpointResumes) {
  ResumeCase rc;
  std::mt19937 rng(13);
  int resumed = 0;
  for (int trial = 0; trial < 4; ++trial) {
    run_command("rm -rf " + shell_quote(rc.out));
    test::BackgroundCommand run(rc.cmd());
    ASSERT_TRUE(test::wait_until([&] { return partials_under(rc.out).size() >= 2; }, 60));
    ::usleep(static_cast<useconds_t>(rng() % 30000));
    run.signal(SIGKILL);
    run.wait();
    auto r = run_command(rc.cmd());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    resumed += r.err.find("resumed from checkpoints") != std::string::npos;
    rc.expect_finished_like_the_reference(r.err);
  }
  EXPECT_GT(resumed, 0) << "no rerun resumed from a checkpoint";
}

// SIGTERM: the inputs copied so far are checkpointed, the run ends with 143,
// and the rerun copies only the others.
TEST(SpConcatTool, SigtermCheckpointsAndTheRerunResumes) {
  ResumeCase rc;
  test::BackgroundCommand run(rc.cmd("", "SP_FAILPOINT=checkpoint.after_write:sleep=50"));
  ASSERT_TRUE(test::wait_until([&] { return partials_under(rc.out).size() >= 2; }, 60));
  run.signal(SIGTERM);
  auto r = run.wait();
  ASSERT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  ASSERT_EQ(partials_under(rc.out).size(), 2u) << r.err;
  const size_t listed = rc.listed_inputs();
  ASSERT_LT(listed, 24u);
  r = run_command(rc.cmd());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("from its checkpoint: " + std::to_string(listed) + " of 24 inputs"), std::string::npos) << r.err;
  rc.expect_finished_like_the_reference(r.err);
}

// An input rewritten since the checkpoint (same size, so the pinned plan
// still holds): the checkpoint is discarded and the chunk copied afresh.
TEST(SpConcatTool, CheckpointOfChangedInputsIsDiscarded) {
  ResumeCase rc;
  auto r = run_command(rc.cmd("", "SP_FAILPOINT=checkpoint.after_write:3"));
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  const std::string first = rc.in.in() + "/" + rc.in.files[0].first;
  std::string bytes = rc.in.files[0].second;
  ASSERT_GT(bytes.size(), 20u);
  bytes[12] = bytes[12] == 'x' ? 'y' : 'x';
  ::usleep(20000);  // a new mtime, too
  write_file(first, bytes);
  r = run_command(rc.cmd());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("discarding the checkpoint of " + rc.out + "/train_chunk_0.jsonl: its input '" + first +
                       "' was modified"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("resumed"), std::string::npos) << r.err;
  std::string want = bytes;
  for (size_t i = 1; i < rc.in.files.size(); ++i) {
    const std::string& b = rc.in.files[i].second;
    if (!want.empty() && want.back() != '\n') want += '\n';
    want += b;
  }
  if (!want.empty() && want.back() != '\n') want += '\n';
  EXPECT_EQ(read_file(rc.out + "/train_chunk_0.jsonl"), want);
  EXPECT_EQ(partials_under(rc.out), std::vector<std::string>{});
}

// --overwrite starts afresh; --checkpoint-every 0 writes no partial or
// checkpoint (and removes one an earlier run left).
TEST(SpConcatTool, OverwriteAndCheckpointEveryZeroTakeNoCheckpoint) {
  ResumeCase rc;
  auto r = run_command(rc.cmd("", "SP_FAILPOINT=checkpoint.after_write:2"));
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  r = run_command(rc.cmd("--overwrite"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("resum"), std::string::npos) << r.err;
  rc.expect_finished_like_the_reference(r.err);

  run_command("rm -rf " + shell_quote(rc.out));
  r = run_command(rc.cmd("", "SP_FAILPOINT=checkpoint.after_write:2"));
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  ASSERT_EQ(partials_under(rc.out).size(), 2u);
  r = run_command(rc.cmd("--checkpoint-every 0", "SP_FAILPOINT=atomic_file.before_rename:1"));
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_EQ(partials_under(rc.out), std::vector<std::string>{});
  EXPECT_EQ(test::temps_under(rc.out).size(), 1u);
  r = run_command(rc.cmd("--checkpoint-every 0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("resum"), std::string::npos) << r.err;
  rc.expect_finished_like_the_reference(r.err);
}

TEST(SpConcatTool, UsageErrors) {
  auto r = run_command(env_cmd("", "--input-dir /tmp --output-dir /tmp/x --target-size 1G --files-per-chunk 3"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not both"), std::string::npos) << r.err;
  r = run_command(env_cmd("", "--input-dir /tmp --output-dir /tmp/x --target-size 12Q"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--target-size"), std::string::npos) << r.err;
  r = run_command(env_cmd("", "--input-dir /tmp"));
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace sp
