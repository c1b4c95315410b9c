// LineReader (blocks of whole lines, line numbers, BOM) and parse_document
// (Megatron's document semantics and every kind of bad line).
#include "sp/jsonl.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <zstd.h>

#include "sp/byte_source.h"
#include "sp/error.h"
#include "test_support.h"

namespace sp {
namespace {

using test::TempDir;
using test::write_file;

struct Line {
  std::string text;
  uint64_t number;
  bool operator==(const Line&) const = default;
};

std::vector<Line> read_lines(const std::string& path, size_t block_bytes) {
  auto src = open_byte_source(path);
  LineReader r(*src, block_bytes);
  LineBlock b;
  std::vector<Line> out;
  while (r.next(b)) {
    // Every block ends at a line boundary (or at the end of the data).
    EXPECT_TRUE(b.size > 0);
    for_each_line(b, [&](std::string_view l, uint64_t n) { out.push_back({std::string(l), n}); });
  }
  return out;
}

TEST(LineReader, SplitsIntoWholeLinesWithNumbers) {
  TempDir d;
  std::string data;
  std::vector<Line> want;
  for (int i = 1; i <= 3000; ++i) {
    std::string l = "{\"text\":\"line " + std::to_string(i) + std::string(i % 50, 'x') + "\"}";
    data += l + "\n";
    want.push_back({l, static_cast<uint64_t>(i)});
  }
  write_file(d / "a.jsonl", data);
  for (size_t block : {4096, 10000, 1 << 20}) EXPECT_EQ(read_lines(d / "a.jsonl", block), want) << block;
}

TEST(LineReader, LinesLongerThanABlockStayWhole) {
  TempDir d;
  std::string big(50000, 'y');
  write_file(d / "a.jsonl", "short\n" + big + "\nlast");
  auto lines = read_lines(d / "a.jsonl", 4096);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], (Line{big, 2}));
  EXPECT_EQ(lines[2], (Line{"last", 3}));  // no final newline
}

TEST(LineReader, DropsByteOrderMarkAndCarriageReturns) {
  TempDir d;
  write_file(d / "a.jsonl", "\xEF\xBB\xBF{\"a\":1}\r\n{\"b\":2}\r\n");
  auto lines = read_lines(d / "a.jsonl", 4096);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "{\"a\":1}");
  EXPECT_EQ(lines[1].text, "{\"b\":2}");
}

TEST(LineReader, ByteOrderMarkOnlyAtStart) {
  TempDir d;
  write_file(d / "a.jsonl", "a\n\xEF\xBB\xBF" "b\n");
  auto lines = read_lines(d / "a.jsonl", 4096);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "\xEF\xBB\xBF" "b");
}

// A resumed run: skip_to a block's end_offset reads on from exactly there,
// for plain and zstd input (the BOM counts in the offset and is not taken
// for content after the start).
TEST(LineReader, SkipToAnEarlierBlocksEndContinuesThere) {
  TempDir d;
  std::string data = "\xEF\xBB\xBF";
  for (int i = 1; i <= 3000; ++i) data += "{\"text\":\"line " + std::to_string(i) + std::string(i % 50, 'x') + "\"}\n";
  write_file(d / "a.jsonl", data);
  std::string z(ZSTD_compressBound(data.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), data.data(), data.size(), 3));
  write_file(d / "a.jsonl.zst", z);
  for (const char* name : {"a.jsonl", "a.jsonl.zst"}) {
    std::vector<std::pair<uint64_t, std::string>> blocks;  // (end_offset, text)
    {
      auto src = open_byte_source(d / name);
      LineReader r(*src, 4096);
      LineBlock b;
      while (r.next(b)) blocks.emplace_back(b.end_offset, std::string(b.text()));
    }
    ASSERT_GT(blocks.size(), 10u);
    EXPECT_EQ(blocks.back().first, data.size()) << name;
    for (size_t k : {size_t{0}, size_t{4}, blocks.size() - 2}) {
      auto src = open_byte_source(d / name);
      LineReader r(*src, 4096);
      r.skip_to(blocks[k].first);
      std::string rest;
      LineBlock b;
      while (r.next(b)) rest += b.text();
      EXPECT_EQ(rest, data.substr(blocks[k].first)) << name << " after block " << k;
    }
    auto src = open_byte_source(d / name);
    LineReader r(*src, 4096);
    EXPECT_THROW(r.skip_to(data.size() + 1), InputError) << name;
  }
}

TEST(LineReader, EmptyInput) {
  TempDir d;
  write_file(d / "a.jsonl", "");
  EXPECT_TRUE(read_lines(d / "a.jsonl", 4096).empty());
}

// Parses a literal line through a padded buffer, as the pipeline does.
std::string parse(const std::string& line, const std::vector<std::string>& keys, DocumentTexts& texts) {
  static simdjson::dom::parser parser;
  std::string padded = line + std::string(simdjson::SIMDJSON_PADDING, '\0');
  return parse_document(parser, std::string_view(padded.data(), line.size()), keys, texts);
}

