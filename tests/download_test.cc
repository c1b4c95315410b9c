// sp_download end to end against tests/download_test_server.py, a loopback
// server that misbehaves on purpose (429, 5xx, resets, short bodies, stalls,
// redirects to another host, ignored Range, corrupt bytes, 404), plus unit
// tests of the pieces (backoff, Retry-After, origins).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sp/download.h"
#include "sp/record.h"
#include "sp/sha256.h"
#include "test_support.h"

using namespace sp::test;

namespace {

// Deterministic, incompressible-looking bytes of a given size.
std::string make_bytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    s[i] = static_cast<char>(x >> 56);
  }
  return s;
}

std::string dl(const std::string& args) { return shell_quote(tool_path("sp_download")) + " " + args; }

// The names in dir, completion records aside; each downloaded file must
// have its record.
std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> s;
  for (const auto& n : list_dir(dir))
    if (!sp::is_record_name(n)) s.insert(n);
  for (const auto& n : s)
    if (n.find(".part") == std::string::npos) {
      EXPECT_TRUE(file_exists(sp::record_path_for(dir + "/" + n))) << n;
    }
  return s;
}

}  // namespace

TEST(DownloadUnits, BackoffGrowsAndIsCapped) {
  EXPECT_DOUBLE_EQ(sp::backoff_delay(1, 1.0, 100, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(sp::backoff_delay(3, 1.0, 100, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(sp::backoff_delay(3, 1.0, 100, 0.0), 2.0);  // jitter floor: half
  EXPECT_DOUBLE_EQ(sp::backoff_delay(30, 1.0, 60, 1.0), 60.0);
}

TEST(DownloadUnits, ServerRetryWait) {
  EXPECT_DOUBLE_EQ(sp::server_retry_wait("7", "", 0), 7.0);
  EXPECT_DOUBLE_EQ(sp::server_retry_wait("", "\"api\";r=0;t=42", 0), 42.0);
  EXPECT_DOUBLE_EQ(sp::server_retry_wait("", "limit=100, remaining=0, reset=9", 0), 9.0);
  EXPECT_DOUBLE_EQ(sp::server_retry_wait("", "", 0), -1.0);
  // HTTP-date form: 30 s after "now".
  EXPECT_NEAR(sp::server_retry_wait("Sun, 06 Nov 1994 08:49:37 GMT", "", 784111777.0 - 30), 30.0, 0.5);
}

TEST(DownloadUnits, OriginIncludesSchemeHostAndPort) {
  EXPECT_EQ(sp::url_origin("https://huggingface.co/datasets/x"), "https://huggingface.co:443");
  EXPECT_EQ(sp::url_origin("http://127.0.0.1:8080/a"), "http://127.0.0.1:8080");
  EXPECT_NE(sp::url_origin("http://127.0.0.1:8080/a"), sp::url_origin("http://127.0.0.1:8081/a"));
  EXPECT_NE(sp::url_origin("http://127.0.0.1:8080/a"), sp::url_origin("http://127.0.0.2:8080/a"));
}

// One run against every misbehaviour at once, then reruns.
TEST(SpDownload, MisbehavingServerEndToEnd) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());

  struct Case {
    std::string mode, name;
    size_t size;
    bool with_sha, with_size, should_succeed;
    std::string wrong;  // "sha" | "size": the manifest lies
  };
  std::vector<Case> cases = {
      {"ok", "plain.bin", 300000, true, true, true, ""},
      {"ok", "nohash.bin", 200000, false, false, true, ""},
      {"norange", "norange.bin", 150000, true, false, true, ""},
      {"r429", "r429.bin", 100000, true, true, true, ""},
      {"rl429", "rl429.bin", 100000, false, true, true, ""},
      {"e503", "e503.bin", 100000, true, false, true, ""},
      {"reset", "reset.bin", 400000, true, true, true, ""},
      {"short", "short.bin", 400000, true, false, true, ""},
      {"shortnr", "shortnr.bin", 400000, true, true, true, ""},
      {"stall", "stall.bin", 400000, true, true, true, ""},
      {"redirect", "redir.bin", 120000, true, true, true, ""},
      {"xredirect", "xredir.bin", 120000, true, true, true, ""},
      {"ok", "empty.bin", 0, true, true, true, ""},
      {"missing", "missing.bin", 1000, false, false, false, ""},
      {"corrupt", "corrupt.bin", 50000, true, true, false, ""},
      {"ok", "badsize.bin", 50000, false, true, false, "size"},
  };
  std::string manifest = "# test manifest\n\n";
  std::map<std::string, std::string> expected;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    std::string bytes = make_bytes(c.size, i + 1);
    write_file(root + "/" + c.name, bytes);
    expected[c.name] = bytes;
    std::string sha = c.with_sha ? sp::sha256_hex(bytes) : "-";
    std::string size = c.with_size ? std::to_string(c.size) : "-";
    if (c.wrong == "size") size = std::to_string(c.size + 1);
    // Redirected and cross-host files get an explicit path; the others are named after the URL.
    std::string path = c.mode.find("redirect") != std::string::npos ? "sub/dir/" + c.name : "-";
    manifest += server.url(c.mode, c.name) + "\t" + sha + "\t" + size + "\t" + path + "\n";
  }
  write_file(d / "m.tsv", manifest);

  const std::string flags = " --output-dir " + shell_quote(out) + " --connections 4 --retries 3 --retry-base-delay 0.05"
                            " --max-retry-wait 2 --stall-timeout 1 --progress lines --progress-interval 0.5";
  auto r = run_command("HF_TOKEN=sekrit " + dl("--manifest " + shell_quote(d / "m.tsv") + flags + " --report " +
                                               shell_quote(d / "report.json")));
  EXPECT_EQ(r.exit_code, 1) << r.err;

  auto final_of = [&](const Case& c) {
    return out + "/" + (c.mode.find("redirect") != std::string::npos ? "sub/dir/" : "") + c.name;
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    if (c.should_succeed) {
      ASSERT_TRUE(file_exists(final_of(c))) << r.err;
      EXPECT_TRUE(read_file(final_of(c)) == expected[c.name]) << "content differs";
      EXPECT_FALSE(file_exists(final_of(c) + ".part"));
    } else {
      EXPECT_FALSE(file_exists(final_of(c))) << "a failed file must never appear at its final name";
      EXPECT_NE(r.err.find(server.url(c.mode, c.name)), std::string::npos) << "failure not named:\n" << r.err;
    }
  }
  EXPECT_NE(r.err.find("HTTP 404"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SHA-256 mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("manifest says"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 failed"), std::string::npos) << r.err;

  const std::string report = read_file(d / "report.json");
  EXPECT_NE(report.find("\"failed\": 3"), std::string::npos) << report;
  EXPECT_NE(report.find("\"downloaded\": 13"), std::string::npos) << report;
  EXPECT_NE(report.find("\"error\": \"HTTP 404 Not Found\""), std::string::npos) << report;

  auto reqs = server.requests();
  int missing = 0, corrupt = 0, resumed_reset = 0, resumed_short = 0, resumed_stall = 0, x2 = 0, r429 = 0;
  for (const auto& q : reqs) {
    if (q.server == "127.0.0.2") {
      ++x2;
      EXPECT_EQ(q.auth, "") << "bearer token leaked to another host: " << q.path;
    } else {
      EXPECT_EQ(q.auth, "Bearer sekrit") << q.path;  // same origin, including after a same-host redirect
    }
    missing += q.path == "/missing/missing.bin";
    corrupt += q.path == "/corrupt/corrupt.bin";
    r429 += q.path == "/r429/r429.bin";
    // The resumed requests ask for exactly the half that arrived.
    resumed_reset += q.path == "/reset/reset.bin" && q.range == "bytes=200000-";
    resumed_short += q.path == "/short/short.bin" && q.range == "bytes=200000-";
    resumed_stall += q.path == "/stall/stall.bin" && q.range == "bytes=200000-";
  }
  EXPECT_EQ(missing, 1) << "404 is permanent: no retries";
  EXPECT_EQ(corrupt, 4) << "hash mismatch: first try + 3 retries";
  EXPECT_EQ(r429, 2);
  EXPECT_GE(x2, 1);
  EXPECT_EQ(resumed_reset, 1);
  EXPECT_EQ(resumed_short, 1);
  EXPECT_EQ(resumed_stall, 1);

  // Rerun: finished files are not requested again; only the failures are.
  const size_t before = reqs.size();
  r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + flags + " --retries 0"));
  EXPECT_EQ(r.exit_code, 1);
  reqs = server.requests();
  std::set<std::string> asked;
  for (size_t i = before; i < reqs.size(); ++i) asked.insert(reqs[i].path);
  EXPECT_EQ(asked, (std::set<std::string>{"/missing/missing.bin", "/corrupt/corrupt.bin", "/ok/badsize.bin"}));
  EXPECT_NE(r.err.find("13 already present"), std::string::npos) << r.err;

  // A manifest of the good files only: zero requests, exit 0.
  std::string good;
  std::istringstream in(manifest);
  for (std::string l; std::getline(in, l);)
    if (l.find("missing") == std::string::npos && l.find("corrupt") == std::string::npos && l.find("badsize") == std::string::npos)
      good += l + "\n";
  write_file(d / "good.tsv", good);
  const size_t before2 = server.requests().size();
  r = run_command(dl("--manifest " + shell_quote(d / "good.tsv") + flags));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.requests().size(), before2) << "a rerun over finished files must make no request";
}

// kill -9 in the middle of a transfer: nothing at the final name, and the
// rerun continues from the .part with a Range request.
TEST(SpDownload, KilledRunResumesFromPartial) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  const std::string bytes = make_bytes(6 << 20, 99);  // ~2 s at the slow rate
  write_file(root + "/big.bin", bytes);
  write_file(d / "m.tsv", server.url("slow", "big.bin") + "\t" + sp::sha256_hex(bytes) + "\t" + std::to_string(bytes.size()) + "\n");
  const std::string cmd = dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) + " --quiet");
  ASSERT_EQ(std::system((cmd + " >/dev/null 2>&1 </dev/null & echo $! > " + shell_quote(d / "dl.pid")).c_str()), 0);
  const int pid = std::stoi(read_file(d / "dl.pid"));
  const std::string part = out + "/big.bin.part";
  struct stat st{};
  for (int i = 0; i < 400; ++i) {
    if (::stat(part.c_str(), &st) == 0 && st.st_size > (1 << 20)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(::stat(part.c_str(), &st), 0);
  ASSERT_GT(st.st_size, 0);
  ASSERT_LT(static_cast<size_t>(st.st_size), bytes.size()) << "download finished before the kill; test is void";
  EXPECT_FALSE(file_exists(out + "/big.bin")) << "a partial file reached its final name";

  auto r = run_command(cmd + " --report " + shell_quote(d / "r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/big.bin") == bytes);
  EXPECT_FALSE(file_exists(part));
  auto reqs = server.requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs.back().range.rfind("bytes=", 0), 0u) << "rerun did not resume";
  EXPECT_NE(reqs.back().range, "bytes=0-");
  EXPECT_EQ(read_file(d / "r.json").find("\"resumed_from\": 0,"), std::string::npos);
}

