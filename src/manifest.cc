#include "sp/manifest.h"

#include <curl/curl.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <unordered_map>

#include "sp/error.h"
#include "sp/io.h"
#include "sp/sha256.h"

namespace sp {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::string hex_byte(unsigned char c) {
  char b[8];
  std::snprintf(b, sizeof b, "\\x%02x", c);
  return b;
}

// A field as it may be shown in a message: control bytes as \xNN, so a NUL or
// an escape sequence can neither cut the message short nor reach the terminal.
std::string printable(std::string_view s) {
  std::string o;
  for (unsigned char c : s) o += is_control(c) ? hex_byte(c) : std::string(1, static_cast<char>(c));
  return o;
}

// Refuses control bytes: a NUL would cut the name short at open() (and slip
// past the duplicate check), the others have no place in a path or URL.
void check_no_control(std::string_view s, const char* what, const std::string& name, uint64_t line) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (is_control(c))
      throw InputError(name, line, std::string(what) + " '" + printable(s) + "' has a control character (" +
                                       hex_byte(c) + ") at byte " + std::to_string(i + 1));
  }
}

// RFC 3986 characters: unreserved, reserved and '%'.
bool is_url_char(unsigned char c) {
  return c < 0x80 && (std::isalnum(c) || (c != 0 && std::strchr("-._~:/?#[]@!$&'()*+,;=%", c) != nullptr));
}

// A URL is checked when the manifest is loaded, not when its file's turn
// comes hours later: characters first (with a hint), then libcurl's own parser.
void check_url(const std::string& url, const std::string& name, uint64_t line) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    throw InputError(name, line, "'" + printable(url) + "' is not an http:// or https:// URL");
  check_no_control(url, "URL", name, line);
  for (size_t i = 0; i < url.size(); ++i) {
    const auto c = static_cast<unsigned char>(url[i]);
    auto bad = [&](const std::string& what, const std::string& hint) {
      return InputError(name, line, "URL '" + url + "' has " + what + " at byte " + std::to_string(i + 1) + hint);
    };
    if (c == ' ') throw bad("a space", "; write it as %20");
    if (!is_url_char(c)) {
      char enc[4];
      std::snprintf(enc, sizeof enc, "%%%02X", c);
      std::string shown = hex_byte(c);
      if (c < 0x80) shown = {'\'', static_cast<char>(c), '\''};
      throw bad("a character not allowed in URLs (" + shown + ")", std::string("; percent-encode it (") + enc + ")");
    }
    if (c == '%' && (i + 2 >= url.size() || !std::isxdigit(static_cast<unsigned char>(url[i + 1])) ||
                     !std::isxdigit(static_cast<unsigned char>(url[i + 2]))))
      throw bad("a '%' not followed by two hex digits", "");
  }
  // libcurl reads "https:///x" as host "x"; a host-less URL is a typo here.
  const std::string_view rest = std::string_view(url).substr(url.find("://") + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.empty() || authority.front() == ':') throw InputError(name, line, "URL '" + url + "' has no host");
  CURLU* u = curl_url();
  if (!u) throw Error("libcurl: out of memory");
  const CURLUcode rc = curl_url_set(u, CURLUPART_URL, url.c_str(), 0);
  curl_url_cleanup(u);
  if (rc != CURLUE_OK) throw InputError(name, line, "URL '" + url + "' is not valid: " + curl_url_strerror(rc));
}

// Output paths come from a file that may be shared or generated: refuse
// anything that could escape the output directory.
std::string check_relative_path(std::string_view p, const std::string& name, uint64_t line) {
  if (p.empty()) throw InputError(name, line, "empty output path");
  check_no_control(p, "output path", name, line);
  if (p.front() == '/') throw InputError(name, line, "output path '" + std::string(p) + "' must be relative");
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    std::string_view part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      throw InputError(name, line, "output path '" + std::string(p) + "' has an empty, '.' or '..' component");
    start = end + 1;
  }
  for (std::string_view suffix : {std::string_view(".part"), std::string_view(".part.meta"),
                                   std::string_view(".sp-record")})
    if (p.size() >= suffix.size() && p.substr(p.size() - suffix.size()) == suffix)
      throw InputError(name, line, "output path '" + std::string(p) + "' must not end in " + std::string(suffix) +
                                       " (used for partial downloads and completion records)");
  return std::string(p);
}

}  // namespace

std::string url_file_name(std::string_view url) {
  size_t cut = url.find_first_of("?#");
  if (cut != std::string_view::npos) url = url.substr(0, cut);
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return "";  // host only
  std::string_view path = rest.substr(slash);
  size_t last = path.find_last_of('/');
  return std::string(path.substr(last + 1));
}

