// Partial outputs and their checkpoints: what a rerun may keep, and that
// nothing partial reaches a final name.
#include "sp/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "sp/error.h"
#include "sp/fs.h"
#include "sp/record.h"
#include "test_support.h"

namespace sp {
namespace {

using test::file_exists;
using test::read_file;
using test::TempDir;
using test::write_file;

struct Fixture {
  TempDir dir;
  std::string in = dir / "in.zst", out = dir / "out.jsonl";
  Fixture() { write_file(in, "source bytes"); }
  CompletionRecord expected(const std::string& option = "a") const {
    CompletionRecord r;
    r.path = record_path_for(out);
    r.tool = "sp_test";
    r.options = {{"option", option}};
    r.inputs = {identify_input(in)};
    r.outputs = {FileIdentity{out}};
    return r;
  }
};

void append(const PartialOutput& p, const std::string& bytes) {
  pwrite_all(p.fd(), bytes.data(), bytes.size(), p.size(), p.path());
}

TEST(PartialOutput, NamesAreNotTemporariesOrRecords) {
  EXPECT_EQ(part_path_for("d/x.jsonl"), "d/x.jsonl.sp-part");
  EXPECT_EQ(checkpoint_path_for("d/x.jsonl"), "d/x.jsonl.sp-checkpoint");
  EXPECT_TRUE(is_part_or_checkpoint_name("x.jsonl.sp-part"));
  EXPECT_TRUE(is_part_or_checkpoint_name("x.jsonl.sp-checkpoint"));
  EXPECT_FALSE(is_part_or_checkpoint_name("x.jsonl"));
  EXPECT_FALSE(is_record_name("x.jsonl.sp-checkpoint"));
}

TEST(PartialOutput, CheckpointIsResumedOnlyWhenItMatches) {
  Fixture f;
  {
    auto p = PartialOutput::open(f.out);
    ASSERT_TRUE(p);
    std::string why;
    EXPECT_FALSE(p->find_checkpoint(f.expected(), &why));
    EXPECT_EQ(why, "");  // none there: nothing to discard
    append(*p, "first part|");
    p->checkpoint(f.expected(), 11, {{"output_bytes", "11"}});
    append(*p, "not vouched for");
  }  // closed, as by a kill: the files stay
  ASSERT_TRUE(file_exists(part_path_for(f.out)));
  auto p = PartialOutput::open(f.out);
  ASSERT_TRUE(p);
  std::string why;
  const auto cp = p->find_checkpoint(f.expected(), &why);
  ASSERT_TRUE(cp) << why;
  EXPECT_EQ(cp->outputs.at(0).size, 11u);
  EXPECT_EQ(cp->checkpoint_value("output_bytes"), "11");
  // Other options, or a changed input: discarded, saying why.
  EXPECT_FALSE(p->find_checkpoint(f.expected("b"), &why));
  EXPECT_NE(why.find("discarding the checkpoint of " + f.out + ": it was made with option a, not b"),
            std::string::npos) << why;
  ::usleep(10000);
  write_file(f.in, "other source");
  EXPECT_FALSE(p->find_checkpoint(f.expected(), &why));
  EXPECT_NE(why.find("was modified after it was made"), std::string::npos) << why;
}

TEST(PartialOutput, PartialShorterThanItsCheckpointIsNotResumed) {
  Fixture f;
  {
    auto p = PartialOutput::open(f.out);
    append(*p, "0123456789");
    p->checkpoint(f.expected(), 10, {});
  }
  ASSERT_EQ(::truncate(part_path_for(f.out).c_str(), 4), 0);  // lost in a machine crash without sync
  auto p = PartialOutput::open(f.out);
  std::string why;
  EXPECT_FALSE(p->find_checkpoint(f.expected(), &why));
  EXPECT_NE(why.find("4 bytes, shorter than the 10 it vouches for"), std::string::npos) << why;
  p->restart();
  EXPECT_EQ(p->size(), 0u);
  EXPECT_FALSE(file_exists(checkpoint_path_for(f.out)));
}

TEST(PartialOutput, OneWriterAtATime) {
  Fixture f;
  auto first = PartialOutput::open(f.out);
  ASSERT_TRUE(first);
  append(*first, "busy");
  first->checkpoint(f.expected(), 4, {});
  EXPECT_FALSE(PartialOutput::open(f.out)) << "a second writer got the partial";
  remove_partial(f.out);  // held: left alone
  EXPECT_TRUE(file_exists(part_path_for(f.out)));
  EXPECT_TRUE(file_exists(checkpoint_path_for(f.out)));
  first.reset();
  remove_partial(f.out);
  EXPECT_FALSE(file_exists(part_path_for(f.out)));
  EXPECT_FALSE(file_exists(checkpoint_path_for(f.out)));
}

TEST(PartialOutput, CommitRenamesIntoPlaceAndDropsTheCheckpoint) {
  Fixture f;
  auto p = PartialOutput::open(f.out);
  append(*p, "whole output\n");
  p->checkpoint(f.expected(), 6, {});
  EXPECT_FALSE(file_exists(f.out)) << "nothing at the final name before commit";
  p->commit();
  EXPECT_EQ(read_file(f.out), "whole output\n");
  EXPECT_FALSE(file_exists(part_path_for(f.out)));
  EXPECT_FALSE(file_exists(checkpoint_path_for(f.out)));
}

TEST(PartialOutput, DiscardRemovesBoth) {
  Fixture f;
  auto p = PartialOutput::open(f.out);
  append(*p, "bad");
  p->checkpoint(f.expected(), 3, {});
  p->discard();
  EXPECT_FALSE(file_exists(part_path_for(f.out)));
  EXPECT_FALSE(file_exists(checkpoint_path_for(f.out)));
}

}  // namespace
}  // namespace sp
