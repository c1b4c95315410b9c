// The JSONL stages on arbitrary bytes. LineReader + for_each_line must give
// back exactly the input's lines (BOM dropped, '\n' and a trailing '\r'
// removed) with the right numbers, in blocks that end at line boundaries, however the
// source splits its reads. For each line, json_object_line_error and
// parse_document must agree; accepted text is valid UTF-8; a line that is not
// valid UTF-8 or is blank is never accepted; and accepted texts written back
// with json_quote parse to the same texts.
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "sp/byte_source.h"
#include "sp/json_out.h"
#include "sp/jsonl.h"
#include "sp/unicode.h"

namespace {

// Serves a buffer in reads of at most `chunk` bytes, like a pipe would.
class MemorySource final : public sp::ByteSource {
 public:
  MemorySource(std::string_view data, size_t chunk) : ByteSource("<fuzz>"), data_(data), chunk_(chunk) {}
  size_t read(char* dst, size_t n) override {
    const size_t k = std::min({n, chunk_, data_.size() - pos_});
    std::memcpy(dst, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  uint64_t raw_bytes_read() const override { return pos_; }

 private:
  std::string_view data_;
  size_t chunk_;
  size_t pos_ = 0;
};

struct Line {
  std::string_view text;
  uint64_t number;
};

// The lines as the header describes them, computed the plain way.
std::vector<Line> expected_lines(std::string_view s) {
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  std::vector<Line> out;
  uint64_t n = 1;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    size_t end = nl == std::string_view::npos ? s.size() : nl;
    std::string_view line = s.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back({line, n++});
    pos = end + 1;
  }
  return out;
}

// Wrapped in a padded buffer, as simdjson requires of lines outside a LineBlock.
std::string padded(const std::string& s) { return s + std::string(simdjson::SIMDJSON_PADDING, '\0'); }

void check_line(simdjson::dom::parser& parser, std::string_view line) {
  const std::string line_error = sp::json_object_line_error(parser, line);
  static const std::vector<std::string> keys = {"text", "meta"};
  sp::DocumentTexts texts;
  const std::string doc_error = sp::parse_document(parser, line, keys, texts);
  if (!line_error.empty()) {
    FUZZ_CHECK(doc_error == line_error, "line error '%s' but document error '%s'", line_error.c_str(),
               doc_error.c_str());
    return;
  }
  FUZZ_CHECK(sp::is_valid_utf8(line), "a line with invalid UTF-8 was accepted");
  FUZZ_CHECK(!sp::is_blank_line(line), "a blank line was accepted as an object");
  if (!doc_error.empty()) {
    FUZZ_CHECK(doc_error.rfind("missing key", 0) == 0 || doc_error.rfind("value of", 0) == 0,
               "an object failed with '%s'", doc_error.c_str());
    return;
  }
  FUZZ_CHECK(texts.size() == keys.size(), "%zu text lists for %zu keys", texts.size(), keys.size());
  // Copy before the next parse invalidates the views.
  std::vector<std::vector<std::string>> copies;
  std::string rewritten = "{";
  for (size_t k = 0; k < texts.size(); ++k) {
    copies.emplace_back();
    rewritten += (k ? ",\"" : "\"") + keys[k] + "\":[";
    for (size_t i = 0; i < texts[k].size(); ++i) {
      const std::string_view t = texts[k][i];
      FUZZ_CHECK(sp::is_valid_utf8(t), "accepted text is not valid UTF-8");
      copies.back().emplace_back(t);
      rewritten += (i ? "," : "") + sp::json_quote(t);
    }
    rewritten += "]";
  }
  rewritten += "}";
  const std::string buf = padded(rewritten);
  const std::string again = sp::parse_document(parser, std::string_view(buf.data(), rewritten.size()), keys, texts);
  FUZZ_CHECK(again.empty(), "json_quote'd texts do not parse: %s", again.c_str());
  for (size_t k = 0; k < keys.size(); ++k) {
    FUZZ_CHECK(texts[k].size() == copies[k].size(), "key %zu: %zu texts became %zu", k, copies[k].size(),
               texts[k].size());
    for (size_t i = 0; i < copies[k].size(); ++i)
      FUZZ_CHECK(texts[k][i] == copies[k][i], "key %zu text %zu changed in a json_quote round trip", k, i);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks how the source splits its reads; the rest is the file.
  const size_t chunk = 1 + data[0] * 37u;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<Line> want = expected_lines(input);

  MemorySource source(input, chunk);
  sp::LineReader reader(source, 4096);  // the smallest block: long inputs span several
  sp::LineBlock block;
  static simdjson::dom::parser parser;
  std::string joined;
  size_t got = 0;
  bool unterminated = false;  // a block without a final '\n' must be the last
  while (reader.next(block)) {
    FUZZ_CHECK(!unterminated, "a block ended inside a line before the end of the input");
    FUZZ_CHECK(block.size > 0, "empty block");
    FUZZ_CHECK(block.storage.size() >= block.size + simdjson::SIMDJSON_PADDING, "block without padding");
    FUZZ_CHECK(block.first_line == got + 1, "block starts at line %llu after %zu lines",
               static_cast<unsigned long long>(block.first_line), got);
    FUZZ_CHECK(block.raw_offset == source.raw_bytes_read(), "raw offset");
    unterminated = block.text().back() != '\n';
    joined += block.text();
    sp::for_each_line(block, [&](std::string_view line, uint64_t number) {
      FUZZ_CHECK(got < want.size(), "more lines than the input has");
      FUZZ_CHECK(line == want[got].text && number == want[got].number, "line %zu differs", got);
      ++got;
      check_line(parser, line);
    });
  }
  FUZZ_CHECK(got == want.size(), "%zu lines read, %zu in the input", got, want.size());
  const std::string_view no_bom = input.substr(0, 3) == "\xEF\xBB\xBF" ? input.substr(3) : input;
  FUZZ_CHECK(joined == no_bom, "blocks do not add up to the input");

  // json_quote of any bytes is one valid JSON string; of valid UTF-8, the same text.
  const std::string line = "{\"text\":" + sp::json_quote(input) + "}";
  const std::string buf = padded(line);
  sp::DocumentTexts texts;
  const std::string err = sp::parse_document(parser, std::string_view(buf.data(), line.size()), {"text"}, texts);
  FUZZ_CHECK(err.empty(), "json_quote output does not parse: %s", err.c_str());
  if (sp::is_valid_utf8(input)) FUZZ_CHECK(texts[0].size() == 1 && texts[0][0] == input, "json_quote changed text");
  return 0;
}
