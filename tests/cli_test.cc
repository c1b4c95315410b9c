// The shared flag conventions: long flags, lists, switches, defaults, sizes.
#include "sp/cli.h"

#include <gtest/gtest.h>

#include "sp/error.h"

namespace sp::cli {
namespace {

const Program kProg{"tool", "does things", "tool [options]",
                    {{"input", "FILE", "inputs", "", true},
                     {"json-keys", "KEY", "keys", "text", true},
                     {"vocab-file", "FILE", "vocab", "", false, {"vocab"}},
                     {"workers", "N", "threads", "4"},
                     {"size", "BYTES", "a size", "34G"},
                     {"append-eod", "", "a switch"},
                     {"expect-eod", "ID", "an optional value", "", false, {}, true}}};

Args parse_args(std::vector<std::string> words) {
  std::vector<char*> argv;
  std::string name = "tool";
  argv.push_back(name.data());
  for (auto& w : words) argv.push_back(w.data());
  return parse(kProg, static_cast<int>(argv.size()), argv.data());
}

TEST(Cli, ValuesSwitchesAndDefaults) {
  Args a = parse_args({"--input", "a.jsonl", "--append-eod", "--workers=8"});
  EXPECT_EQ(a.all("input"), (std::vector<std::string>{"a.jsonl"}));
  EXPECT_TRUE(a.flag("append-eod"));
  EXPECT_EQ(a.get_int("workers", 0), 8);
  EXPECT_EQ(a.all("json-keys"), (std::vector<std::string>{"text"}));  // default
  EXPECT_EQ(a.get_size("size", 0), 34ull << 30);
  EXPECT_FALSE(a.has("vocab-file"));
}

TEST(Cli, ListsByRepetitionOrSeveralValues) {
  Args a = parse_args({"--json-keys", "text", "title", "--input", "a", "--input", "b", "c", "--append-eod"});
  EXPECT_EQ(a.all("json-keys"), (std::vector<std::string>{"text", "title"}));
  EXPECT_EQ(a.all("input"), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Cli, AliasesMapToTheOption) {
  Args a = parse_args({"--vocab", "v.json"});
  EXPECT_EQ(a.get("vocab-file"), "v.json");
}

TEST(Cli, UsageErrors) {
  EXPECT_THROW(parse_args({"--nope"}), UsageError);
  EXPECT_THROW(parse_args({"--input"}), UsageError);
  EXPECT_THROW(parse_args({"--input", "--append-eod"}), UsageError);
  EXPECT_THROW(parse_args({"--append-eod=1"}), UsageError);
  EXPECT_THROW(parse_args({"stray"}), UsageError);
  EXPECT_THROW(parse_args({"--workers", "many"}).get_int("workers", 0), UsageError);
}

// Only --name=VALUE gives an optional value, so a positional after the flag stays a positional.
TEST(Cli, OptionalValuesOnlyInline) {
  std::vector<std::string> words = {"--expect-eod", "data/", "--expect-eod=7"};
  std::vector<char*> argv = {const_cast<char*>("tool")};
  for (auto& w : words) argv.push_back(w.data());
  const Args a = parse(kProg, static_cast<int>(argv.size()), argv.data(), /*allow_positional=*/true);
  EXPECT_EQ(a.all("expect-eod"), (std::vector<std::string>{"", "7"}));
  EXPECT_EQ(a.positional, (std::vector<std::string>{"data/"}));
  EXPECT_NE(help_text(kProg).find("--expect-eod[=ID]"), std::string::npos);
}

TEST(Cli, Sizes) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("123"), 123u);
  EXPECT_EQ(parse_size("4K"), 4096u);
  EXPECT_EQ(parse_size("1.5M"), 1572864u);
  EXPECT_EQ(parse_size("34G"), 34ull << 30);
  EXPECT_EQ(parse_size("2T"), 2ull << 40);
  EXPECT_EQ(parse_size("8GiB"), 8ull << 30);
  EXPECT_EQ(parse_size("8gb"), 8ull << 30);
  EXPECT_THROW(parse_size("G"), UsageError);
  EXPECT_THROW(parse_size("12X"), UsageError);
  EXPECT_THROW(parse_size("-1"), UsageError);
}

TEST(Cli, HelpListsEveryOption) {
  std::string h = help_text(kProg);
  for (const char* s : {"--input FILE", "--json-keys KEY", "--vocab-file FILE, --vocab", "(default: 34G)", "--help", "--version"})
    EXPECT_NE(h.find(s), std::string::npos) << s << "\n" << h;
}

TEST(Cli, Formatting) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(34ull << 30), "34.0 GiB");
  EXPECT_EQ(format_duration(62), "1:02");
  EXPECT_EQ(format_duration(3723), "1:02:03");
}

}  // namespace
}  // namespace sp::cli
