// Writing small JSON documents (stats, reports) without a dependency: the
// tools emit flat objects and arrays of them, so string quoting is all we need.
#pragma once

#include <string>
#include <string_view>

namespace sp {

// `s` as a JSON string literal, quotes included. Invalid UTF-8 bytes are
// replaced by U+FFFD so the output is always valid JSON.
std::string json_quote(std::string_view s);

}  // namespace sp
