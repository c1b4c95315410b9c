// JsonFile: a JSON file's bytes ready for simdjson's parser (its padding
// after them), read into memory with transparent huge pages. Loading
// tokenizers is mostly fresh memory on a VM (a 4 KiB page fault costs ~13 us
// on the 2-core dev VM): reading Gemma's 17 MB tokenizer.json into a new
// buffer of small pages took ~55 ms. Mapping the file took ~3 ms, but a
// mapped file that shrinks or fails to read (a network file system's I/O
// error) kills the process with SIGBUS instead of giving an error; reading
// it into huge pages costs about as little and reports every failure.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sp {

class JsonFile {
 public:
  // The file's bytes; throws what read_file throws (Error naming the path).
  explicit JsonFile(const std::string& path);
  ~JsonFile();
  JsonFile(const JsonFile&) = delete;
  JsonFile& operator=(const JsonFile&) = delete;

  std::string_view text() const { return {data_, size_}; }
  // Parses with `parser`; the bytes are padded, so nothing is copied, and
  // the parser's buffers are asked for huge pages first (see json_file.cc).
  simdjson::simdjson_result<simdjson::dom::element> parse(simdjson::dom::parser& parser) const;

 private:
  simdjson::padded_string copy_;  // a pipe, an empty or a growing file
  void* buffer_ = nullptr;        // else the bytes and padding, from large_table_allocate
  size_t buffer_bytes_ = 0;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sp
