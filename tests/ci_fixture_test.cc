// CI must not pass with a suite skipped for want of a fixture: with CI=true a
// missing GPT-2 vocabulary fails the tokenizer suites; on a developer's
// machine (CI unset) they are skipped with a message.
#include <gtest/gtest.h>

#include "test_support.h"

namespace sp {
namespace {

// Runs one vocabulary-dependent test binary with no vocabulary reachable.
test::CommandResult run_without_vocab(const std::string& binary, const std::string& ci) {
  test::TempDir home;
  return test::run_command("env " + ci + " SP_GPT2_DIR= HOME=" + test::shell_quote(home.path()) + " " +
                           test::shell_quote(std::string(SP_BIN_DIR) + "/" + binary) +
                           " --gtest_filter='SpTokenize.BatchMode*:Gpt2.Shape'");
}

TEST(CiFixtures, MissingVocabularyFailsUnderCi) {
  for (const char* binary : {"sp_tokenize_test", "bpe_test"}) {
    auto r = run_without_vocab(binary, "CI=true");
    EXPECT_NE(r.exit_code, 0) << binary << "\n" << r.out;
    EXPECT_NE(r.out.find("a missing fixture fails under CI"), std::string::npos) << binary << "\n" << r.out;
  }
}

TEST(CiFixtures, MissingVocabularySkipsOutsideCi) {
  auto r = run_without_vocab("sp_tokenize_test", "-u CI");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("SKIPPED"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sp