// SIGTERM (a batch system's time limit) in the middle of a transfer: the run
// stops through the shared interrupt mechanism, says so, exits 128 + 15 and
// keeps the .part (not at the final name) for the rerun, which resumes it.
TEST(SpDownload, SigtermStopsCleanlyAndTheRerunResumes) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  const std::string bytes = make_bytes(6 << 20, 7);  // ~2 s at the slow rate
  write_file(root + "/big.bin", bytes);
  write_file(d / "m.tsv", server.url("slow", "big.bin") + "\t" + sp::sha256_hex(bytes) + "\t" +
                              std::to_string(bytes.size()) + "\n");
  const std::string cmd =
      dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) + " --progress none");
  const std::string part = out + "/big.bin.part";
  BackgroundCommand run(cmd);
  struct stat st{};
  ASSERT_TRUE(wait_until([&] { return (::stat(part.c_str(), &st) == 0 && st.st_size > (1 << 20)) || !run.running(); },
                         30));
  run.signal(SIGTERM);
  auto r = run.wait();
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  EXPECT_NE(r.err.find("(interrupted)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sp_download: interrupted by SIGTERM"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(out + "/big.bin")) << "a partial file reached its final name";
  ASSERT_EQ(::stat(part.c_str(), &st), 0);
  EXPECT_LT(static_cast<size_t>(st.st_size), bytes.size());

  r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/big.bin") == bytes);
  EXPECT_NE(server.requests().back().range, "bytes=0-");
  EXPECT_EQ(server.requests().back().range.rfind("bytes=", 0), 0u) << "rerun did not resume";
}

