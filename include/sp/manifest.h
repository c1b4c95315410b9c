// Download manifests: which URLs to fetch, what they must hash to, how large
// they are and where they go. One entry per line, tab-separated:
//   URL [SHA256|- [SIZE|- [RELATIVE_PATH]]]
// Blank lines and lines starting with '#' are ignored. Also the built-in
// SlimPajama-627B manifests, generated from the published per-chunk counts.
//
// Guarantee: every entry parse_manifest returns has an http(s) URL that
// libcurl accepts (RFC 3986 characters only, valid percent escapes, a host)
// and a safe relative path; neither holds a control character.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

struct ManifestEntry {
  std::string url;
  std::string sha256;  // lower-case hex, or "" when unknown
  uint64_t size = 0;   // bytes; 0 when unknown (an empty file cannot be told apart, and needs no download)
  bool size_known = false;
  std::string path;    // relative output path, '/'-separated, never absolute, no "..", no control characters
  uint64_t line = 0;   // 1-based line in the manifest file (0 for generated entries)
};

// Parses manifest text; `name` is used in errors ("name:line: reason").
// Throws InputError on a malformed line, an invalid URL (a space, a character
// outside RFC 3986, a bad %-escape, no host, a scheme other than http/https), a
// control character (NUL included) in a URL or path, an unsafe relative path
// (absolute, "..", or ending in ".part" / ".part.meta", the names of partial
// downloads), or two entries mapping to the same output path.
std::vector<ManifestEntry> parse_manifest(std::string_view text, const std::string& name);

// Reads and parses a manifest file ("-" for standard input).
std::vector<ManifestEntry> load_manifest(const std::string& path);

// One manifest line for an entry (the inverse of parse_manifest).
std::string format_manifest_line(const ManifestEntry& e);

// The last path component of a URL, without query or fragment; "" when none.
std::string url_file_name(std::string_view url);

// Built-in manifests: "slimpajama:train", "slimpajama:validation",
// "slimpajama:test" (and "slimpajama:all"). base_url is the Hub or a mirror
// ("https://huggingface.co"). Throws UsageError for an unknown name.
std::vector<ManifestEntry> builtin_manifest(const std::string& name, const std::string& base_url);

// Names accepted by builtin_manifest, for --help and error messages.
std::vector<std::string> builtin_manifest_names();

// Number of files per chunk of a SlimPajama-627B split ("train",
// "validation", "test"); chunks are numbered from 1.
std::vector<int> slimpajama_chunk_counts(const std::string& split);

}  // namespace sp
