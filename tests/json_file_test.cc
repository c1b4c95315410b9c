// JsonFile: a file reads as its bytes followed by zeros (simdjson's
// padding), whatever its size against the page size; failures are read_file's.
#include "json_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "sp/error.h"
#include "test_support.h"

namespace sp {
namespace {

using test::TempDir;
using test::write_file;

// A JSON array padded with spaces to exactly `size` bytes.
std::string json_of_size(size_t size) {
  std::string text = "[1, \"two\", {\"three\": 3}]";
  text.resize(size, ' ');
  return text;
}

TEST(JsonFile, BytesArePaddedWithZerosAndParse) {
  TempDir dir;
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  // Sizes that leave the padding in the file's last page, exactly fill a
  // page, nearly do, or take huge pages (large_table_allocate).
  for (size_t size : {size_t{100}, page, page - 10, 3 * page, (size_t{5} << 20) + 17}) {
    const std::string text = json_of_size(size);
    write_file(dir / "f.json", text);
    const JsonFile file(dir / "f.json");
    ASSERT_EQ(file.text(), text) << size;
    for (size_t i = 0; i < simdjson::SIMDJSON_PADDING; ++i) ASSERT_EQ(file.text().data()[size + i], 0) << size;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(file.parse(parser).get(root), simdjson::SUCCESS) << size;
    EXPECT_EQ(root.get_array().size(), 3u);
    int64_t three = 0;
    ASSERT_EQ(root.at(2)["three"].get_int64().get(three), simdjson::SUCCESS);
    EXPECT_EQ(three, 3);
  }
}

TEST(JsonFile, AnEmptyFileIsEmptyJson) {
  TempDir dir;
  write_file(dir / "empty.json", "");
  const JsonFile file(dir / "empty.json");
  EXPECT_TRUE(file.text().empty());
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(file.parse(parser).get(root), simdjson::EMPTY);
}

TEST(JsonFile, BadJsonIsReportedAsByAnyParse) {
  TempDir dir;
  write_file(dir / "bad.json", "{\"a\": [1, 2}");
  const JsonFile file(dir / "bad.json");
  simdjson::dom::parser parser, reference;
  simdjson::dom::element root;
  const simdjson::padded_string copy(std::string("{\"a\": [1, 2}"));
  EXPECT_NE(file.parse(parser).get(root), simdjson::SUCCESS);
  EXPECT_EQ(file.parse(parser).error(), reference.parse(copy).error());
}

TEST(JsonFile, AMissingFileThrowsReadFilesError) {
  TempDir dir;
  try {
    const JsonFile file(dir / "missing.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open '" + (dir / "missing.json") + "'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sp