// A .part that is already complete (killed between download and rename) is
// verified and renamed without a request; an existing file with a size that
// contradicts the manifest is replaced.
TEST(SpDownload, CompletePartAndWrongSizedFinal) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root) + " " + shell_quote(out)).c_str()), 0);
  TestServer server(root, d.path());
  const std::string a = make_bytes(70000, 5), b = make_bytes(80000, 6);
  write_file(root + "/a.bin", a);
  write_file(root + "/b.bin", b);
  write_file(out + "/a.bin.part", a);
  write_file(out + "/b.bin", b.substr(0, 1000));  // an old tool's partial at the final name
  write_file(d / "m.tsv", server.url("ok", "a.bin") + "\t" + sp::sha256_hex(a) + "\t70000\n" + server.url("ok", "b.bin") +
                              "\t-\t80000\n");
  auto r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) + " --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/a.bin") == a);
  EXPECT_TRUE(read_file(out + "/b.bin") == b);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/ok/b.bin");
}

// A file at its final name is trusted only through its completion record:
// without one (an aborted wget, an empty file, an older version) and without a
// SHA-256 to prove it, it is downloaded again unless --adopt-existing; a
// recorded file that changed afterwards is downloaded again.
TEST(SpDownload, ExistingFilesNeedARecordOrProof) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root) + " " + shell_quote(out)).c_str()), 0);
  TestServer server(root, d.path());
  const std::string a = make_bytes(70000, 7), b = make_bytes(80000, 8), c = make_bytes(90000, 9);
  write_file(root + "/a.bin", a);
  write_file(root + "/b.bin", b);
  write_file(root + "/c.bin", c);
  write_file(out + "/a.bin", "");                  // empty, no size in the manifest
  write_file(out + "/b.bin", b.substr(0, 500));    // truncated, no size in the manifest
  write_file(out + "/c.bin", c);                   // right, but nothing proves it
  const std::string manifest = server.url("ok", "a.bin") + "\t-\t-\n" + server.url("ok", "b.bin") + "\t-\t-\n" +
                               server.url("ok", "c.bin") + "\t" + sp::sha256_hex(c) + "\t-\n";
  write_file(d / "m.tsv", manifest);
  const std::string cmd = dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out));
  auto r = run_command(cmd + " --progress none");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/a.bin") == a);
  EXPECT_TRUE(read_file(out + "/b.bin") == b);
  EXPECT_TRUE(read_file(out + "/c.bin") == c);
  EXPECT_NE(r.err.find("no completion record"), std::string::npos) << r.err;
  std::set<std::string> fetched;
  for (const auto& q : server.requests()) fetched.insert(q.path);
  EXPECT_EQ(fetched, (std::set<std::string>{"/ok/a.bin", "/ok/b.bin"})) << "c.bin is proven by its SHA-256";
  EXPECT_EQ(files_in(out), (std::set<std::string>{"a.bin", "b.bin", "c.bin"}));

  // A rerun keeps everything without a request.
  const size_t before = server.requests().size();
  r = run_command(cmd + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.requests().size(), before);

  // A recorded file truncated afterwards is fetched again.
  write_file(out + "/a.bin", a.substr(0, 10));
  r = run_command(cmd + " --progress none");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/a.bin") == a);
  EXPECT_EQ(server.requests().size(), before + 1);

  // --adopt-existing keeps an unrecorded file as it is and records it.
  ::unlink(sp::record_path_for(out + "/b.bin").c_str());
  r = run_command(cmd + " --adopt-existing --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.requests().size(), before + 1);
  EXPECT_TRUE(file_exists(sp::record_path_for(out + "/b.bin")));
}

// A run killed between renaming a .part into place and removing its sidecar
// leaves "<final>.part.meta"; the next run, finding the file complete, removes
// it (and makes no request).
TEST(SpDownload, SidecarLeftBesideACompleteFileIsRemoved) {
  TempDir d;
  const std::string out = d / "out";
  const std::string a = make_bytes(5000, 8);
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(out)).c_str()), 0);
  write_file(out + "/a.bin", a);
  write_file(out + "/a.bin.part.meta", "sp_download part-meta 1\netag \"x\"\nsize 5000\nend\n");
  // Port 9 (discard): never contacted, since the file is already there.
  write_file(d / "m.tsv", "http://127.0.0.1:9/ok/a.bin\t" + sp::sha256_hex(a) + "\t5000\n");
  auto r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) + " --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(out), std::set<std::string>{"a.bin"});
}