std::vector<ManifestEntry> parse_manifest(std::string_view text, const std::string& name) {
  std::vector<ManifestEntry> out;
  std::unordered_map<std::string, uint64_t> seen;  // path -> line
  uint64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;

    std::vector<std::string_view> f;
    size_t s = 0;
    for (;;) {
      size_t tab = t.find('\t', s);
      f.push_back(trim(t.substr(s, tab == std::string_view::npos ? std::string_view::npos : tab - s)));
      if (tab == std::string_view::npos) break;
      s = tab + 1;
    }
    if (f.size() > 4) throw InputError(name, line_no, "expected at most 4 tab-separated fields (URL SHA256 SIZE PATH), got " + std::to_string(f.size()));
    ManifestEntry e;
    e.line = line_no;
    e.url = std::string(f[0]);
    check_url(e.url, name, line_no);
    if (f.size() > 1 && !f[1].empty() && f[1] != "-") {
      if (!is_sha256_hex(f[1]))
        throw InputError(name, line_no, "'" + printable(f[1]) + "' is not a SHA-256 (64 hex digits) or '-'");
      e.sha256 = std::string(f[1]);
      for (auto& c : e.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (f.size() > 2 && !f[2].empty() && f[2] != "-") {
      std::string v(f[2]);
      char* end = nullptr;
      errno = 0;
      unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (errno || *end || v.front() == '-' || !std::isdigit(static_cast<unsigned char>(v.front())))
        throw InputError(name, line_no, "'" + printable(v) + "' is not a size in bytes or '-'");
      e.size = n;
      e.size_known = true;
    }
    if (f.size() > 3 && !f[3].empty() && f[3] != "-") {
      e.path = check_relative_path(f[3], name, line_no);
    } else {
      std::string base = url_file_name(e.url);
      // A name with white space at either end could not be written back as a
      // 4th field (fields are trimmed), so it is no name either.
      if (base.empty() || trim(base) != base) throw InputError(name, line_no, "cannot name a file after '" + e.url + "': give an output path in the 4th field");
      e.path = check_relative_path(base, name, line_no);
    }
    auto [it, fresh] = seen.emplace(e.path, line_no);
    if (!fresh)
      throw InputError(name, line_no, "output path '" + e.path + "' is already used by line " + std::to_string(it->second));
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ManifestEntry> load_manifest(const std::string& path) {
  const std::string text = read_file(path);
  return parse_manifest(text, path == "-" ? "<stdin>" : path);
}

std::string format_manifest_line(const ManifestEntry& e) {
  std::string s = e.url + "\t" + (e.sha256.empty() ? "-" : e.sha256) + "\t" +
                  (e.size_known ? std::to_string(e.size) : "-") + "\t" + e.path;
  return s;
}

// Files per chunk of SlimPajama-627B (cerebras/SlimPajama-627B on the Hugging
// Face Hub). Train: the published counts (sum 59,166, the file count on the
// dataset card). Validation and test: from a public SlimPajama data-loader's
// CHUNK_SIZES table found by code search (the same table lists exactly the
// train counts above, which is why we trust it). They were not re-listed
// against the Hub here (no network); docs/sp_download.md says how to check.
std::vector<int> slimpajama_chunk_counts(const std::string& split) {
  if (split == "train") return {5912, 5911, 5919, 5917, 5933, 5915, 5906, 5921, 5920, 5912};
  if (split == "validation") return {6279, 6278, 6286, 6284, 6301};
  if (split == "test") return {6282, 6273, 6289, 6288, 6279};
  throw UsageError("unknown SlimPajama split '" + split + "' (use train, validation or test)");
}

std::vector<std::string> builtin_manifest_names() {
  return {"slimpajama:train", "slimpajama:validation", "slimpajama:test", "slimpajama:all"};
}

std::vector<ManifestEntry> builtin_manifest(const std::string& name, const std::string& base_url) {
  std::vector<std::string> splits;
  if (name == "slimpajama:train") splits = {"train"};
  else if (name == "slimpajama:validation") splits = {"validation"};
  else if (name == "slimpajama:test") splits = {"test"};
  else if (name == "slimpajama:all") splits = {"train", "validation", "test"};
  else {
    std::string known;
    for (const auto& n : builtin_manifest_names()) known += (known.empty() ? "" : ", ") + n;
    throw UsageError("unknown built-in manifest '" + name + "' (known: " + known + ")");
  }
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0)
    throw UsageError("--base-url: '" + base_url + "' is not an http:// or https:// URL");
  std::vector<ManifestEntry> out;
  for (const auto& split : splits) {
    const std::string kind = split == "train" ? "train" : "holdout";
    auto counts = slimpajama_chunk_counts(split);
    for (size_t c = 0; c < counts.size(); ++c) {
      const std::string dir = split + "/chunk" + std::to_string(c + 1);
      for (int i = 0; i < counts[c]; ++i) {
        ManifestEntry e;
        e.path = dir + "/example_" + kind + "_" + std::to_string(i) + ".jsonl.zst";
        e.url = base + "/datasets/cerebras/SlimPajama-627B/resolve/main/" + e.path;
        out.push_back(std::move(e));
      }
    }
  }
  return out;
}

}  // namespace sp