TEST(ParseDocument, StringAndListValues) {
  DocumentTexts t;
  ASSERT_EQ(parse(R"({"text":"hello","meta":{"x":1}})", {"text"}, t), "");
  EXPECT_EQ(t, (DocumentTexts{{"hello"}}));
  ASSERT_EQ(parse(R"({"text":["a","","b\nc"]})", {"text"}, t), "");
  EXPECT_EQ(t, (DocumentTexts{{"a", "", "b\nc"}}));
  ASSERT_EQ(parse(R"({"a":"x","b":["y"]})", {"b", "a"}, t), "");
  EXPECT_EQ(t, (DocumentTexts{{"y"}, {"x"}}));
  ASSERT_EQ(parse(R"({"text":[]})", {"text"}, t), "");
  EXPECT_EQ(t, (DocumentTexts{{}}));
}

TEST(ParseDocument, EscapesAreDecoded) {
  DocumentTexts t;
  ASSERT_EQ(parse(R"({"text":"tab\there \u00e9 \ud83d\ude00 \"q\" \\ \/ \u0000"})", {"text"}, t), "");
  EXPECT_EQ(t[0][0], std::string("tab\there \xC3\xA9 \xF0\x9F\x98\x80 \"q\" \\ / \0", 26));
}

TEST(ParseDocument, LastDuplicateKeyWinsLikePython) {
  DocumentTexts t;
  ASSERT_EQ(parse(R"({"text":"first","text":"second"})", {"text"}, t), "");
  EXPECT_EQ(t[0][0], "second");
}

TEST(ParseDocument, BadLinesHaveReasons) {
  DocumentTexts t;
  auto reason = [&](const std::string& line) { return parse(line, {"text"}, t); };
  EXPECT_EQ(reason(R"(["text"])"), "not a JSON object");
  EXPECT_EQ(reason(R"("text")"), "not a JSON object");
  EXPECT_EQ(reason(R"({"other":"x"})"), "missing key \"text\"");
  EXPECT_NE(reason(R"({"text":1})").find("is a number"), std::string::npos);
  EXPECT_NE(reason(R"({"text":null})").find("is null"), std::string::npos);
  EXPECT_NE(reason(R"({"text":{"a":"b"}})").find("is an object"), std::string::npos);
  EXPECT_NE(reason(R"({"text":["a",2]})").find("list holding a number"), std::string::npos);
  EXPECT_NE(reason(R"({"text":"abc)").find("not valid JSON"), std::string::npos);
  EXPECT_NE(reason(R"({"text":"abc"} trailing)").find("not valid JSON"), std::string::npos);
  EXPECT_NE(reason(R"({"text":"abc"}{"text":"d"})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(reason(R"({"text":"a\qb"})").find("invalid escape"), std::string::npos);
  EXPECT_NE(reason("{\"text\":\"a\x01" "b\"}").find("raw control character"), std::string::npos);
  EXPECT_NE(reason("{\"text\":\"a\tb\"}").find("raw control character"), std::string::npos);
  EXPECT_EQ(reason("{\"text\":\"\xFF\"}"), "invalid UTF-8");
  EXPECT_EQ(reason("{\"text\":\"\xC0\xAF\"}"), "invalid UTF-8");        // overlong
  EXPECT_EQ(reason("{\"text\":\"\xED\xA0\x80\"}"), "invalid UTF-8");    // encoded surrogate
  EXPECT_NE(reason(R"({"text":"\ud800"})").find("surrogate"), std::string::npos);
  EXPECT_NE(reason(R"({"text":"\udc00x"})").find("surrogate"), std::string::npos);
  EXPECT_NE(reason(R"({"text":"\ud800\u0041"})").find("surrogate"), std::string::npos);
  EXPECT_NE(reason(R"({"text": NaN})").find("not valid JSON"), std::string::npos);
}

TEST(JsonObjectLineError, AcceptsObjectsOnly) {
  simdjson::dom::parser p;
  auto check = [&](const std::string& line) {
    std::string padded = line + std::string(simdjson::SIMDJSON_PADDING, '\0');
    return json_object_line_error(p, std::string_view(padded.data(), line.size()));
  };
  EXPECT_EQ(check(R"({"a":[1,2,{"b":null}]})"), "");
  EXPECT_EQ(check(R"(  {"a":1}  )"), "");
  EXPECT_EQ(check("[1]"), "not a JSON object");
  EXPECT_EQ(check("{\"a\":\"\xFE\"}"), "invalid UTF-8");
  EXPECT_NE(check(R"({"a":1)"), "");
}

TEST(IsBlankLine, JsonWhitespaceOnly) {
  EXPECT_TRUE(is_blank_line(""));
  EXPECT_TRUE(is_blank_line(" \t\r "));
  EXPECT_FALSE(is_blank_line(" x "));
  EXPECT_FALSE(is_blank_line("\xC2\xA0"));  // NBSP is not JSON whitespace
}

}  // namespace
}  // namespace sp
