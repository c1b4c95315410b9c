// parse_manifest on arbitrary text: it either throws InputError pointing at a
// line of the text, or returns entries that keep every promise of
// include/sp/manifest.h (http(s) URL, lower-case SHA-256 or none, a safe
// relative path, no path twice) and that survive format_manifest_line ->
// parse_manifest unchanged.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "sp/error.h"
#include "sp/manifest.h"

namespace {

bool safe_relative_path(const std::string& p) {
  if (p.empty() || p.front() == '/') return false;
  size_t start = 0;
  for (;;) {
    const size_t end = p.find('/', start);
    const std::string part = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return !(p.size() >= 5 && p.compare(p.size() - 5, 5, ".part") == 0);
}

void check_entries(const std::vector<sp::ManifestEntry>& entries, uint64_t lines) {
  std::set<std::string> paths;
  uint64_t previous_line = 0;
  for (const auto& e : entries) {
    FUZZ_CHECK(e.url.rfind("http://", 0) == 0 || e.url.rfind("https://", 0) == 0, "URL '%s'", e.url.c_str());
    FUZZ_CHECK(e.url.find('\t') == std::string::npos && e.url.find('\n') == std::string::npos, "URL with a separator");
    FUZZ_CHECK(e.sha256.empty() || e.sha256.size() == 64, "SHA-256 '%s'", e.sha256.c_str());
    for (char c : e.sha256)
      FUZZ_CHECK(std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'), "SHA-256 '%s'", e.sha256.c_str());
    FUZZ_CHECK(e.size_known || e.size == 0, "unknown size %llu", static_cast<unsigned long long>(e.size));
    FUZZ_CHECK(safe_relative_path(e.path), "unsafe path '%s'", e.path.c_str());
    FUZZ_CHECK(paths.insert(e.path).second, "path '%s' twice", e.path.c_str());
    FUZZ_CHECK(e.line > previous_line && e.line <= lines, "line %llu", static_cast<unsigned long long>(e.line));
    previous_line = e.line;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  uint64_t lines = 0;
  for (size_t pos = 0; pos < text.size(); ++lines) {
    const size_t nl = text.find('\n', pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  std::vector<sp::ManifestEntry> entries;
  try {
    entries = sp::parse_manifest(text, "fuzz.tsv");
  } catch (const sp::InputError& e) {
    FUZZ_CHECK(e.file == "fuzz.tsv" && e.line >= 1 && e.line <= lines, "error at line %llu of %llu: %s",
               static_cast<unsigned long long>(e.line), static_cast<unsigned long long>(lines), e.what());
    FUZZ_CHECK(std::string(e.what()).rfind("fuzz.tsv:" + std::to_string(e.line) + ": ", 0) == 0,
               "message '%s'", e.what());
    return 0;
  }
  check_entries(entries, lines);

  // The formatted form is a manifest that means exactly the same.
  std::string again;
  for (const auto& e : entries) again += sp::format_manifest_line(e) + "\n";
  const auto reparsed = sp::parse_manifest(again, "again.tsv");
  FUZZ_CHECK(reparsed.size() == entries.size(), "%zu entries became %zu", entries.size(), reparsed.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& a = entries[i];
    const auto& b = reparsed[i];
    FUZZ_CHECK(a.url == b.url && a.sha256 == b.sha256 && a.size == b.size && a.size_known == b.size_known &&
                   a.path == b.path && b.line == i + 1,
               "entry %zu changed: '%s' -> '%s'", i, sp::format_manifest_line(a).c_str(),
               sp::format_manifest_line(b).c_str());
  }

  // url_file_name never returns a path, a query or a fragment.
  for (const auto& e : entries) {
    const std::string name = sp::url_file_name(e.url);
    FUZZ_CHECK(name.find_first_of("/?#") == std::string::npos, "file name '%s' of '%s'", name.c_str(), e.url.c_str());
  }
  return 0;
}