// Ranks split the manifest: every file fetched once, by exactly one rank.
TEST(SpDownload, RanksSplitWorkWithoutOverlap) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  std::string manifest;
  const int n = 12;
  for (int i = 0; i < n; ++i) {
    std::string name = "f" + std::to_string(i) + ".bin";
    std::string bytes = make_bytes(10000 + 5000 * static_cast<size_t>(i), static_cast<uint64_t>(i) + 50);
    write_file(root + "/" + name, bytes);
    manifest += server.url("ok", name) + "\t-\t" + std::to_string(bytes.size()) + "\n";
  }
  write_file(d / "m.tsv", manifest);
  const std::string args = "--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                           " --quiet --report " + shell_quote(d / "rep-{rank}.json");
  // Both ranks at once, as under bcprun.
  auto r = run_command("env -u OMPI_COMM_WORLD_RANK RANK=0 WORLD_SIZE=2 " + dl(args) + " & env -u OMPI_COMM_WORLD_RANK RANK=1 WORLD_SIZE=2 " +
                       dl(args) + " & wait %1 && wait %2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(out).size(), static_cast<size_t>(n));
  std::map<std::string, int> per_path;
  for (const auto& q : server.requests()) per_path[q.path]++;
  EXPECT_EQ(per_path.size(), static_cast<size_t>(n));
  for (const auto& [p, c] : per_path) EXPECT_EQ(c, 1) << p << " fetched by more than one rank";
  const std::string r0 = read_file(d / "rep-0.json"), r1 = read_file(d / "rep-1.json");
  for (int i = 0; i < n; ++i) {
    const std::string key = "/ok/f" + std::to_string(i) + ".bin\"";
    EXPECT_NE((r0.find(key) != std::string::npos) + (r1.find(key) != std::string::npos), 0 + 0) << key;
    EXPECT_FALSE(r0.find(key) != std::string::npos && r1.find(key) != std::string::npos) << key << " in both shares";
  }
}

TEST(SpDownload, MpirunSplitsWorkWithoutOverlap) {
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "OpenMPI not installed");
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  std::string manifest;
  for (int i = 0; i < 6; ++i) {
    std::string name = "m" + std::to_string(i) + ".bin";
    write_file(root + "/" + name, make_bytes(20000, static_cast<uint64_t>(i) + 7));
    manifest += server.url("ok", name) + "\n";
  }
  write_file(d / "m.tsv", manifest);
  auto r = run_command("mpirun --allow-run-as-root --oversubscribe -np 2 " +
                       dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --progress none --report " + shell_quote(d / "rep-{rank}.json")));
  SP_REQUIRE_FIXTURE(r.exit_code == 0 || r.err.find("rank") != std::string::npos, "mpirun cannot start here: " + r.err);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(out).size(), 6u);
  std::map<std::string, int> per_path;
  for (const auto& q : server.requests()) per_path[q.path]++;
  EXPECT_EQ(per_path.size(), 6u);
  for (const auto& [p, c] : per_path) EXPECT_EQ(c, 1) << p;
  // One summary and one report for the job, from rank 0.
  EXPECT_NE(r.err.find("6 files: 6 downloaded"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("6 files: 6 downloaded"), r.err.rfind("6 files: 6 downloaded")) << r.err;
  EXPECT_EQ(r.err.find("3 files: "), std::string::npos) << "a rank printed a summary of its own:\n" << r.err;
  EXPECT_NE(r.err.find("sp_download: per rank: 0: "), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(d / "rep-0.json") || file_exists(d / "rep-1.json"));
  const std::string report = read_file(d / "rep-all.json");
  EXPECT_NE(report.find("\"world_size\": 2, \"files_total\": 6, \"downloaded\": 6"), std::string::npos) << report;
  EXPECT_NE(report.find("{\"rank\": 0, \"files_total\": "), std::string::npos) << report;
  EXPECT_NE(report.find("{\"rank\": 1, \"files_total\": "), std::string::npos) << report;
  for (int i = 0; i < 6; ++i) {  // every file once, in manifest order
    const size_t at = report.find("/ok/m" + std::to_string(i) + ".bin\"");
    ASSERT_NE(at, std::string::npos) << report;
    if (i) {
      EXPECT_GT(at, report.find("/ok/m" + std::to_string(i - 1) + ".bin\"")) << report;
    }
  }
}

// Under MPI the ranks draw files from one queue: a rank held up by a slow
// file does not keep a share of its own waiting.
TEST(SpDownload, MpirunSlowFileDoesNotHoldBackTheRest) {
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "OpenMPI not installed");
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  // One file served slowly (~3.5 s), then 8 quick ones, sizes unknown (a
  // static share would split them 5 and 4): the rank that drew the slow one
  // first is busy while the other fetches the rest.
  write_file(root + "/big.bin", make_bytes(400000, 90));
  std::string manifest = server.url("slow", "big.bin") + "?delay=0.5\n";
  for (int i = 0; i < 8; ++i) {
    const std::string name = "s" + std::to_string(i) + ".bin";
    write_file(root + "/" + name, make_bytes(2000, static_cast<uint64_t>(i) + 91));
    manifest += server.url("ok", name) + "\n";
  }
  write_file(d / "m.tsv", manifest);
  auto r = run_command("mpirun --allow-run-as-root --oversubscribe -np 2 " +
                       dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --progress none --connections 1 --report " + shell_quote(d / "rep.json")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(out).size(), 9u);
  // The per-rank totals: one rank has the slow file alone, the other the 8 quick ones.
  const std::string report = read_file(d / "rep.json");
  const bool rank0_big = report.find("{\"rank\": 0, \"files_total\": 1,") != std::string::npos;
  const bool rank1_big = report.find("{\"rank\": 1, \"files_total\": 1,") != std::string::npos;
  EXPECT_TRUE(rank0_big != rank1_big) << report;
  EXPECT_NE(report.find("\"files_total\": 8,"), std::string::npos) << report;
}

