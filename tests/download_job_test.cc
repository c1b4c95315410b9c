// run_download_job called directly (no argv): a manifest of two files against the loopback test server.
#include "sp/download_job.h"

#include <gtest/gtest.h>

#include "sp/fs.h"
#include "sp/sha256.h"
#include "test_support.h"

namespace sp {
namespace {

using test::read_file;
using test::TempDir;
using test::TestServer;
using test::write_file;

TEST(DownloadJob, ManifestOfTwoFilesIsFetchedAndReported) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  make_dirs(root);
  const std::string a(70000, 'a'), b = "{\"text\":\"b\"}\n";
  write_file(root + "/a.bin", a);
  write_file(root + "/b.jsonl", b);
  TestServer server(root, d.path());
  DownloadJobOptions o;
  o.manifest = parse_manifest(server.url("ok", "a.bin") + "\t" + sha256_hex(a) + "\t70000\n" +
                                  server.url("ok", "b.jsonl") + "\t-\t-\n",
                              "m.tsv");
  o.download.output_dir = out;
  o.report = d / "report.json";
  o.quiet = true;
  o.progress.mode = ProgressMode::kOff;
  EXPECT_EQ(run_download_job(o), 0);
  EXPECT_TRUE(read_file(out + "/a.bin") == a);
  EXPECT_EQ(read_file(out + "/b.jsonl"), b);
  const std::string report = read_file(d / "report.json");
  EXPECT_NE(report.find("\"files_total\": 2"), std::string::npos) << report;
  EXPECT_EQ(server.requests().size(), 2u);
  // A rerun finds both files complete and asks the server nothing.
  EXPECT_EQ(run_download_job(o), 0);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(DownloadJob, MissingFileFailsTheJob) {
  TempDir d;
  const std::string root = d / "root";
  make_dirs(root);
  TestServer server(root, d.path());
  DownloadJobOptions o;
  o.manifest = parse_manifest(server.url("ok", "absent.bin") + "\t-\t-\n", "m.tsv");
  o.download.output_dir = d / "out";
  o.download.retries = 0;
  o.quiet = true;
  o.progress.mode = ProgressMode::kOff;
  EXPECT_EQ(run_download_job(o), 1);
  EXPECT_FALSE(path_exists(d / "out/absent.bin"));
}

TEST(DownloadJob, DryRunFetchesNothing) {
  TempDir d;
  const std::string root = d / "root";
  make_dirs(root);
  write_file(root + "/a.bin", "x");
  TestServer server(root, d.path());
  DownloadJobOptions o;
  o.manifest = parse_manifest(server.url("ok", "a.bin") + "\t-\t1\n", "m.tsv");
  o.download.output_dir = d / "out";
  o.dry_run = true;
  EXPECT_EQ(run_download_job(o), 0);
  EXPECT_FALSE(path_exists(d / "out/a.bin"));
  EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace sp
