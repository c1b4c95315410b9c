// scripts/bcp/submit.sh: the BCP job template of each stage names the right
// tool, array type and rank layout, and its command line survives the shell
// it is pasted into (the job, not the submitting shell, reads the token).
#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace sp {
namespace {

using test::run_command;
using test::shell_quote;

std::string submit(const std::string& args) {
  return "bash " + shell_quote(std::string(SP_SOURCE_DIR) + "/scripts/bcp/submit.sh") + " " + args;
}

TEST(BcpSubmit, EveryStageNamesItsToolArrayTypeAndRanks) {
  struct Stage {
    const char* name;
    const char* array;
    const char* layout;
    const char* tool;
  };
  for (const Stage& s : {Stage{"download", "MPI", "bcprun --nnodes 2 --npernode 48", "sp_download"},
                         Stage{"extract", "MPI", "bcprun --nnodes 2 --npernode 48", "sp_extract"},
                         Stage{"concat", "MPI", "bcprun --nnodes 1 --npernode 16", "sp_concat"},
                         Stage{"tokenize", "MPI", "bcprun --nnodes 4 --npernode 8", "sp_tokenize"},
                         Stage{"tokenize-pytorch", "PYTORCH", "bcprun --nnodes 4 --npernode 8", "sp_tokenize"},
                         Stage{"fused", "MPI", "bcprun --nnodes 4 --npernode 8", "sp_tokenize"},
                         Stage{"verify", "MPI", "bcprun --nnodes 1 --npernode 1", "sp_inspect"},
                         Stage{"all", "MPI", "mpirun --allow-run-as-root -np 32 --npernode 8", "slimpajama.sh"}}) {
    const auto r = run_command(submit(s.name));
    ASSERT_EQ(r.exit_code, 0) << s.name << ": " << r.err;
    EXPECT_EQ(r.out.rfind("ngc base-command job run \\\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("--array-type \"" + std::string(s.array) + "\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(s.layout), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(s.tool), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--name \"slimpajama-" + std::string(s.name) + "\""), std::string::npos) << r.out;
  }
}

// The printed command, run through a shell as a user would paste it, hands
// ngc the $(cat ...) unexpanded: the token is read inside the job.
TEST(BcpSubmit, PrintedCommandKeepsTheTokenForTheJob) {
  const auto r = run_command(submit("download"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Replace the command by printf: what ngc would receive, one argument per line.
  std::string cmd = r.out;
  cmd.replace(0, std::string("ngc base-command job run").size(), "printf '%s\\n'");
  const auto args = run_command(cmd);
  ASSERT_EQ(args.exit_code, 0) << args.err;
  EXPECT_NE(args.out.find("HF_TOKEN=$(cat /workspace/secrets/hf_token) "), std::string::npos) << args.out;
  EXPECT_NE(args.out.find("--max-requests-per-second 10"), std::string::npos) << args.out;
}

// The fused stage tokenizes the downloaded shards directly, chunked as the concat stage would.
TEST(BcpSubmit, FusedStageReadsTheShardsWithTheChunkSize) {
  const auto r = run_command("CHUNK_SIZE=20G " + submit("fused"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sp_tokenize --input-dir /workspace/slimpajama/download --output-dir "
                       "/workspace/slimpajama/tokenized --chunk-size 20G --append-eod"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("chunks"), std::string::npos) << "no intermediate chunks:\n" << r.out;
  const auto help = run_command(submit("--help"));
  EXPECT_NE(help.out.find("fused "), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("Every stage keeps what is complete"), std::string::npos) << "the whole usage:\n" << help.out;
}

TEST(BcpSubmit, OverridesAndErrors) {
  auto r = run_command("REPLICAS=3 NPERNODE=4 IMAGE=nvcr.io/x/sp:1 " + submit("tokenize"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--replicas \"3\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bcprun --nnodes 3 --npernode 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--image \"nvcr.io/x/sp:1\""), std::string::npos) << r.out;
  r = run_command(submit("nonsense"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown stage"), std::string::npos) << r.err;
  r = run_command("PATH=/usr/bin:/bin " + submit("tokenize --run"));
  EXPECT_EQ(r.exit_code, 1) << "without the ngc CLI, --run must fail clearly";
  EXPECT_NE(r.err.find("ngc CLI is not installed"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sp
