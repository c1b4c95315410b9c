// Small readers of tokenizer.json / tokenizer_config.json fields shared by the
// HF loader's parts (hf_tokenizer.cc, hf_normalizer.cc, hf_pretokenizer.cc),
// with one error policy: InputError(source, 0, "<what> ...").
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>

#include "regex_split.h"
#include "sp/error.h"

namespace sp::hf {

inline bool bool_field(simdjson::dom::element json, const char* key, bool fallback) {
  bool v;
  return json[key].get_bool().get(v) ? fallback : v;
}

inline std::string string_field(simdjson::dom::element json, const char* key, const std::string& source,
                                const std::string& what) {
  std::string_view v;
  if (json[key].get_string().get(v)) throw InputError(source, 0, what + " has no string \"" + key + "\"");
  return std::string(v);
}

// A {"Regex": ...} pattern compiled for the general path; a regex PCRE2
// refuses is the file's error, named with the component.
inline std::shared_ptr<const RegexSplitter> compile_pattern_regex(std::string_view regex, const std::string& source,
                                                                 const std::string& what) {
  try {
    return std::make_shared<const RegexSplitter>(regex);
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    throw InputError(source, 0, what + ": " + e.what());
  }
}

}  // namespace sp::hf