// A 429's Retry-After pauses the whole job: the other rank starts no request
// while the server asked the job to wait.
TEST(SpDownload, MpirunRetryAfterPausesEveryRank) {
  SP_REQUIRE_FIXTURE(std::system("command -v mpirun >/dev/null 2>&1") == 0, "OpenMPI not installed");
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  write_file(root + "/x.bin", make_bytes(5000, 70));
  std::string manifest = server.url("r429", "x.bin") + "?wait=3\t-\t5000\n";  // drawn first: the largest
  for (int i = 0; i < 8; ++i) {
    const std::string name = "p" + std::to_string(i) + ".bin";
    write_file(root + "/" + name, make_bytes(1000, static_cast<uint64_t>(i) + 71));
    manifest += server.url("ok", name) + "\t-\t1000\n";
  }
  write_file(d / "m.tsv", manifest);
  // 4/s for the job: each rank starts a request every 0.5 s, so without a
  // shared pause the other rank would go on during the 3 s.
  auto r = run_command("mpirun --allow-run-as-root --oversubscribe -np 2 " +
                       dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --progress none --connections 1 --max-requests-per-second 4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(out).size(), 9u);
  const auto reqs = server.requests();
  double t429 = -1;
  for (const auto& q : reqs)
    if (q.path.rfind("/r429/", 0) == 0 && t429 < 0) t429 = q.t;
  ASSERT_GE(t429, 0);
  int during = 0;
  for (const auto& q : reqs) during += q.t > t429 + 0.8 && q.t < t429 + 2.6;
  EXPECT_EQ(during, 0) << "a rank made " << during << " request(s) while the job was asked to wait:\n" << r.err;
}

