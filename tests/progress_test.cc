// The progress line's content and the shared progress flags.
#include "sp/progress.h"

#include <gtest/gtest.h>

#include "sp/error.h"

namespace sp {
namespace {

TEST(Progress, RendersCountsBytesRateAndEta) {
  ProgressOptions o;
  o.label = "[rank 1/4] sp_tokenize";
  o.item_name = "documents";
  o.total_bytes = 4'000'000;
  o.mode = ProgressMode::kOff;
  o.extra = [] { return std::string("retries 2"); };
  Progress p(o);
  p.add(1'000'000, 250);
  std::string line = p.render();
  for (const char* s : {"[rank 1/4] sp_tokenize: 250 documents", "1.0/4.0 MB (25.0%)", "MB/s", "ETA", "retries 2"})
    EXPECT_NE(line.find(s), std::string::npos) << s << " in: " << line;
  p.add(3'000'000, 0);
  EXPECT_EQ(p.render().find("ETA"), std::string::npos) << "no ETA once done";
  EXPECT_EQ(p.bytes(), 4'000'000u);
  EXPECT_EQ(p.items(), 250u);
}

TEST(Progress, ItemsOutOfTotal) {
  ProgressOptions o;
  o.label = "sp_download";
  o.item_name = "files";
  o.total_items = 10;
  o.mode = ProgressMode::kOff;
  Progress p(o);
  p.add(0, 3);
  EXPECT_NE(p.render().find("3/10 files"), std::string::npos) << p.render();
}

TEST(Progress, ModesAndFlags) {
  EXPECT_EQ(parse_progress_mode("auto"), ProgressMode::kAuto);
  EXPECT_EQ(parse_progress_mode("tty"), ProgressMode::kTerminal);
  EXPECT_EQ(parse_progress_mode("lines"), ProgressMode::kLines);
  EXPECT_EQ(parse_progress_mode("none"), ProgressMode::kOff);
  EXPECT_THROW(parse_progress_mode("loud"), UsageError);

  cli::Program prog{"t", "s", "u", with_progress_flags({{"x", "", "switch"}})};
  std::vector<std::string> words = {"t", "--progress", "lines", "--progress-interval", "5"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  ProgressOptions o;
  apply_progress_flags(cli::parse(prog, static_cast<int>(argv.size()), argv.data()), o);
  EXPECT_EQ(o.mode, ProgressMode::kLines);
  EXPECT_EQ(o.interval_s, 5.0);
  words = {"t", "--progress", "lines", "--quiet"};
  argv.clear();
  for (auto& w : words) argv.push_back(w.data());
  apply_progress_flags(cli::parse(prog, static_cast<int>(argv.size()), argv.data()), o);
  EXPECT_EQ(o.mode, ProgressMode::kOff);
}

}  // namespace
}  // namespace sp
