#include "sp/jsonl.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

#include "sp/error.h"

namespace sp {

LineReader::LineReader(ByteSource& source, size_t block_bytes, bool number_lines)
    : source_(source), block_bytes_(std::max<size_t>(block_bytes, 4096)), number_lines_(number_lines) {}

bool LineReader::next(LineBlock& b) {
  constexpr size_t kPad = simdjson::SIMDJSON_PADDING;
  if (eof_ && carry_.empty()) return false;
  std::vector<char>& s = b.storage;
  size_t n = carry_.size();
  size_t want = std::max(block_bytes_, n + 1);
  if (s.size() < want + kPad) s.resize(want + kPad);
  if (n) std::memcpy(s.data(), carry_.data(), n);
  carry_.clear();
  size_t searched = 0;  // bytes already known to hold no newline
  for (;;) {
    while (!eof_ && n < want) {
      size_t r = source_.read(s.data() + n, want - n);
      if (r == 0) eof_ = true;
      n += r;
      consumed_ += r;
    }
    if (at_start_) {
      at_start_ = false;
      // A UTF-8 byte-order mark at the start of a file is an encoding marker,
      // not content (editors on Windows write it).
      if (n >= 3 && std::memcmp(s.data(), "\xEF\xBB\xBF", 3) == 0) {
        std::memmove(s.data(), s.data() + 3, n - 3);
        n -= 3;
      }
    }
    const void* last = n > searched ? memrchr(s.data() + searched, '\n', n - searched) : nullptr;
    if (last) {
      size_t cut = static_cast<size_t>(static_cast<const char*>(last) - s.data()) + 1;
      carry_.assign(s.data() + cut, s.data() + n);
      b.size = cut;
      break;
    }
    if (eof_) {
      b.size = n;
      break;
    }
    // One line longer than the block: grow until it ends.
    searched = n;
    want *= 2;
    s.resize(want + kPad);
  }
  if (b.size == 0) return false;
  std::memset(s.data() + b.size, 0, std::min(kPad, s.size() - b.size));
  b.first_line = next_line_;
  if (number_lines_) next_line_ += static_cast<uint64_t>(std::count(s.data(), s.data() + b.size, '\n'));
  b.raw_offset = source_.raw_bytes_read();
  b.end_offset = consumed_ - carry_.size();
  return true;
}

void LineReader::skip_to(uint64_t offset) {
  if (consumed_ != 0 || !carry_.empty()) throw Error("internal: LineReader::skip_to after reading");
  source_.skip(offset);
  consumed_ = offset;
  at_start_ = offset == 0;
}

bool is_blank_line(std::string_view line) {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

namespace {

// simdjson reports every bad string escape as STRING_ERROR; name the common
// real-world cause (a lone UTF-16 surrogate, which Python's json accepts but
// which cannot be encoded as UTF-8) when it is present.
bool has_surrogate_escape(std::string_view line) {
  for (size_t i = 0; i + 5 < line.size(); ++i) {
    if (line[i] == '\\' && line[i + 1] == 'u' && (line[i + 2] == 'd' || line[i + 2] == 'D')) {
      char c = line[i + 3];
      if ((c >= '8' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) return true;
    }
    if (line[i] == '\\') ++i;  // skip the escaped character ("\\\\ud800" is not an escape)
  }
  return false;
}

}  // namespace

static std::string json_error_reason(simdjson::error_code err, std::string_view line) {
  switch (err) {
    case simdjson::UTF8_ERROR: return "invalid UTF-8";
    case simdjson::UNESCAPED_CHARS: return "not valid JSON: raw control character inside a string";
    case simdjson::UNCLOSED_STRING: return "not valid JSON: unterminated string (truncated line?)";
    case simdjson::STRING_ERROR:
      if (has_surrogate_escape(line)) return "not valid JSON: invalid \\u escape (lone UTF-16 surrogate?)";
      return "not valid JSON: invalid escape in a string";
    case simdjson::TAPE_ERROR: return "not valid JSON: bad structure (truncated, trailing data, or missing comma/brace)";
    case simdjson::DEPTH_ERROR: return "not valid JSON: nested too deeply";
    case simdjson::EMPTY: return "empty line";
    default: return std::string("not valid JSON: ") + simdjson::error_message(err);
  }
}

static simdjson::error_code parse_line(simdjson::dom::parser& parser, std::string_view line,
                                       simdjson::dom::element& root) {
  // realloc_if_needed=false: the line lives in a LineBlock whose storage has
  // SIMDJSON_PADDING bytes after every line, so no copy is needed.
  return parser.parse(line.data(), line.size(), false).get(root);
}

std::string json_object_line_error(simdjson::dom::parser& parser, std::string_view line) {
  simdjson::dom::element root;
  if (auto err = parse_line(parser, line, root)) return json_error_reason(err, line);
  if (!root.is_object()) return "not a JSON object";
  return "";
}

static const char* type_name(simdjson::dom::element_type t) {
  switch (t) {
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: return "a number";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
  }
  return "unknown";
}

std::string parse_document(simdjson::dom::parser& parser, std::string_view line,
                           const std::vector<std::string>& keys, DocumentTexts& texts) {
  simdjson::dom::element root;
  if (auto err = parse_line(parser, line, root)) return json_error_reason(err, line);
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return "not a JSON object";
  texts.resize(keys.size());
  for (size_t k = 0; k < keys.size(); ++k) {
    texts[k].clear();
    // Walk all fields so that a repeated key resolves to its last value.
    simdjson::dom::element value;
    bool found = false;
    for (auto field : obj) {
      if (field.key == keys[k]) {
        value = field.value;
        found = true;
      }
    }
    if (!found) return "missing key \"" + keys[k] + "\"";
    std::string_view s;
    if (!value.get_string().get(s)) {
      texts[k].push_back(s);
      continue;
    }
    simdjson::dom::array arr;
    if (value.get_array().get(arr))
      return "value of \"" + keys[k] + "\" is " + type_name(value.type()) + ", not a string or a list of strings";
    for (auto item : arr) {
      if (item.get_string().get(s))
        return "value of \"" + keys[k] + "\" is a list holding " + type_name(item.type()) + ", not only strings";
      texts[k].push_back(s);
    }
  }
  return "";
}

}  // namespace sp
