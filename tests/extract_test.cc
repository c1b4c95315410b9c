// sp_extract: the library core (plan_extract / extract_file) and the tool
// (threads, ranks, failures, reruns after a kill).
#include "sp/extract.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdlib>
#include <map>
#include <random>

#include "sp/checkpoint.h"
#include "sp/checksum.h"
#include "sp/fs.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "test_support.h"

namespace sp {
namespace {

using test::file_exists;
using test::partials_under;
using test::read_file;
using test::run_command;
using test::shell_quote;
using test::TempDir;
using test::tool_path;
using test::write_file;

std::string compress(const std::string& data, int level = 3, bool checksum = true) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum ? 1 : 0);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress2(c, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(c);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A skippable frame: magic 0x184D2A5? (little-endian), 4-byte size, payload.
std::string skippable(const std::string& payload) {
  std::string f = "\x50\x2A\x4D\x18";
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) f += static_cast<char>((n >> (8 * i)) & 0xff);
  return f + payload;
}

// Deterministic JSONL with varied line lengths.
std::string jsonl(int docs, int seed) {
  std::string s;
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (int i = 0; i < docs; ++i) {
    x = x * 1664525u + 1013904223u;
    s += "{\"text\":\"doc " + std::to_string(seed) + "-" + std::to_string(i) + " ";
    for (uint32_t k = 0; k < (x >> 24) % 40; ++k) s += "lorem ipsum \\u00e9 ";
    s += "\",\"meta\":{\"i\":" + std::to_string(i) + "}}\n";
  }
  return s;
}

// Relative path -> content of every file under root.
std::map<std::string, std::string> snapshot(const std::string& root) {
  std::map<std::string, std::string> m;
  for (const auto& f : list_files(root, [](std::string_view rel) { return !is_record_name(std::string(rel)); }))
    m[f.relative] = read_file(f.path);
  return m;
}

size_t count_temps(const std::string& root) {
  size_t n = 0;
  for (const auto& f : list_files(root, [](std::string_view) { return true; })) n += is_temp_name(base_name(f.path));
  return n;
}

ExtractTask task_for(const TempDir& d, const std::string& name) {
  return ExtractTask{d / (name + ".zst"), name + ".zst", d / name, file_size(d / (name + ".zst"))};
}

TEST(ExtractFile, MultiFrameWithSkippableFramesEverywhere) {
  TempDir d;
  const std::string a = jsonl(500, 1), b = jsonl(300, 2), c = jsonl(1, 3);
  write_file(d / "x.jsonl.zst", skippable("lead") + compress(a) + skippable("") + compress(b, 19, false) +
                                    skippable(std::string(1000, 'z')) + compress(c) + skippable("tail"));
  ExtractOptions opt;
  opt.buffer_bytes = 4096;  // many small reads: exercises the buffer loop
  auto r = extract_file(task_for(d, "x.jsonl"), opt);
  ASSERT_EQ(r.status, ExtractStatus::kExtracted) << r.error;
  EXPECT_EQ(read_file(d / "x.jsonl"), a + b + c);
  EXPECT_EQ(r.bytes_out, a.size() + b.size() + c.size());
  EXPECT_EQ(r.bytes_in, file_size(d / "x.jsonl.zst"));
  EXPECT_EQ(count_temps(d.path()), 0u);
}

TEST(ExtractFile, OnlySkippableFramesGiveAnEmptyOutput) {
  TempDir d;
  write_file(d / "x.zst", skippable("meta"));
  auto r = extract_file(task_for(d, "x"), {});
  ASSERT_EQ(r.status, ExtractStatus::kExtracted) << r.error;
  EXPECT_EQ(read_file(d / "x"), "");
}

TEST(ExtractFile, CompressedEmptyInputGivesAnEmptyOutput) {
  TempDir d;
  write_file(d / "x.zst", compress(""));
  auto r = extract_file(task_for(d, "x"), {});
  ASSERT_EQ(r.status, ExtractStatus::kExtracted) << r.error;
  EXPECT_TRUE(test::file_exists(d / "x"));
  EXPECT_EQ(read_file(d / "x"), "");
}

void expect_failure(const TempDir& d, const std::string& name, const std::string& reason) {
  auto r = extract_file(task_for(d, name), {});
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_NE(r.error.find(d / (name + ".zst")), std::string::npos) << r.error;  // names the file
  EXPECT_NE(r.error.find(reason), std::string::npos) << r.error;
  EXPECT_FALSE(test::file_exists(d / name)) << "a failed file must leave no output";
  EXPECT_EQ(count_temps(d.path()), 0u);
  EXPECT_TRUE(test::file_exists(d / (name + ".zst")));
}

TEST(ExtractFile, TruncatedInputFailsWithoutOutput) {
  TempDir d;
  const std::string z = compress(jsonl(2000, 4));
  write_file(d / "cut.jsonl.zst", z.substr(0, z.size() / 2));
  expect_failure(d, "cut.jsonl", "truncated");
  // Cut inside the second frame, after a complete first one.
  write_file(d / "cut2.jsonl.zst", z + z.substr(0, 20));
  expect_failure(d, "cut2.jsonl", "truncated");
  // Cut inside the 4-byte checksum at the very end.
  write_file(d / "cut3.jsonl.zst", z.substr(0, z.size() - 2));
  expect_failure(d, "cut3.jsonl", "truncated");
}

TEST(ExtractFile, CorruptInputFailsWithoutOutput) {
  TempDir d;
  std::string z = compress(jsonl(2000, 5));
  z[z.size() / 2] = static_cast<char>(z[z.size() / 2] ^ 0x5a);
  write_file(d / "bad.jsonl.zst", z);
  expect_failure(d, "bad.jsonl", "corrupt");
  write_file(d / "notzstd.jsonl.zst", "{\"text\":\"plain json, not zstd\"}\n");
  expect_failure(d, "notzstd.jsonl", "corrupt");
  write_file(d / "empty.jsonl.zst", "");  // as `zstd -d`: an empty file is not a zstd stream
  expect_failure(d, "empty.jsonl", "empty");
}

TEST(ExtractFile, ValidateReportsFirstBadLineAndKeepsNoOutput) {
  TempDir d;
  write_file(d / "ok.jsonl.zst", compress("{\"a\":1}\n\n  \n{\"b\":[1,2]}\r\n{\"c\":\"\xc3\xa9\"}"));
  ExtractOptions opt;
  opt.validate = true;
  auto r = extract_file(task_for(d, "ok.jsonl"), opt);
  ASSERT_EQ(r.status, ExtractStatus::kExtracted) << r.error;
  EXPECT_EQ(r.lines, 5u);
  EXPECT_EQ(read_file(d / "ok.jsonl"), "{\"a\":1}\n\n  \n{\"b\":[1,2]}\r\n{\"c\":\"\xc3\xa9\"}");

  const std::string big = jsonl(3000, 6);  // several validation blocks before the bad line
  write_file(d / "arr.jsonl.zst", compress(big + "[1,2]\n{\"x\":1}\n{oops\n"));
  opt.buffer_bytes = 4096;
  r = extract_file(task_for(d, "arr.jsonl"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_NE(r.error.find(d / "arr.jsonl.zst" + ":3001:"), std::string::npos) << r.error;
  EXPECT_FALSE(test::file_exists(d / "arr.jsonl"));

  write_file(d / "utf8.jsonl.zst", compress("{\"a\":1}\n{\"t\":\"bad \xff byte\"}\n"));
  r = extract_file(task_for(d, "utf8.jsonl"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_NE(r.error.find(d / "utf8.jsonl.zst" + ":2:"), std::string::npos) << r.error;
  EXPECT_FALSE(test::file_exists(d / "utf8.jsonl"));

  // Without --validate the same bytes are simply decompressed.
  r = extract_file(task_for(d, "utf8.jsonl"), {});
  EXPECT_EQ(r.status, ExtractStatus::kExtracted) << r.error;
}

TEST(ExtractFile, UntrustedOutputIsRebuiltBeforeTheSourceIsRemoved) {
  // Anything at the output name without a record -- empty, truncated, stale --
  // is rebuilt; the source goes only after the new output is verified.
  for (const std::string junk : {"", "ne", "old\n"}) {
    TempDir d;
    write_file(d / "a.zst", compress("new\n"));
    write_file(d / "a", junk);
    ExtractOptions opt;
    opt.remove_source = true;
    auto r = extract_file(task_for(d, "a"), opt);
    EXPECT_EQ(r.status, ExtractStatus::kExtracted) << r.error;
    EXPECT_NE(r.notice.find("no completion record"), std::string::npos) << r.notice;
    EXPECT_EQ(read_file(d / "a"), "new\n");
    EXPECT_TRUE(r.source_removed);
    EXPECT_FALSE(test::file_exists(d / "a.zst"));
    EXPECT_TRUE(test::file_exists(d / "a.sp-record"));
  }
}

TEST(ExtractFile, CompleteOutputIsKeptAndItsSourceRemovedOnlyWhenVerified) {
  TempDir d;
  write_file(d / "a.zst", compress("new\n"));
  auto r = extract_file(task_for(d, "a"), {});
  ASSERT_EQ(r.status, ExtractStatus::kExtracted) << r.error;
  ExtractOptions opt;
  opt.remove_source = true;
  r = extract_file(task_for(d, "a"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kSkipped) << r.error;
  EXPECT_TRUE(r.source_removed);
  EXPECT_EQ(read_file(d / "a"), "new\n");

  write_file(d / "b.zst", compress("b\n"));
  r = extract_file(task_for(d, "b"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kExtracted);
  EXPECT_EQ(read_file(d / "b"), "b\n");
  EXPECT_FALSE(test::file_exists(d / "b.zst"));

  const std::string z = compress("c\n");
  write_file(d / "c.zst", z.substr(0, z.size() - 1));
  r = extract_file(task_for(d, "c"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_TRUE(test::file_exists(d / "c.zst")) << "a failed file keeps its source";
}

TEST(ExtractFile, OutputThatContradictsItsRecordKeepsTheSource) {
  TempDir d;
  write_file(d / "a.zst", compress("complete\n"));
  ASSERT_EQ(extract_file(task_for(d, "a"), {}).status, ExtractStatus::kExtracted);
  write_file(d / "a", "compl");  // truncated after the fact
  ExtractOptions opt;
  opt.remove_source = true;
  auto r = extract_file(task_for(d, "a"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_NE(r.error.find("5 bytes, its record says 9"), std::string::npos) << r.error;
  EXPECT_TRUE(test::file_exists(d / "a.zst"));
  // Without --remove-source the output is simply rebuilt, with a notice.
  r = extract_file(task_for(d, "a"), {});
  EXPECT_EQ(r.status, ExtractStatus::kExtracted) << r.error;
  EXPECT_NE(r.notice.find("rebuilding"), std::string::npos) << r.notice;
  EXPECT_EQ(read_file(d / "a"), "complete\n");
}

TEST(ExtractFile, SameSizeCorruptionIsCaughtByTheChecksumBeforeRemoval) {
  TempDir d;
  write_file(d / "a.zst", compress("complete\n"));
  ASSERT_EQ(extract_file(task_for(d, "a"), {}).status, ExtractStatus::kExtracted);
  struct stat st;
  ASSERT_EQ(::stat((d / "a").c_str(), &st), 0);
  write_file(d / "a", "COMPLETE\n");
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (d / "a").c_str(), times, 0), 0);
  ExtractOptions opt;
  opt.remove_source = true;
  auto r = extract_file(task_for(d, "a"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_NE(r.error.find("checksum"), std::string::npos) << r.error;
  EXPECT_TRUE(test::file_exists(d / "a.zst"));
}

TEST(ExtractFile, ValidateRerunRevalidatesOutputsMadeWithoutIt) {
  TempDir d;
  write_file(d / "a.zst", compress("{\"text\":1}\nnot json\n"));
  ASSERT_EQ(extract_file(task_for(d, "a"), {}).status, ExtractStatus::kExtracted);
  ExtractOptions opt;
  opt.validate = true;
  auto r = extract_file(task_for(d, "a"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed) << "kept without validating";
  EXPECT_NE(r.error.find(":2:"), std::string::npos) << r.error;
  // The other way round, a validated output serves a run that does not ask:
  // kept, and its source removed.
  write_file(d / "b.zst", compress("{\"text\":1}\n"));
  ASSERT_EQ(extract_file(task_for(d, "b"), opt).status, ExtractStatus::kExtracted);
  ExtractOptions plain;
  plain.remove_source = true;
  r = extract_file(task_for(d, "b"), plain);
  EXPECT_EQ(r.status, ExtractStatus::kSkipped) << r.error;
  EXPECT_TRUE(r.source_removed);
}

TEST(ExtractFile, DirectoryAtTheOutputNameFailsAndKeepsTheSource) {
  TempDir d;
  write_file(d / "a.zst", compress("x\n"));
  make_dirs(d / "a");
  ExtractOptions opt;
  opt.remove_source = true;
  auto r = extract_file(task_for(d, "a"), opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_TRUE(test::file_exists(d / "a.zst"));
}

TEST(ExtractFile, SourceNamedJustDotZstIsNeverDeleted) {
  TempDir d;
  make_dirs(d / "in/sub");
  write_file(d / "in/sub/.zst", compress("x\n"));
  auto tasks = plan_extract(d / "in", "");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_FALSE(tasks[0].problem.empty());
  ExtractOptions opt;
  opt.remove_source = true;
  auto r = extract_file(tasks[0], opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_NE(r.error.find("no output name"), std::string::npos) << r.error;
  EXPECT_TRUE(test::file_exists(d / "in/sub/.zst"));
}

TEST(PlanExtract, RemovedSourcesStayInThePlanThroughTheirRecords) {
  TempDir d;
  make_dirs(d / "in/x");
  write_file(d / "in/x/a.jsonl.zst", compress("a\n"));
  write_file(d / "in/x/b.jsonl.zst", compress("bb\n"));
  write_file(d / "in/c.jsonl.zst", compress("ccc\n"));
  const auto before = plan_extract(d / "in", d / "out");
  ExtractOptions opt;
  opt.remove_source = true;
  ASSERT_EQ(extract_file(before[1], opt).status, ExtractStatus::kExtracted);  // x/a
  ASSERT_FALSE(test::file_exists(d / "in/x/a.jsonl.zst"));
  const auto after = plan_extract(d / "in", d / "out");
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].relative, before[i].relative);
    EXPECT_EQ(after[i].source_bytes, before[i].source_bytes);
    EXPECT_EQ(after[i].output, before[i].output);
  }
  EXPECT_FALSE(after[1].source_present);
  // Its record vouches for it: kept, not failed.
  EXPECT_EQ(extract_file(after[1], opt).status, ExtractStatus::kSkipped);
  // An output lost after its source was removed cannot be rebuilt: say so.
  ::unlink((d / "out/x/a.jsonl").c_str());
  auto r = extract_file(after[1], opt);
  EXPECT_EQ(r.status, ExtractStatus::kFailed);
  EXPECT_NE(r.error.find("was removed"), std::string::npos) << r.error;
}

TEST(PlanExtract, RecursiveSortedAndMapped) {
  TempDir d;
  make_dirs(d / "in/b/c");
  make_dirs(d / "in/a");
  write_file(d / "in/b/c/z.jsonl.zst", "x");
  write_file(d / "in/a/y.jsonl.zst", "x");
  write_file(d / "in/B.zst", "x");
  write_file(d / "in/a/notes.txt", "x");
  write_file(d / "in/a/y.jsonl", "x");  // an earlier output: not a source
  auto t = plan_extract(d / "in", d / "out/");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].relative, "B.zst");  // byte-wise: upper case first
  EXPECT_EQ(t[0].output, d / "out/B");
  EXPECT_EQ(t[1].relative, "a/y.jsonl.zst");
  EXPECT_EQ(t[1].output, d / "out/a/y.jsonl");
  EXPECT_EQ(t[2].output, d / "out/b/c/z.jsonl");
  auto beside = plan_extract(d / "in", "");
  EXPECT_EQ(beside[2].output, d / "in/b/c/z.jsonl");
  EXPECT_EQ(beside[2].source_bytes, 1u);
}

// ---- the tool ----

// A tree of .zst files (nested, some multi-frame, one empty document set)
// plus the expected decompressed tree.
struct Corpus {
  TempDir dir;
  std::map<std::string, std::string> expected;  // relative output -> bytes
  explicit Corpus(int files, int docs = 200) {
    make_dirs(dir / "in/chunk1");
    make_dirs(dir / "in/chunk2/deep");
    for (int i = 0; i < files; ++i) {
      const std::string rel = (i % 3 == 0 ? "chunk1/" : i % 3 == 1 ? "chunk2/" : "chunk2/deep/") + std::string("ex") +
                              std::to_string(i) + ".jsonl";
      std::string a = jsonl(docs + i * 7, i), b = i % 2 ? jsonl(docs / 2, 1000 + i) : "";
      write_file(dir / ("in/" + rel + ".zst"), compress(a) + (b.empty() ? "" : compress(b)));
      expected[rel] = a + b;
    }
  }
  std::string in() const { return dir / "in"; }
};

std::string env_cmd(const std::string& env, const std::string& tool, const std::string& args) {
  // Clear every launcher variable so the test's own environment cannot leak in.
  return "env -u OMPI_COMM_WORLD_RANK -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u RANK -u WORLD_SIZE "
         "-u SLURM_PROCID -u SLURM_NTASKS " + env + " " + shell_quote(tool_path(tool)) + " " + args;
}

TEST(SpExtractTool, OneAndManyThreadsGiveTheSameTree) {
  Corpus c(12);
  for (int threads : {1, 4}) {
    const std::string out = c.dir / ("out" + std::to_string(threads));
    auto r = run_command(env_cmd("", "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " +
                                                       shell_quote(out) + " --threads " + std::to_string(threads) +
                                                       " --progress lines --validate"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(snapshot(out), c.expected) << "threads=" << threads;
    EXPECT_NE(r.err.find("12 extracted"), std::string::npos) << r.err;
  }
}

TEST(SpExtractTool, RanksSplitTheFilesDisjointly) {
  Corpus c(13);
  std::map<std::string, std::string> merged;
  for (int rank = 0; rank < 3; ++rank) {
    const std::string out = c.dir / ("out_r" + std::to_string(rank));
    auto r = run_command(env_cmd("RANK=" + std::to_string(rank) + " WORLD_SIZE=3", "sp_extract",
                                 "--input-dir " + shell_quote(c.in()) + " --output-dir " + shell_quote(out) +
                                     " --progress none"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("[rank " + std::to_string(rank) + "/3]"), std::string::npos) << r.err;
    auto part = snapshot(out);
    EXPECT_FALSE(part.empty()) << "rank " << rank << " got no files";
    for (auto& [k, v] : part) EXPECT_TRUE(merged.emplace(k, v).second) << k << " extracted by two ranks";
  }
  EXPECT_EQ(merged, c.expected);
}

// 1, 2 and 4 ranks under mpirun: the same files, one summary from rank 0.
TEST(SpExtractTool, MpirunRankCountsWriteTheSameFiles) {
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "mpirun not installed");
  Corpus c(9);
  for (int ranks : {1, 2, 4}) {
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    const std::string out = c.dir / ("out" + std::to_string(ranks)), n = std::to_string(ranks);
    // mpirun's OMPI_COMM_WORLD_* variables take precedence over anything inherited.
    auto r = run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np " + n +
                         " " + shell_quote(tool_path("sp_extract")) + " --input-dir " + shell_quote(c.in()) +
                         " --output-dir " + shell_quote(out) + " --progress none");
    SP_REQUIRE_FIXTURE(r.err.find("sp_extract") != std::string::npos || r.exit_code == 0,
                       "mpirun cannot start processes here: " + r.err);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(snapshot(out), c.expected);
    if (ranks == 1) continue;
    // One summary for the job, from rank 0, with the job's totals and each rank's share.
    EXPECT_NE(r.err.find("[rank 0/" + n + "] sp_extract: 9 files (9 in the job, " + n + " ranks x "), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("[rank 0/" + n + "] sp_extract: per rank: 0: "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("[rank 1/" + n + "]"), std::string::npos) << r.err;
  }
}

// Under MPI the ranks draw files as they finish: a rank slowed down (every
// task delayed 200 ms by the job.before_task fail point; MPMD, so only rank 0)
// takes few of the 9 files, where a fixed share would have given it half.
TEST(SpExtractTool, MpirunSlowRankDrawsFewFiles) {
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "mpirun not installed");
  Corpus c(9);
  const std::string out = c.dir / "out";
  const std::string tool = shell_quote(tool_path("sp_extract")) + " --input-dir " + shell_quote(c.in()) +
                           " --output-dir " + shell_quote(out) + " --progress none --threads 1";
  auto r = run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 1 env "
                       "SP_FAILPOINT=job.before_task:sleep=200 " + tool + " : -np 1 " + tool);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot(out), c.expected);
  const size_t at = r.err.find("| 1: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_GE(std::stoi(r.err.substr(at + 5)), 6) << "the fast rank should have drawn most of the 9 files:\n" << r.err;
}

TEST(SpExtractTool, BadFilesFailAloneAndSetTheExitCode) {
  Corpus c(6);
  write_file(c.in() + "/chunk1/trunc.jsonl.zst", compress(jsonl(100, 9)).substr(0, 50));
  write_file(c.in() + "/chunk2/garbage.jsonl.zst", "not zstd at all");
  const std::string out = c.dir / "out";
  auto r = run_command(env_cmd("", "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " +
                                                     shell_quote(out) + " --threads 2 --progress none"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(c.in() + "/chunk1/trunc.jsonl.zst: truncated"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(c.in() + "/chunk2/garbage.jsonl.zst: corrupt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 failed"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(out), c.expected) << "the good files are all extracted, the bad ones leave nothing";
}

TEST(SpExtractTool, RemoveSourceInPlace) {
  Corpus c(5);
  auto r = run_command(env_cmd("", "sp_extract", "--input-dir " + shell_quote(c.in()) + " --remove-source --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // --quiet
  EXPECT_EQ(snapshot(c.in()), c.expected);  // outputs beside, sources gone
}

TEST(SpExtractTool, StaggeredRanksWithRemoveSourceMissNoFile) {
  // Rank 0 finishes (removing its sources) before rank 1 even lists the
  // directory: rank 1 must still see rank 0's files as planned, and so take
  // exactly its own share.
  Corpus c(12);
  const std::string out = c.dir / "out";
  for (int rank : {0, 1}) {
    auto r = run_command(env_cmd("RANK=" + std::to_string(rank) + " WORLD_SIZE=2", "sp_extract",
                                 "--input-dir " + shell_quote(c.in()) + " --output-dir " + shell_quote(out) +
                                     " --remove-source --progress none"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(snapshot(out), c.expected);
  EXPECT_TRUE(list_files(c.in(), [](std::string_view) { return true; }).empty()) << "every source removed";
  // Every output has its record.
  for (const auto& [rel, data] : c.expected) EXPECT_TRUE(test::file_exists(record_path_for(out + "/" + rel))) << rel;
}

TEST(SpExtractTool, RerunAfterKillCompletesAndCleansTemporaries) {
  Corpus c(8, 4000);
  const std::string out = c.dir / "out";
  const std::string cmd = env_cmd("", "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " +
                                                        shell_quote(out) + " --threads 1 --progress none");
  // Killed at an arbitrary point (maybe before, maybe during, maybe after the
  // work): whatever it left, the rerun must produce the full, correct tree.
  run_command("timeout -s KILL 0.15 " + cmd);
  // Plus the temporary that a kill -9 in the middle of a write leaves behind.
  make_dirs(out + "/chunk1");
  write_file(test::temp_of_dead_process(out + "/chunk1/ex0.jsonl"), "{\"partial\":");
  // And one of another host, whose writer cannot be checked from here: kept, and said so.
  make_dirs(out + "/chunk2");
  const std::string other = out + "/chunk2/ex1.jsonl.tmp-other-host-12345";
  write_file(other, "{\"partial\":");
  auto r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(file_exists(other));
  EXPECT_NE(r.err.find("sp_extract: warning: left 1 temporary of other hosts alone (e.g. " + other), std::string::npos)
      << r.err;
  ASSERT_EQ(::unlink(other.c_str()), 0);
  EXPECT_TRUE(snapshot(out) == c.expected);
  EXPECT_EQ(test::temps_under(out), std::vector<std::string>{}) << r.err;
  // A second rerun has nothing left to do.
  r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("0 extracted, 8 kept (complete)"), std::string::npos) << r.err;
}

// Two runs into one directory (a resubmitted job, or ranks orphaned by a
// killed mpirun still writing): the second run's clean-up must not delete the
// first one's live temporaries, so both finish. (Without checkpoints: with
// them, see ConcurrentRunLeavesTheOtherRunsPartialAlone.)
TEST(SpExtractTool, ConcurrentRunKeepsTheOtherRunsLiveTemporaries) {
  Corpus c(4, 20000);
  const std::string out = c.dir / "out";
  const std::string cmd = env_cmd("", "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " +
                                                        shell_quote(out) + " --threads 1 --progress none "
                                                        "--checkpoint-every 0");
  test::BackgroundCommand first(cmd);
  ASSERT_TRUE(test::wait_until([&] { return !test::temps_under(out).empty() || !first.running(); }, 60));
  ASSERT_TRUE(first.freeze()) << "the first run finished at once; test is void";
  const auto live = test::temps_under(out);
  ASSERT_EQ(live.size(), 1u);
  auto second = run_command(cmd);
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(file_exists(live[0])) << "the second run deleted the first run's live temporary " << live[0];
  first.signal(SIGCONT);
  auto r = first.wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(snapshot(out), c.expected);
  EXPECT_EQ(count_temps(out), 0u);
}

// SIGTERM and SIGINT mid-run: exit 128 + signal, the summary says it was
// interrupted, no temporaries and no output at a final name that is not complete remain (a file's
// partial and checkpoint may, for the rerun), and the rerun
// gives the tree of an uninterrupted run.
TEST(SpExtractTool, SignalsStopCleanlyAndTheRerunMatches) {
  Corpus c(6, 20000);
  for (int sig : {SIGTERM, SIGINT}) {
    const std::string out = c.dir / ("out" + std::to_string(sig));
    const std::string cmd = env_cmd("", "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " +
                                                          shell_quote(out) + " --threads 1 --progress none");
    bool mid_run = false;
    auto r = test::interrupt_while_working(cmd, out, sig, [&] { return snapshot(out).size() < c.expected.size(); },
                                           &mid_run);
    ASSERT_TRUE(mid_run) << "the run was over before the signal; test is void";
    EXPECT_EQ(r.exit_code, 128 + sig) << r.err;
    EXPECT_NE(r.err.find("sp_extract: interrupted by " + std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT")),
              std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" not finished"), std::string::npos) << "no summary marked interrupted: " << r.err;
    EXPECT_EQ(count_temps(out), 0u);
    auto partial = snapshot(out);
    std::erase_if(partial, [](const auto& f) { return is_part_or_checkpoint_name(f.first); });  // kept for the rerun
    EXPECT_LT(partial.size(), c.expected.size());
    for (const auto& [rel, bytes] : partial)
      EXPECT_TRUE(c.expected.count(rel) && bytes == c.expected.at(rel)) << rel << " is not a complete output";
    r = run_command(cmd);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(snapshot(out) == c.expected);
    run_command("rm -rf " + shell_quote(out));
  }
}

TEST(SpExtractTool, DanglingSymlinksAreReported) {
  Corpus c(2);
  ASSERT_EQ(::symlink((c.dir / "gone.jsonl.zst").c_str(), (c.in() + "/chunk1/lost.jsonl.zst").c_str()), 0);
  auto r = run_command(env_cmd("", "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " +
                                                     shell_quote(c.dir / "out") + " --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("sp_extract: warning: skipping dangling symlink '" + c.in() + "/chunk1/lost.jsonl.zst'"),
            std::string::npos) << r.err;
  EXPECT_EQ(snapshot(c.dir / "out"), c.expected);
}

// ---- resuming inside a file (checkpoints) ----

// Three files of about 8 MB (several 2 MiB writes, so several checkpoints at 64K each).
struct ResumeCase {
  Corpus c{3, 20000};
  std::string out = c.dir / "out";
  std::string ref = c.dir / "ref";
  std::map<std::string, std::string> ref_records;
  explicit ResumeCase(const std::string& flags = "") {
    auto r = run_command(env_cmd("", "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " +
                                                       shell_quote(ref) + " --checkpoint-every 0 --quiet " + flags));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    ref_records = test::recorded_outputs(ref);
  }
  std::string cmd(const std::string& flags = "", const std::string& env = "") const {
    return env_cmd(env, "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " + shell_quote(out) +
                                         " --threads 1 --progress none --checkpoint-every 64K " + flags);
  }
  // The rerun's tree and records are an uninterrupted run's, with nothing partial left.
  void expect_finished_like_the_reference(const std::string& err) const {
    EXPECT_TRUE(snapshot(out) == c.expected) << err;
    EXPECT_EQ(test::recorded_outputs(out), ref_records);
    EXPECT_EQ(partials_under(out), std::vector<std::string>{});
    EXPECT_EQ(count_temps(out), 0u);
  }
};

TEST(SpExtractTool, KilledAfterACheckpointResumesThereWithTheSameBytes) {
  ResumeCase rc;
  std::mt19937 rng(7);
  for (int hit : {1, 2, 5, 1 + static_cast<int>(rng() % 10)}) {
    SCOPED_TRACE("killed after checkpoint " + std::to_string(hit));
    run_command("rm -rf " + shell_quote(rc.out));
    auto r = run_command("SP_FAILPOINT=checkpoint.after_write:" + std::to_string(hit) + " " + rc.cmd());
    ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
    ASSERT_EQ(partials_under(rc.out).size(), 2u) << "a partial and its checkpoint";
    const CompletionRecord cp = read_record(rc.out + "/" + partials_under(rc.out)[0]);
    const uint64_t kept = std::stoull(cp.checkpoint_value("output_bytes"));
    EXPECT_GT(kept, 0u);
    r = run_command(rc.cmd());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("from its checkpoint at " + cli::format_size(kept)), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("decompressing the source from its start"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("| 1 resumed from checkpoints (" + cli::format_size(kept) + " of output kept)"),
              std::string::npos) << r.err;
    rc.expect_finished_like_the_reference(r.err);
  }
}

// A source of several frames, past one checksum leaf (16 MiB): the rerun
// skips the kept length (whole frames by their headers), continues the
// checksum from the checkpoint's leaves, and ends with the reference record.
TEST(SpExtractTool, ResumeSkipsWholeFramesAndContinuesTheChecksum) {
  TempDir d;
  const std::string a = jsonl(25000, 1), b = jsonl(25000, 2), c = jsonl(25000, 3);
  make_dirs(d / "in");
  write_file(d / "in/big.jsonl.zst", compress(a) + compress(b) + compress(c));
  ASSERT_GT((a + b).size(), kChecksumLeafBytes);  // the kept 20 MiB: two whole frames and a part of the third
  ASSERT_LT((a + b).size(), uint64_t{20} << 20);
  ASSERT_GT((a + b + c).size(), uint64_t{22} << 20);
  auto cmd = [&](const std::string& out, const std::string& flags) {
    return env_cmd("", "sp_extract", "--input-dir " + shell_quote(d / "in") + " --output-dir " + shell_quote(d / out) +
                                         " --threads 1 --progress none " + flags);
  };
  auto r = run_command(cmd("ref", "--checkpoint-every 0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Checkpoints every 2 MiB write: the 10th keeps 20 MiB, inside the third frame.
  r = run_command("SP_FAILPOINT=checkpoint.after_write:10 " + cmd("out", "--checkpoint-every 1M"));
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  const CompletionRecord cp = read_record(checkpoint_path_for(d / "out/big.jsonl"));
  EXPECT_EQ(cp.checkpoint_value("output_bytes"), std::to_string(uint64_t{20} << 20));
  EXPECT_EQ(cp.checkpoint_value("checksum_leaves").size(), 16u) << "one whole leaf";
  r = run_command(cmd("out", "--checkpoint-every 1M"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming " + d / "out/big.jsonl" + " from its checkpoint at 20.0 MiB\n"), std::string::npos)
      << r.err;
  EXPECT_EQ(read_file(d / "out/big.jsonl"), a + b + c);
  EXPECT_EQ(test::recorded_outputs(d / "out"), test::recorded_outputs(d / "ref"));
}

// kill -9 at arbitrary moments after the first checkpoint (the partial may
// then hold bytes past it), with validation on: the rerun still counts and
// checks every line.
TEST(SpExtractTool, KilledAtRandomMomentsAfterACheckpointResumes) {
  ResumeCase rc("--validate");
  std::mt19937 rng(11);
  int resumed = 0;
  for (int trial = 0; trial < 4; ++trial) {
    run_command("rm -rf " + shell_quote(rc.out));
    test::BackgroundCommand run(rc.cmd("--validate"));
    ASSERT_TRUE(test::wait_until([&] { return partials_under(rc.out).size() >= 2; }, 60));
    ::usleep(static_cast<useconds_t>(rng() % 40000));
    run.signal(SIGKILL);
    run.wait();
    auto r = run_command(rc.cmd("--validate"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const bool resumed_here = r.err.find("resumed from checkpoints") != std::string::npos;
    resumed += resumed_here;
    EXPECT_NE(r.err.find(" lines validated"), std::string::npos) << r.err;
    if (resumed_here)  // every line is validated again
      EXPECT_NE(r.err.find("decompressing the source from its start"), std::string::npos) << r.err;
    rc.expect_finished_like_the_reference(r.err);
  }
  EXPECT_GT(resumed, 0) << "no rerun resumed from a checkpoint";
}

// SIGTERM: the file being written is checkpointed where it stands, the run
// ends with 143, and the rerun continues it.
TEST(SpExtractTool, SigtermCheckpointsAndTheRerunResumes) {
  ResumeCase rc;
  // Slow checkpoints (50 ms each) keep the run going long enough to be caught mid-file.
  test::BackgroundCommand run(rc.cmd("", "SP_FAILPOINT=checkpoint.after_write:sleep=50"));
  ASSERT_TRUE(test::wait_until([&] { return partials_under(rc.out).size() >= 2; }, 60));
  run.signal(SIGTERM);
  auto r = run.wait();
  ASSERT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  ASSERT_EQ(partials_under(rc.out).size(), 2u) << r.err;
  // The checkpoint vouches for everything the stopped run wrote.
  const std::string partial = rc.out + "/" + partials_under(rc.out)[1];
  const std::string output = partial.substr(0, partial.size() - std::string_view(".sp-part").size());
  EXPECT_EQ(std::to_string(file_size(partial)),
            read_record(checkpoint_path_for(output)).checkpoint_value("output_bytes"));
  r = run_command(rc.cmd());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("| 1 resumed from checkpoints"), std::string::npos) << r.err;
  rc.expect_finished_like_the_reference(r.err);
}

// A checkpoint of another source (changed since), or with --overwrite, is not resumed.
TEST(SpExtractTool, CheckpointOfAChangedSourceOrUnderOverwriteIsDiscarded) {
  ResumeCase rc;
  auto r = run_command("SP_FAILPOINT=checkpoint.after_write:1 " + rc.cmd());
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  r = run_command(rc.cmd("--overwrite"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("resum"), std::string::npos) << r.err;
  rc.expect_finished_like_the_reference(r.err);

  run_command("rm -rf " + shell_quote(rc.out));
  r = run_command("SP_FAILPOINT=checkpoint.after_write:1 " + rc.cmd());
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  const std::string partial = partials_under(rc.out)[1];  // sorted: the .sp-checkpoint, then the .sp-part
  ASSERT_TRUE(ends_with(partial, ".sp-part"));
  const std::string rel = partial.substr(0, partial.size() - std::string_view(".sp-part").size());
  const std::string changed = jsonl(20000, 4242);
  write_file(rc.c.in() + "/" + rel + ".zst", compress(changed));
  r = run_command(rc.cmd());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("discarding the checkpoint of " + rc.out + "/" + rel + ": its input"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("resumed"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(rc.out + "/" + rel), changed);
  EXPECT_EQ(partials_under(rc.out), std::vector<std::string>{});
}

// --checkpoint-every 0: no partial or checkpoint is ever written (a kill
// leaves only a temporary), and one left by an earlier run is removed.
TEST(SpExtractTool, CheckpointEveryZeroWritesNoCheckpoints) {
  ResumeCase rc;
  auto r = run_command("SP_FAILPOINT=checkpoint.after_write:1 " + rc.cmd());
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  ASSERT_EQ(partials_under(rc.out).size(), 2u);
  r = run_command("SP_FAILPOINT=atomic_file.before_rename:2 " + rc.cmd("--checkpoint-every 0"));
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  EXPECT_EQ(partials_under(rc.out), std::vector<std::string>{});
  EXPECT_EQ(count_temps(rc.out), 1u);
  r = run_command(rc.cmd("--checkpoint-every 0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("resum"), std::string::npos) << r.err;
  rc.expect_finished_like_the_reference(r.err);
}

// Two runs into one directory with checkpoints: the partial the first run is
// writing is locked, so the second writes that file under a temporary of its
// own and does not touch the partial; both finish with the same tree.
TEST(SpExtractTool, ConcurrentRunLeavesTheOtherRunsPartialAlone) {
  ResumeCase rc;
  test::BackgroundCommand first(rc.cmd());
  // Frozen only while it holds a partial: with the partial's checkpoint beside
  // it (written under the lock), not between its open and its lock, nor
  // between its rename and the checkpoint's removal.
  std::vector<std::string> held;
  for (int attempt = 0; attempt < 20 && held.size() != 2; ++attempt) {
    if (attempt) first.signal(SIGCONT);
    ASSERT_TRUE(test::wait_until([&] { return partials_under(rc.out).size() == 2 || !first.running(); }, 60));
    ASSERT_TRUE(first.freeze()) << "the first run finished at once; test is void";
    held = partials_under(rc.out);
  }
  ASSERT_EQ(held.size(), 2u) << "never caught the first run holding a partial; test is void";
  const std::string partial = rc.out + "/" + held.back();  // sorted: the .sp-part last
  ASSERT_TRUE(ends_with(partial, ".sp-part"));
  auto second = run_command(rc.cmd());
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(file_exists(partial)) << "the second run took the first run's partial " << partial;
  first.signal(SIGCONT);
  auto r = first.wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  rc.expect_finished_like_the_reference(r.err);
}

// A run that opened the partial just before another run took its lock,
// finished the file and renamed the partial into place: its lock would guard
// the finished output. It must open the partial afresh, not cut back and
// rewrite the output (which once failed its rename, leaving a checkpoint).
// The fail point holds the first run between its open and its lock.
TEST(SpExtractTool, ARunThatOpenedThePartialBeforeAnotherCommittedItLeavesTheOutputAlone) {
  Corpus c(1, 20000);
  const std::string out = c.dir / "out";
  auto cmd = [&](const std::string& env) {
    return env_cmd(env, "sp_extract", "--input-dir " + shell_quote(c.in()) + " --output-dir " + shell_quote(out) +
                                          " --threads 1 --progress none --checkpoint-every 64K");
  };
  test::BackgroundCommand first(cmd("SP_FAILPOINT=open_locked.before_lock:sleep=1000"));
  ASSERT_TRUE(test::wait_until([&] { return !partials_under(out).empty() || !first.running(); }, 60));
  ASSERT_TRUE(first.freeze()) << "the first run finished at once; test is void";
  auto second = run_command(cmd(""));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  ASSERT_TRUE(snapshot(out) == c.expected) << second.err;
  first.signal(SIGCONT);
  auto r = first.wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(snapshot(out) == c.expected) << r.err;
  EXPECT_EQ(partials_under(out), std::vector<std::string>{});
  EXPECT_EQ(count_temps(out), 0u);
  r = run_command(cmd(""));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 kept (complete)"), std::string::npos) << r.err;
}

TEST(SpExtractTool, UsageErrors) {
  auto r = run_command(env_cmd("", "sp_extract", "--output-dir /tmp/x"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--input-dir is required"), std::string::npos) << r.err;
  r = run_command(env_cmd("", "sp_extract", "--input-dir /nonexistent/dir/for/sp_extract"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/dir/for/sp_extract"), std::string::npos) << r.err;
  r = run_command(env_cmd("", "sp_extract", "--help"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--remove-source"), std::string::npos);
  EXPECT_NE(r.out.find("--checkpoint-every SIZE"), std::string::npos);
}

}  // namespace
}  // namespace sp