TEST(SpDownload, UsageErrors) {
  auto r = run_command(dl("--output-dir /tmp/x"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--manifest is required"), std::string::npos);
  r = run_command(dl("--manifest slimpajama:train --output-dir /tmp/x --rank 3 --world-size 2"));
  EXPECT_EQ(r.exit_code, 2);
  r = run_command(dl("--print-manifest slimpajama:nope"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("slimpajama:train"), std::string::npos);
  // An unusable --report path is refused before any download, not after all of them.
  TempDir d;
  r = run_command(dl("--manifest slimpajama:validation --output-dir " + shell_quote(d / "out") + " --report " +
                     shell_quote(d / "no/such/dir/r.json")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--report: cannot use directory"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(d / "out"));
  r = run_command(dl("--help"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("mpirun"), std::string::npos);
  EXPECT_NE(r.out.find("--ca-cert FILE"), std::string::npos);
  EXPECT_NE(r.out.find("SSL_CERT_FILE"), std::string::npos);
  EXPECT_NE(r.out.find("If-Range"), std::string::npos);
  EXPECT_NE(r.out.find("128 + the signal number"), std::string::npos) << "the shared Signals paragraph";
}

TEST(SpDownload, DryRunSharesAreDisjointAndComplete) {
  std::set<std::string> seen;
  size_t total = 0;
  for (int rank = 0; rank < 3; ++rank) {
    auto r = run_command(dl("--manifest slimpajama:validation --dry-run --rank " + std::to_string(rank) + " --world-size 3"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);) {
      ++total;
      EXPECT_TRUE(seen.insert(l).second) << "in two shares: " << l;
    }
  }
  EXPECT_EQ(total, 6279u + 6278 + 6286 + 6284 + 6301);
}

// A 429 pauses the whole process (not just that file), and
// --max-requests-per-second spaces requests out. Only lower bounds on time
// are asserted, so a slow machine cannot make this fail.
TEST(SpDownload, RateLimitPausesWholeProcessAndRequestRateIsCapped) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  std::string manifest = server.url("r429", "first.bin") + "\n";
  write_file(root + "/first.bin", make_bytes(1000, 1));
  for (int i = 0; i < 4; ++i) {
    write_file(root + "/o" + std::to_string(i) + ".bin", make_bytes(1000, 2 + static_cast<uint64_t>(i)));
    manifest += server.url("ok", "o" + std::to_string(i) + ".bin") + "\t-\t1000\n";
  }
  write_file(d / "m.tsv", manifest);
  // One connection, and the 429 answer comes first: every other request must wait out its Retry-After.
  auto r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --quiet --connections 1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 6u);
  double t429 = -1;
  for (const auto& q : reqs)
    if (q.path == "/r429/first.bin") {
      t429 = q.t;
      break;
    }
  ASSERT_GT(t429, 0);
  for (const auto& q : reqs) {
    if (q.t > t429) {
      EXPECT_GE(q.t - t429, 0.9) << q.path << " started during the Retry-After pause";
    }
  }

  TempDir d2;
  const std::string out2 = d2 / "out";
  const size_t before = reqs.size();
  r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out2) +
                     " --quiet --connections 4 --max-requests-per-second 10"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  reqs = server.requests();
  ASSERT_EQ(reqs.size(), before + 5);
  EXPECT_GE(reqs.back().t - reqs[before].t, 0.35) << "5 requests at 10/s need at least 0.4 s";
}

// A server that allows two transfers at once answers the rest with 429: the
// engine halves its connections on each burst of 429s instead of sending 16
// requests into every pause (about 14 + 12 + 10 + ... 429s for 24 files), and
// every file still arrives.
TEST(SpDownload, ConcurrencyBacksOffOn429AndEveryFileArrives) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  std::string manifest;
  const int n = 24;
  for (int i = 0; i < n; ++i) {
    const std::string name = "c" + std::to_string(i) + ".bin";
    write_file(root + "/" + name, make_bytes(3 * 65536, static_cast<uint64_t>(i) + 300));
    manifest += server.url("climit", name) + "?limit=2\t-\t" + std::to_string(3 * 65536) + "\n";
  }
  write_file(d / "m.tsv", manifest);
  auto r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --progress none --connections 16 --retries 30"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(out).size(), static_cast<size_t>(n));
  const size_t at = r.err.find(" rate-limited");
  ASSERT_NE(at, std::string::npos) << r.err;
  const size_t from = r.err.rfind(' ', at - 1);
  const int limited = std::stoi(r.err.substr(from + 1, at - from - 1));
  EXPECT_GT(limited, 0) << r.err;
  EXPECT_LE(limited, 40) << "16 connections kept knocking while the server allowed 2:\n" << r.err;
  EXPECT_NE(r.err.find("as few as 1 concurrent transfers"), std::string::npos)
      << "the first bursts should have halved 16 down to 1:\n" << r.err;
}

// --max-requests-per-second is the job's budget: two ranks (RANK/WORLD_SIZE,
// no MPI) share it, so 10 requests at 5/s take at least ~1.8 s in all, where
// each rank alone at 5/s would finish its 5 in 0.8 s.
TEST(SpDownload, RequestBudgetIsSharedByTheRanks) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  std::string manifest;
  for (int i = 0; i < 10; ++i) {
    const std::string name = "b" + std::to_string(i) + ".bin";
    write_file(root + "/" + name, make_bytes(1000, static_cast<uint64_t>(i) + 400));
    manifest += server.url("ok", name) + "\t-\t1000\n";
  }
  write_file(d / "m.tsv", manifest);
  const std::string args = "--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                           " --progress none --connections 4 --max-requests-per-second 5";
  auto r = run_command("env -u OMPI_COMM_WORLD_RANK RANK=0 WORLD_SIZE=2 " + dl(args) +
                       " & env -u OMPI_COMM_WORLD_RANK RANK=1 WORLD_SIZE=2 " + dl(args) + " & wait %1 && wait %2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(out).size(), 10u);
  EXPECT_NE(r.err.find("request budget 5/s for the job, 2.5/s for each rank"), std::string::npos) << r.err;
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 10u);
  double first = reqs.front().t, last = reqs.front().t;
  for (const auto& q : reqs) first = std::min(first, q.t), last = std::max(last, q.t);
  // Each rank: 5 requests 0.4 s apart (2.5/s) = 1.6 s from its first to its last.
  EXPECT_GE(last - first, 1.5) << "the ranks together exceeded the job's 5 requests per second";
}

// Without a hash in the manifest, the Hub's X-Linked-Etag (SHA-256 of the LFS
// file) sent with its redirect is checked; --no-linked-etag turns that off.
TEST(SpDownload, HubLinkedEtagIsVerified) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  write_file(root + "/good.bin", make_bytes(30000, 11));
  write_file(root + "/bad.bin", make_bytes(30000, 12));
  write_file(d / "m.tsv", server.url("hub", "good.bin") + "\n" + server.url("hubbad", "bad.bin") + "\n");
  const std::string args = "--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                           " --progress none --retries 1 --retry-base-delay 0.01";
  auto r = run_command(dl(args + " --report " + shell_quote(d / "r.json")));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(file_exists(out + "/good.bin"));
  EXPECT_FALSE(file_exists(out + "/bad.bin"));
  EXPECT_NE(r.err.find("SHA-256 mismatch"), std::string::npos) << r.err;
  EXPECT_NE(read_file(d / "r.json").find("\"sha256\": \"" + sp::sha256_hex(make_bytes(30000, 11)) + "\""), std::string::npos);
  r = run_command(dl(args + " --no-linked-etag"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/bad.bin") == make_bytes(30000, 12));
}

namespace {

// The validators download_test_server.py sends for some bytes.
std::string server_etag(const std::string& bytes) { return "\"" + sp::sha256_hex(bytes).substr(0, 16) + "\""; }
std::string server_last_modified(const std::string& bytes) {
  const time_t t = 1500000000 + static_cast<time_t>(std::stoll(sp::sha256_hex(bytes).substr(0, 7), nullptr, 16));
  struct tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::vector<LogLine> requests_for(const std::vector<LogLine>& all, const std::string& path_prefix, size_t from = 0) {
  std::vector<LogLine> out;
  for (size_t i = from; i < all.size(); ++i)
    if (all[i].path.rfind(path_prefix, 0) == 0) out.push_back(all[i]);
  return out;
}

}  // namespace

// The file changes on the server between two attempts of one run (no SHA-256
// in the manifest). The old head must never be joined to the new tail: the
// resume carries If-Range, a 206 with other validators is refused, and
// without a strong validator there is no resume at all.
TEST(SpDownload, ChangedFileIsStartedOverNotJoined) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  struct Case {
    std::string name, query;
  };
  const std::vector<Case> cases = {
      {"etag.bin", "?validators=etag&ifrange=ignore"},  // only the client's ETag check can catch it
      {"etagifr.bin", "?validators=etag"},              // the server answers the stale If-Range with 200
      {"lm.bin", "?validators=lm&ifrange=ignore"},      // Last-Modified is the only validator
      {"none.bin", "?validators=none"},                 // nothing proves a resume: start over
      {"weak.bin", "?validators=weak"},                 // a weak ETag does not promise equal bytes
  };
  const size_t size = 200000;
  std::map<std::string, std::string> v1, v2;
  std::string manifest;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    v1[c.name] = make_bytes(size, 100 + i);
    v2[c.name] = make_bytes(size, 200 + i);
    write_file(root + "/" + c.name, v1[c.name]);
    write_file(root + "/" + c.name + ".v2", v2[c.name]);
    manifest += server.url("flip", c.name) + c.query + "\n";
  }
  write_file(d / "m.tsv", manifest);
  auto r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --connections 2 --retries 3 --retry-base-delay 0.05 --progress none"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> names;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    names.insert(c.name);
    ASSERT_TRUE(file_exists(out + "/" + c.name));
    EXPECT_TRUE(read_file(out + "/" + c.name) == v2[c.name]) << "old head joined to the new tail";
  }
  EXPECT_EQ(files_in(out), names) << "no .part or .part.meta may remain";

  const auto all = server.requests();
  const std::string half = "bytes=" + std::to_string(size / 2) + "-";
  auto etag = requests_for(all, "/flip/etag.bin");
  ASSERT_EQ(etag.size(), 3u);
  EXPECT_EQ(etag[1].range, half);
  EXPECT_EQ(etag[1].if_range, server_etag(v1["etag.bin"]));
  EXPECT_EQ(etag[2].range, "") << "after a 206 of another object the file starts over";
  auto ifr = requests_for(all, "/flip/etagifr.bin");
  ASSERT_EQ(ifr.size(), 2u) << "the 200 answer to If-Range is the new file";
  EXPECT_EQ(ifr[1].range, half);
  EXPECT_EQ(ifr[1].if_range, server_etag(v1["etagifr.bin"]));
  auto lm = requests_for(all, "/flip/lm.bin");
  ASSERT_EQ(lm.size(), 3u);
  EXPECT_EQ(lm[1].if_range, server_last_modified(v1["lm.bin"]));
  EXPECT_EQ(lm[2].range, "");
  for (const std::string n : {"none.bin", "weak.bin"}) {
    auto q = requests_for(all, "/flip/" + n);
    ASSERT_EQ(q.size(), 2u) << n;
    EXPECT_EQ(q[1].range, "") << n << ": resumed without a validator";
    EXPECT_EQ(q[1].if_range, "") << n;
  }
}

