#include "sp/manifest.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <unordered_map>

#include "sp/error.h"
#include "sp/sha256.h"

namespace sp {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Output paths come from a file that may be shared or generated: refuse
// anything that could escape the output directory.
std::string check_relative_path(std::string_view p, const std::string& name, uint64_t line) {
  if (p.empty()) throw InputError(name, line, "empty output path");
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
  if (p.size() >= 5 && p.substr(p.size() - 5) == ".part")
    throw InputError(name, line, "output path '" + std::string(p) + "' must not end in .part (used for partial downloads)");
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
    if (e.url.rfind("http://", 0) != 0 && e.url.rfind("https://", 0) != 0)
      throw InputError(name, line_no, "'" + e.url + "' is not an http:// or https:// URL");
    if (f.size() > 1 && !f[1].empty() && f[1] != "-") {
      if (!is_sha256_hex(f[1])) throw InputError(name, line_no, "'" + std::string(f[1]) + "' is not a SHA-256 (64 hex digits) or '-'");
      e.sha256 = std::string(f[1]);
      for (auto& c : e.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (f.size() > 2 && !f[2].empty() && f[2] != "-") {
      std::string v(f[2]);
      char* end = nullptr;
      errno = 0;
      unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (errno || *end || v.front() == '-' || !std::isdigit(static_cast<unsigned char>(v.front())))
        throw InputError(name, line_no, "'" + v + "' is not a size in bytes or '-'");
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
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(errno_message("cannot open manifest", path));
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) throw Error(errno_message("cannot read manifest", path));
  }
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
