// JsonFile: a JSON file's bytes ready for simdjson's parser (its padding
// after them), taken from the page cache without a copy where the file can
// be mapped. Loading tokenizers is mostly fresh memory on a VM (a 4 KiB page
// fault costs ~13 us on the 2-core dev VM): reading Gemma's 17 MB
// tokenizer.json into a new buffer took ~55 ms, mapping it ~3 ms.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sp {

class JsonFile {
 public:
  // The file's bytes; throws what read_file throws (IoError naming the path).
  // A file that cannot be mapped (a pipe, an empty file) is read instead.
  explicit JsonFile(const std::string& path);
  ~JsonFile();
  JsonFile(const JsonFile&) = delete;
  JsonFile& operator=(const JsonFile&) = delete;

  std::string_view text() const { return {data_, size_}; }
  // Parses with `parser`; the bytes are padded, so nothing is copied, and
  // the parser's buffers are asked for huge pages first (see json_file.cc).
  simdjson::simdjson_result<simdjson::dom::element> parse(simdjson::dom::parser& parser) const;

 private:
  simdjson::padded_string copy_;  // when not mapped
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sp