// The happy path: an unchanged file still resumes (Range plus If-Range) when
// the manifest has no SHA-256, with either kind of validator.
TEST(SpDownload, UnchangedFileResumesWithIfRange) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  const std::string a = make_bytes(300000, 31), b = make_bytes(300000, 32);
  write_file(root + "/a.bin", a);
  write_file(root + "/b.bin", b);
  write_file(d / "m.tsv", server.url("short", "a.bin") + "\n" + server.url("short", "b.bin") + "?validators=lm\n");
  auto r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --retries 0 --progress none"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/a.bin") == a);
  EXPECT_TRUE(read_file(out + "/b.bin") == b);
  EXPECT_EQ(files_in(out), (std::set<std::string>{"a.bin", "b.bin"}));
  const auto all = server.requests();
  auto qa = requests_for(all, "/short/a.bin"), qb = requests_for(all, "/short/b.bin");
  ASSERT_EQ(qa.size(), 2u);
  EXPECT_EQ(qa[1].range, "bytes=150000-");
  EXPECT_EQ(qa[1].if_range, server_etag(a));
  ASSERT_EQ(qb.size(), 2u);
  EXPECT_EQ(qb[1].range, "bytes=150000-");
  EXPECT_EQ(qb[1].if_range, server_last_modified(b));
}

// The validators of the first response are kept beside the .part, so a LATER
// run resumes only the same object and starts changed files over.
TEST(SpDownload, ResumeAcrossRunsOnlyWhenValidatorsMatch) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root) + " " + shell_quote(out)).c_str()), 0);
  TestServer server(root, d.path());
  const size_t size = 240000;
  const std::string a = make_bytes(size, 41), b1 = make_bytes(size, 42), b2 = make_bytes(size, 43),
                    c1 = make_bytes(size, 44), c2 = make_bytes(size, 45), dd = make_bytes(size, 46);
  write_file(root + "/a.bin", a);
  write_file(root + "/b.bin", b1);
  write_file(root + "/c.bin", c1);
  write_file(root + "/d.bin", dd);
  const std::string lines = server.url("cut503", "a.bin") + "\n" +                  // unchanged: resumed
                            server.url("cut503", "b.bin") + "?ifrange=ignore\n" +   // changed, If-Range ignored
                            server.url("cut503", "c.bin") + "\n";                   // changed, If-Range honoured
  write_file(d / "m1.tsv", lines);
  const std::string flags = " --output-dir " + shell_quote(out) + " --retries 0 --progress none";
  // Run 1: half of each file, then a 503 that --retries 0 does not retry.
  auto r = run_command(dl("--manifest " + shell_quote(d / "m1.tsv") + flags));
  ASSERT_EQ(r.exit_code, 1) << r.err;
  for (const std::string n : {"a.bin", "b.bin", "c.bin"}) {
    EXPECT_FALSE(file_exists(out + "/" + n)) << n;
    ASSERT_TRUE(file_exists(out + "/" + n + ".part")) << n;
    EXPECT_EQ(read_file(out + "/" + n + ".part").size(), size / 2) << n;
    EXPECT_TRUE(file_exists(out + "/" + n + ".part.meta")) << n << ": validators not kept for the next run";
  }

  // Between the runs b and c change on the server; d has a .part of unknown origin (no .meta).
  write_file(root + "/b.bin", b2);
  write_file(root + "/c.bin", c2);
  write_file(out + "/d.bin.part", make_bytes(1000, 47));
  write_file(d / "m2.tsv", lines + server.url("ok", "d.bin") + "\n");
  const size_t before = server.requests().size();
  r = run_command(dl("--manifest " + shell_quote(d / "m2.tsv") + flags + " --report " + shell_quote(d / "r.json")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/a.bin") == a);
  EXPECT_TRUE(read_file(out + "/b.bin") == b2) << "old head of b joined to its new tail";
  EXPECT_TRUE(read_file(out + "/c.bin") == c2) << "old head of c joined to its new tail";
  EXPECT_TRUE(read_file(out + "/d.bin") == dd);
  EXPECT_EQ(files_in(out), (std::set<std::string>{"a.bin", "b.bin", "c.bin", "d.bin"}));

  const auto all = server.requests();
  const std::string half = "bytes=" + std::to_string(size / 2) + "-";
  auto qa = requests_for(all, "/cut503/a.bin", before);
  ASSERT_EQ(qa.size(), 1u);
  EXPECT_EQ(qa[0].range, half);
  EXPECT_EQ(qa[0].if_range, server_etag(a));
  auto qb = requests_for(all, "/cut503/b.bin", before);
  ASSERT_EQ(qb.size(), 2u);
  EXPECT_EQ(qb[0].range, half);
  EXPECT_EQ(qb[0].if_range, server_etag(b1));
  EXPECT_EQ(qb[1].range, "");
  auto qc = requests_for(all, "/cut503/c.bin", before);
  ASSERT_EQ(qc.size(), 1u);
  EXPECT_EQ(qc[0].if_range, server_etag(c1));
  auto qd = requests_for(all, "/ok/d.bin", before);
  ASSERT_EQ(qd.size(), 1u);
  EXPECT_EQ(qd[0].range, "") << "a .part without recorded validators is not resumable";
  EXPECT_NE(read_file(d / "r.json").find("\"resumed_from\": " + std::to_string(size / 2)), std::string::npos);
}

// Bytes past Content-Length on a kept-alive connection are a connection
// fault: the next file's request on it is retried on a fresh connection.
TEST(SpDownload, JunkAfterBodyDoesNotFailTheNextFile) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  const std::string a = make_bytes(50000, 51), b = make_bytes(50000, 52), c = make_bytes(50000, 53);
  write_file(root + "/a.bin", a);
  write_file(root + "/b.bin", b);
  write_file(root + "/c.bin", c);
  write_file(d / "m.tsv", server.url("extra", "a.bin") + "\t" + sp::sha256_hex(a) + "\n" +  //
                              server.url("ok", "b.bin") + "\t" + sp::sha256_hex(b) + "\n" +     //
                              server.url("extra", "c.bin") + "\t" + sp::sha256_hex(c) + "\n");
  // One connection: every request after the first would reuse the poisoned one.
  auto r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --connections 1 --retries 2 --retry-base-delay 0.05"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(out + "/a.bin") == a);
  EXPECT_TRUE(read_file(out + "/b.bin") == b);
  EXPECT_TRUE(read_file(out + "/c.bin") == c);
  EXPECT_EQ(files_in(out), (std::set<std::string>{"a.bin", "b.bin", "c.bin"}));
}

