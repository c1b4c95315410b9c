// End-to-end runs of the sp_merge executable: the merged bytes against the
// independent reference (merge_reference.h), exit codes, and kill -9 (fail
// points, sp/failpoint.h) at a part and between the renames, then a rerun that
// keeps the verified parts, redoes a damaged one and leaves nothing behind.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "merge_reference.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "sp/merge.h"
#include "sp/record.h"
#include "test_support.h"

namespace sp {
namespace {

using test::CommandResult;
using test::peak_rss_kib;
using test::random_documents;
using test::read_file;
using test::reference_merge;
using test::run_command;
using test::shell_quote;
using test::TempDir;
using test::write_dataset;
using test::write_file;

class SpMerge : public ::testing::Test {
 protected:
  void SetUp() override {
    write_dataset(dir / "a", TokenDtype::kUint16, random_documents(40, 60000, 1));
    write_dataset(dir / "b", TokenDtype::kUint16, random_documents(60, 60000, 2));
    write_dataset(dir / "c", TokenDtype::kUint16, random_documents(30, 60000, 3));
  }
  // `env` goes before the command ("SP_FAILPOINT=..."), `args` after the tool.
  CommandResult merge(const std::string& args, const std::string& env = "") {
    return run_command(env + (env.empty() ? "" : " ") + shell_quote(test::tool_path("sp_merge")) +
                       " --progress none " + args);
  }
  void expect_merged(const std::string& out, const std::vector<std::string>& prefixes) {
    const test::MergedBytes want = reference_merge(prefixes);
    EXPECT_TRUE(read_file(idx_path(out)) == want.idx) << "the .idx differs from the reference";
    EXPECT_TRUE(read_file(bin_path(out)) == want.bin) << "the .bin differs from the reference";
    EXPECT_EQ(check_completion(read_record(record_path_for(out)), VerifyDepth::kFull).state, Completion::kComplete);
  }
  std::string abc() const { return shell_quote(dir / "a") + " " + shell_quote(dir / "b") + " " + shell_quote(dir / "c"); }
  TempDir dir;
};

TEST_F(SpMerge, MergesPositionalInputsAndDirectoriesInOrder) {
  const CommandResult r = merge("--output-prefix " + shell_quote(dir / "out") + " " + abc());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_merged(dir / "out", {dir / "a", dir / "b", dir / "c"});
  EXPECT_NE(r.err.find("3 inputs -> "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("uint16 (code 8)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("have no completion record"), std::string::npos) << r.err;  // the note on vocabularies

  // Megatron's form: --input DIR, its datasets in byte-wise order of prefix.
  make_dirs(dir / "in");
  write_dataset(dir / "in/z", TokenDtype::kUint16, random_documents(5, 100, 4));
  write_dataset(dir / "in/Y", TokenDtype::kUint16, random_documents(6, 100, 5));
  const CommandResult m = merge("--output-prefix " + shell_quote(dir / "out2") + " --input " + shell_quote(dir / "in") +
                                " " + shell_quote(dir / "out"));
  ASSERT_EQ(m.exit_code, 0) << m.err;
  expect_merged(dir / "out2", {dir / "in/Y", dir / "in/z", dir / "out"});

  // A rerun keeps the complete output.
  const CommandResult again = merge("--output-prefix " + shell_quote(dir / "out") + " " + abc());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("nothing to do"), std::string::npos) << again.err;
}

TEST_F(SpMerge, ExitCodes) {
  EXPECT_EQ(merge("").exit_code, 2);
  EXPECT_EQ(merge(abc()).exit_code, 2);  // no --output-prefix
  EXPECT_EQ(merge("--output-prefix " + shell_quote(dir / "o")).exit_code, 2);  // no inputs
  EXPECT_EQ(merge("--output-prefix " + shell_quote(dir / "o") + " --part-size 0 " + abc()).exit_code, 2);
  const CommandResult same = merge("--output-prefix " + shell_quote(dir / "b") + " " + abc());
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.err.find("is also an input"), std::string::npos) << same.err;
  const CommandResult missing = merge("--output-prefix " + shell_quote(dir / "o") + " " + shell_quote(dir / "nope"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no dataset at"), std::string::npos) << missing.err;
  write_dataset(dir / "wide", TokenDtype::kInt32, random_documents(3, 100000, 6));
  const CommandResult mixed = merge("--output-prefix " + shell_quote(dir / "o") + " " + abc() + " " +
                                    shell_quote(dir / "wide"));
  EXPECT_EQ(mixed.exit_code, 1);
  EXPECT_NE(mixed.err.find("sp_merge: error: cannot merge datasets of different token dtypes"), std::string::npos)
      << mixed.err;
  EXPECT_FALSE(path_exists(bin_path(dir / "o")));
  const CommandResult help = merge("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("sp-merge-journal"), std::string::npos) << help.out;
}

// The part lines of a journal.
size_t journal_parts(const std::string& out) {
  const std::string j = read_file(merge_journal_path(out));
  size_t n = 0;
  for (size_t at = j.find("\npart "); at != std::string::npos; at = j.find("\npart ", at + 1)) ++n;
  return n;
}

TEST_F(SpMerge, KilledAtAPartKeepsTheOldOutputAndResumesVerifiedParts) {
  // An older output at the same prefix, from other inputs: untouched until the new one is complete.
  ASSERT_EQ(merge("--output-prefix " + shell_quote(dir / "out") + " " + shell_quote(dir / "c")).exit_code, 0);
  const std::string old_bin = read_file(bin_path(dir / "out")), old_idx = read_file(idx_path(dir / "out"));
  const std::string args = "--threads 1 --part-size 64 --output-prefix " + shell_quote(dir / "out") + " " + abc();
  const CommandResult killed = merge(args, "SP_FAILPOINT=merge.after_part:5");
  ASSERT_EQ(killed.exit_code, 128 + 9) << killed.err;
  EXPECT_EQ(read_file(bin_path(dir / "out")), old_bin);
  EXPECT_EQ(read_file(idx_path(dir / "out")), old_idx);
  EXPECT_EQ(check_completion(read_record(record_path_for(dir / "out")), VerifyDepth::kFull).state,
            Completion::kComplete);  // the old output is still vouched for: it is still what its record says
  EXPECT_EQ(journal_parts(dir / "out"), 5u);

  const CommandResult resumed = merge(args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find(", 5 resumed (verified), 0 redone"), std::string::npos) << resumed.err;
  expect_merged(dir / "out", {dir / "a", dir / "b", dir / "c"});
  EXPECT_EQ(test::list_dir(dir.path()),
            (std::vector<std::string>{"a.bin", "a.idx", "b.bin", "b.idx", "c.bin", "c.idx", "out.bin", "out.idx",
                                      "out.sp-record"}));
}

TEST_F(SpMerge, APartThatNoLongerMatchesItsChecksumIsRedone) {
  const std::string args = "--threads 1 --part-size 64 --output-prefix " + shell_quote(dir / "out") + " " + abc();
  ASSERT_EQ(merge(args, "SP_FAILPOINT=merge.after_part:3").exit_code, 128 + 9);
  // Part 0 is the first 64 bytes of a.bin; with one thread it is among the first done.
  ASSERT_NE(read_file(merge_journal_path(dir / "out")).find("\npart 0 "), std::string::npos);
  const std::string part = merge_part_path(bin_path(dir / "out"));
  std::string bytes = read_file(part);
  bytes[10] = static_cast<char>(bytes[10] ^ 0x5a);
  write_file(part, bytes);
  const CommandResult r = merge(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(", 2 resumed (verified), 1 redone"), std::string::npos) << r.err;
  expect_merged(dir / "out", {dir / "a", dir / "b", dir / "c"});
}

TEST_F(SpMerge, KilledBetweenTheRenamesThenRerun) {
  const std::string args = "--part-size 100 --output-prefix " + shell_quote(dir / "out") + " " + abc();
  ASSERT_EQ(merge(args, "SP_FAILPOINT=merge.between_bin_and_idx_rename").exit_code, 128 + 9);
  EXPECT_FALSE(path_exists(idx_path(dir / "out")));  // no .idx ever describes a .bin it was not made with
  EXPECT_FALSE(path_exists(record_path_for(dir / "out")));
  const CommandResult r = merge(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_merged(dir / "out", {dir / "a", dir / "b", dir / "c"});
  EXPECT_FALSE(path_exists(merge_journal_path(dir / "out")));
}

TEST_F(SpMerge, ChangedInputStartsAfresh) {
  const std::string args = "--threads 1 --part-size 64 --output-prefix " + shell_quote(dir / "out") + " " + abc();
  ASSERT_EQ(merge(args, "SP_FAILPOINT=merge.after_part:4").exit_code, 128 + 9);
  write_dataset(dir / "a", TokenDtype::kUint16, random_documents(41, 60000, 7));
  const CommandResult r = merge(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(", 0 resumed (verified), 0 redone"), std::string::npos) << r.err;
  expect_merged(dir / "out", {dir / "a", dir / "b", dir / "c"});
}

// A uint16 dataset of n one-token documents (token i mod 65536), written directly.
void write_many_sequences(const std::string& prefix, uint64_t n) {
  std::ofstream idx(idx_path(prefix), std::ios::binary), bin(bin_path(prefix), std::ios::binary);
  const auto put = [&idx](const auto v) { idx.write(reinterpret_cast<const char*>(&v), sizeof v); };
  idx.write("MMIDIDX\0\0", 9);
  put(uint64_t{1});
  put(uint8_t{8});
  put(n);
  put(n + 1);
  for (uint64_t i = 0; i < n; ++i) put(int32_t{1});
  for (uint64_t i = 0; i < n; ++i) put(static_cast<int64_t>(2 * i));
  for (uint64_t i = 0; i <= n; ++i) put(static_cast<int64_t>(i));
  for (uint64_t i = 0; i < n; ++i) {
    const auto t = static_cast<uint16_t>(i);
    bin.write(reinterpret_cast<const char*>(&t), 2);
  }
}


TEST_F(SpMerge, PeakMemoryDoesNotGrowWithSequenceCount) {
  // Index arrays held in memory would take 20 bytes per sequence: 200 MB more for the large merge.
  write_many_sequences(dir / "s1", 1000000);
  write_many_sequences(dir / "s2", 1000000);
  write_many_sequences(dir / "l1", 6000000);
  write_many_sequences(dir / "l2", 6000000);
  const auto cmd = [&](const std::string& a, const std::string& b, const std::string& out) {
    return shell_quote(test::tool_path("sp_merge")) + " --quiet --no-sync --threads 2 --output-prefix " +
           shell_quote(dir / out) + " " + shell_quote(dir / a) + " " + shell_quote(dir / b);
  };
  const long small = peak_rss_kib(cmd("s1", "s2", "small"));
  const long large = peak_rss_kib(cmd("l1", "l2", "large"));
  const IndexHeader h = read_index_header(dir / "large");
  EXPECT_EQ(h.sequences, 12000000u);
  EXPECT_EQ(h.document_indices, 12000001u);
  // Spot checks of the large merge (the reference tests cover the bytes): the second input's first sequence.
  const MappedIndexedDataset m(dir / "large");
  EXPECT_EQ(m.sequence_pointer(6000000), 12000000);
  EXPECT_EQ(m.document_index(6000001), 6000001);
  EXPECT_EQ(m.token_at(static_cast<uint64_t>(m.sequence_pointer(6000000 + 70000))), 70000 % 65536);
  EXPECT_LT(large, small + 16 * 1024) << "peak RSS grew from " << small << " KiB to " << large << " KiB";
}

}  // namespace
}  // namespace sp
