// JSONL stages: split a byte stream into blocks of whole lines (so blocks can
// be parsed in parallel and still be reported as file:line), and check/parse
// one line as a JSON object with simdjson.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sp/byte_source.h"

namespace simdjson::dom {
class parser;
}

namespace sp {

// Whole lines of one input, with simdjson's padding available after size().
struct LineBlock {
  std::vector<char> storage;  // size() bytes of lines + padding
  size_t size = 0;            // bytes of line data (ends with '\n' except at end of file)
  uint64_t first_line = 1;    // 1-based line number of the first line (1 when not numbered)
  uint64_t raw_offset = 0;    // ByteSource::raw_bytes_read() after this block was read
  uint64_t end_offset = 0;    // bytes of (decompressed) data before the end of this block, a BOM included
  std::string_view text() const { return {storage.data(), size}; }
};

// Reads a ByteSource in blocks of about block_bytes, each ending at a line
// boundary (a longer line makes a larger block: lines are never split). A
// UTF-8 byte-order mark at the very start of the input is dropped.
// With number_lines, each block's first_line is set (one extra pass over the
// block in the reading thread); a parallel pipeline that counts lines in its
// workers turns it off and leaves first_line at 1.
class LineReader {
 public:
  explicit LineReader(ByteSource& source, size_t block_bytes = size_t{4} << 20, bool number_lines = true);
  // Fills `block` (reusing its storage) and returns true, or false at end.
  bool next(LineBlock& block);
  // Starts at `offset` bytes into the data (a line boundary: a block's
  // end_offset of an earlier reading), skipping the source there; call before
  // the first next(). There is no byte-order mark to drop after the start.
  void skip_to(uint64_t offset);

 private:
  ByteSource& source_;
  size_t block_bytes_;
  std::vector<char> carry_;  // bytes after the last newline of the previous read
  uint64_t next_line_ = 1;
  uint64_t consumed_ = 0;  // bytes read from the source
  bool number_lines_ = true;
  bool at_start_ = true;
  bool eof_ = false;
};

// Calls fn(line, line_number) for each line of a block, without its '\n' (and
// without a trailing '\r'). line.data() stays inside block.storage, so
// simdjson's padding requirement is met.
template <class Fn>
void for_each_line(const LineBlock& block, Fn&& fn) {
  const char* p = block.storage.data();
  const char* end = p + block.size;
  uint64_t n = block.first_line;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* e = nl ? nl : end;
    const char* le = (e > p && e[-1] == '\r') ? e - 1 : e;
    fn(std::string_view(p, static_cast<size_t>(le - p)), n++);
    p = nl ? nl + 1 : end;
  }
}

// True when a line holds only JSON whitespace (space, tab, CR, LF) or nothing:
// such lines are skipped, not errors.
bool is_blank_line(std::string_view line);

// Checks that `line` is exactly one JSON object, syntactically valid, with
// valid UTF-8 and no lone surrogate escapes anywhere. Returns "" when it is,
// else a short reason ("not valid JSON: ...", "not a JSON object", "invalid
// UTF-8", ...). `line` must be followed by simdjson::SIMDJSON_PADDING readable
// bytes (true for lines of a LineBlock).
std::string json_object_line_error(simdjson::dom::parser& parser, std::string_view line);

// The text sequences of one document for each requested key, following
// Megatron's preprocess_data.py: a string value is one sequence; an array of
// strings is one sequence per element. Views point into the parser's string
// buffer and stay valid until its next parse.
using DocumentTexts = std::vector<std::vector<std::string_view>>;  // [key][sequence]

// Parses `line` (with padding, as above) as a JSON object and fills texts
// (resized to keys.size()). Returns "" on success, else the reason: invalid
// JSON or UTF-8, not an object, a missing key, a value that is neither a
// string nor an array of strings. When a key occurs more than once the last
// occurrence wins, as with Python's json module.
std::string parse_document(simdjson::dom::parser& parser, std::string_view line,
                           const std::vector<std::string>& keys, DocumentTexts& texts);

}  // namespace sp