// A permanent failure with no useful bytes leaves neither .part nor .part.meta.
TEST(SpDownload, PermanentFailureLeavesNoPartFiles) {
  TempDir d;
  const std::string root = d / "root", out = d / "out";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  TestServer server(root, d.path());
  write_file(root + "/y.bin", make_bytes(1000, 61));
  write_file(d / "m.tsv", server.url("missing", "x.bin") + "\n" + server.url("loop", "y.bin") + "\n");
  auto r = run_command(dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --retries 2 --retry-base-delay 0.05 --progress none"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("HTTP 404"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("redirects"), std::string::npos) << r.err;
  EXPECT_EQ(files_in(out), std::set<std::string>{}) << "leftovers of permanently failed files";
}

// HTTPS against a self-signed certificate: without its CA the file fails at
// once (a certificate problem never heals by retrying), with --ca-cert,
// SSL_CERT_FILE or CURL_CA_BUNDLE it downloads; a missing CA file is a usage error.
TEST(SpDownload, HttpsCertificateVerification) {
  SP_REQUIRE_FIXTURE(std::system("command -v openssl >/dev/null 2>&1") == 0,
                     "the openssl CLI is missing (scripts/setup.sh installs it)");
  TempDir d;
  const std::string root = d / "root", cert = d / "cert.pem", key = d / "key.pem";
  ASSERT_EQ(std::system(("mkdir -p " + shell_quote(root)).c_str()), 0);
  auto g = run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
                       " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,IP:127.0.0.2 -keyout " +
                       shell_quote(key) + " -out " + shell_quote(cert));
  ASSERT_EQ(g.exit_code, 0) << g.err;
  TestServer server(root, d.path(), "--tls-cert " + shell_quote(cert) + " --tls-key " + shell_quote(key));
  const std::string bytes = make_bytes(100000, 71);
  write_file(root + "/t.bin", bytes);
  write_file(d / "m.tsv", server.url("ok", "t.bin") + "\t" + sp::sha256_hex(bytes) + "\t100000\n");
  // Default --retries and back-off: a retried certificate failure would take many minutes.
  auto run = [&](const std::string& env, const std::string& out, const std::string& extra) {
    return run_command("env -u SSL_CERT_FILE -u CURL_CA_BUNDLE " + env + " timeout 120 " +
                       dl("--manifest " + shell_quote(d / "m.tsv") + " --output-dir " + shell_quote(out) +
                          " --progress none" + extra));
  };

  const auto t0 = std::chrono::steady_clock::now();
  auto r = run("", d / "out-a", "");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_LT(secs, 10.0) << "a certificate failure was retried";
  EXPECT_NE(r.err.find("certificate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--ca-cert"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(d / "out-a/t.bin"));
  EXPECT_EQ(files_in(d / "out-a"), std::set<std::string>{});
  EXPECT_EQ(server.requests().size(), 0u) << "no request may pass an unverified connection";

  r = run("", d / "out-b", " --ca-cert " + shell_quote(cert));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(d / "out-b/t.bin") == bytes);
  r = run("SSL_CERT_FILE=" + shell_quote(cert), d / "out-c", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(d / "out-c/t.bin") == bytes);
  r = run("CURL_CA_BUNDLE=" + shell_quote(cert), d / "out-d", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(d / "out-d/t.bin") == bytes);
  // --ca-cert wins over the environment, CURL_CA_BUNDLE over SSL_CERT_FILE.
  r = run("SSL_CERT_FILE=/nonexistent/ca.pem CURL_CA_BUNDLE=/nonexistent/ca.pem", d / "out-e",
          " --ca-cert " + shell_quote(cert));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run("SSL_CERT_FILE=/nonexistent/ca.pem CURL_CA_BUNDLE=" + shell_quote(cert), d / "out-f", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = run("", d / "out-g", " --ca-cert /nonexistent/ca.pem");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--ca-cert"), std::string::npos) << r.err;
  r = run("SSL_CERT_FILE=/nonexistent/ca.pem", d / "out-h", "");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("SSL_CERT_FILE"), std::string::npos) << r.err;
}
