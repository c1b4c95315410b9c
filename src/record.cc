#include "sp/record.h"

#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include <cerrno>
#include <ctime>

#include "sp/checksum.h"
#include "sp/error.h"
#include "sp/failpoint.h"
#include "sp/fs.h"
#include "sp/io.h"
#include "sp/json_out.h"

namespace sp {

namespace {

constexpr int kRecordVersion = 1;
constexpr std::string_view kRecordSuffix = ".sp-record";

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string serialize(const CompletionRecord& r) {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  std::string s = "{\n  \"sp_record\": " + std::to_string(kRecordVersion) + ",\n";
  s += "  \"tool\": " + json_quote(r.tool) + ",\n";
  s += "  \"tool_version\": " + json_quote(SP_VERSION) + ",\n";
  s += "  \"host\": " + json_quote(host) + ",\n";
  s += "  \"written_unix\": " + std::to_string(static_cast<long long>(std::time(nullptr))) + ",\n";
  s += "  \"options\": {";
  for (size_t i = 0; i < r.options.size(); ++i)
    s += (i ? ", " : "") + json_quote(r.options[i].first) + ": " + json_quote(r.options[i].second);
  s += "},\n  \"inputs\": [";
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    const FileIdentity& f = r.inputs[i];
    s += std::string(i ? "," : "") + "\n    {\"path\": " + json_quote(f.path) + ", \"size\": " + std::to_string(f.size) +
         ", \"mtime_ns\": " + std::to_string(f.mtime_ns) + ", \"fingerprint\": " + json_quote(f.fingerprint) + "}";
  }
  s += "],\n  \"outputs\": [";
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    const FileIdentity& f = r.outputs[i];
    s += std::string(i ? "," : "") + "\n    {\"name\": " + json_quote(base_name(f.path)) +
         ", \"size\": " + std::to_string(f.size) + ", \"mtime_ns\": " + std::to_string(f.mtime_ns) +
         ", \"checksum\": " + json_quote(f.fingerprint) + "}";
  }
  s += "],\n  \"counts\": {";
  for (size_t i = 0; i < r.counts.size(); ++i)
    s += (i ? ", " : "") + json_quote(r.counts[i].first) + ": " + std::to_string(r.counts[i].second);
  s += "}\n}\n";
  return s;
}

// Parses a record file; throws Error naming it when it is not one.
CompletionRecord parse(const std::string& path) {
  const std::string text = read_file(path);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text).get(root)) throw Error("'" + path + "' is not valid JSON");
  auto fail = [&](const std::string& why) -> void { throw Error("'" + path + "': " + why); };
  int64_t version = 0;
  if (root["sp_record"].get(version) || version != kRecordVersion)
    fail("not a completion record of version " + std::to_string(kRecordVersion));
  CompletionRecord r;
  r.path = path;
  std::string_view sv;
  if (root["tool"].get(sv)) fail("no tool");
  r.tool = std::string(sv);
  simdjson::dom::object obj;
  if (root["options"].get(obj)) fail("no options");
  for (auto [k, v] : obj) {
    if (v.get(sv)) fail("option '" + std::string(k) + "' is not a string");
    r.options.emplace_back(std::string(k), std::string(sv));
  }
  auto files = [&](const char* key, const char* name_key, const char* print_key, std::vector<FileIdentity>& out) {
    simdjson::dom::array arr;
    if (root[key].get(arr)) fail(std::string("no ") + key);
    for (simdjson::dom::element e : arr) {
      FileIdentity f;
      uint64_t size = 0;
      int64_t mtime = 0;
      std::string_view name, print;
      if (e[name_key].get(name) || e["size"].get(size) || e["mtime_ns"].get(mtime) || e[print_key].get(print))
        fail(std::string("malformed entry in ") + key);
      f.path = std::string(name), f.size = size, f.mtime_ns = mtime, f.fingerprint = std::string(print);
      out.push_back(std::move(f));
    }
  };
  files("inputs", "path", "fingerprint", r.inputs);
  files("outputs", "name", "checksum", r.outputs);
  for (auto& f : r.outputs) f.path = parent_dir(path) + "/" + f.path;
  if (!root["counts"].get(obj)) {
    for (auto [k, v] : obj) {
      uint64_t n = 0;
      if (v.get(n)) fail("count '" + std::string(k) + "' is not a number");
      r.counts.emplace_back(std::string(k), n);
    }
  }
  return r;
}

std::string option_value(const CompletionRecord& r, const std::string& key, bool* found) {
  for (const auto& [k, v] : r.options)
    if (k == key) {
      *found = true;
      return v;
    }
  *found = false;
  return "";
}

// Why the record's inputs/options differ from the expected ones ("" when they agree).
std::string stale_reason(const CompletionRecord& want, const CompletionRecord& got) {
  if (got.tool != want.tool) return "it was made by " + got.tool + ", not " + want.tool;
  for (const auto& [k, v] : want.options) {
    bool found;
    const std::string had = option_value(got, k, &found);
    if (!found) return "it was made without the setting " + k + " (now " + v + ")";
    if (had != v) return "it was made with " + k + " " + had + ", not " + v;
  }
  for (const auto& [k, v] : got.options) {
    bool found;
    option_value(want, k, &found);
    if (!found) return "it was made with the setting " + k + " " + v + ", which this command does not use";
  }
  if (got.inputs.size() != want.inputs.size())
    return "it was made from " + std::to_string(got.inputs.size()) + " input(s), not " +
           std::to_string(want.inputs.size());
  for (size_t i = 0; i < want.inputs.size(); ++i) {
    const FileIdentity &w = want.inputs[i], &g = got.inputs[i];
    if (w.path != g.path) return "it was made from '" + g.path + "', not '" + w.path + "'";
    if (!w.present) continue;
    if (w.size != g.size)
      return "its input '" + w.path + "' is " + std::to_string(w.size) + " bytes now, " + std::to_string(g.size) +
             " when it was made";
    if (w.mtime_ns != g.mtime_ns || w.fingerprint != g.fingerprint)
      return "its input '" + w.path + "' was modified after it was made";
  }
  return "";
}

// Why the outputs on disk differ from the record ("" when they agree).
std::string damage_reason(const CompletionRecord& want, const CompletionRecord& got, VerifyDepth depth) {
  if (got.outputs.size() != want.outputs.size()) return "the record lists other outputs";
  for (size_t i = 0; i < want.outputs.size(); ++i)
    if (base_name(want.outputs[i].path) != base_name(got.outputs[i].path)) return "the record lists other outputs";
  for (const FileIdentity& o : got.outputs) {
    struct stat st;
    if (::stat(o.path.c_str(), &st) != 0) return "'" + o.path + "' is missing";
    if (!S_ISREG(st.st_mode)) return "'" + o.path + "' is not a regular file";
    if (static_cast<uint64_t>(st.st_size) != o.size)
      return "'" + o.path + "' is " + std::to_string(st.st_size) + " bytes, its record says " + std::to_string(o.size);
    if (mtime_ns(st) != o.mtime_ns) return "'" + o.path + "' was modified after its record was written";
  }
  if (depth == VerifyDepth::kFull)
    for (const FileIdentity& o : got.outputs)
      if (file_checksum(o.path) != o.fingerprint) return "'" + o.path + "' does not match its recorded checksum";
  return "";
}

}  // namespace

uint64_t CompletionRecord::count(const std::string& name) const {
  for (const auto& [k, v] : counts)
    if (k == name) return v;
  return 0;
}

std::string record_path_for(const std::string& output) { return output + std::string(kRecordSuffix); }

bool is_record_name(const std::string& name) { return ends_with(name, kRecordSuffix); }

FileIdentity identify_input(const std::string& path) {
  FileIdentity f;
  f.path = absolute_path(path);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) throw Error(errno_message("cannot stat", path));
    f.present = false;
    return f;
  }
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_ns = mtime_ns(st);
  f.fingerprint = ends_fingerprint(path);
  return f;
}

FileIdentity identify_output(const std::string& path, const std::string& checksum) {
  FileIdentity f;
  f.path = path;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(errno_message("cannot stat", path));
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_ns = mtime_ns(st);
  f.fingerprint = checksum.empty() ? file_checksum(path) : checksum;
  return f;
}

CompletionRecord read_record(const std::string& record_path) { return parse(record_path); }

void write_record(const CompletionRecord& record) {
  AtomicFile f(record.path, 4096);
  f.write(serialize(record));
  failpoint("record.before_rename");
  f.commit();
  failpoint("record.after_rename");
}

void build_recorded(std::vector<CompletionRecord>& records, const std::function<BuildResult()>& build) {
  for (const CompletionRecord& r : records) remove_record(r.path);
  failpoint("build.after_records_removed");
  const BuildResult built = build();
  failpoint("build.after_outputs");
  for (CompletionRecord& r : records) {
    for (FileIdentity& o : r.outputs) {
      const auto it = built.checksums.find(o.path);
      o = identify_output(o.path, it == built.checksums.end() ? "" : it->second);
    }
    r.counts = built.counts;
    write_record(r);
  }
}

void remove_record(const std::string& record_path) {
  if (::unlink(record_path.c_str()) != 0 && errno != ENOENT)
    throw Error(errno_message("cannot remove completion record", record_path));
}

CompletionCheck check_completion(const CompletionRecord& expected, VerifyDepth depth) {
  CompletionCheck c;
  struct stat st;
  if (::lstat(expected.path.c_str(), &st) != 0) {
    if (errno != ENOENT) throw Error(errno_message("cannot stat", expected.path));
    c.state = Completion::kAbsent;
    for (const FileIdentity& o : expected.outputs)
      if (::lstat(o.path.c_str(), &st) == 0) {
        c.state = Completion::kUnrecorded;
        c.reason = "'" + o.path + "' exists but no completion record vouches for it (an interrupted run, an older "
                   "version or another program made it)";
        break;
      }
    return c;
  }
  try {
    c.record = parse(expected.path);
  } catch (const Error& e) {
    c.state = Completion::kDamaged;
    c.reason = std::string("its completion record is unreadable: ") + e.what();
    return c;
  }
  if (std::string why = damage_reason(expected, c.record, depth); !why.empty()) {
    c.state = Completion::kDamaged;
    c.reason = why;
  } else if (std::string stale = stale_reason(expected, c.record); !stale.empty()) {
    c.state = Completion::kStale;
    c.reason = stale;
  } else {
    c.state = Completion::kComplete;
  }
  return c;
}

OutputDecision decide_outputs(const CompletionCheck& check, const std::string& what,
                              const std::string& missing_source, bool overwrite, bool remove_source) {
  const bool complete = check.state == Completion::kComplete;
  if (complete && (!overwrite || !missing_source.empty())) return {OutputPlan::kKeep, ""};
  if (!missing_source.empty())
    return {OutputPlan::kRefuse, "source '" + missing_source + "' was removed, but " + what +
                                     " cannot be rebuilt without it and cannot be trusted now: " +
                                     (check.reason.empty() ? "it does not exist" : check.reason) +
                                     "; restore the source (e.g. download it again) and rerun"};
  if (remove_source && (check.state == Completion::kStale || check.state == Completion::kDamaged))
    return {OutputPlan::kRefuse, "not removing the source(s) of " + what + ": " + check.reason +
                                     "; delete it and its .sp-record to rebuild it, or rerun without --remove-source"};
  if (complete) return {OutputPlan::kBuild, "rebuilding " + what + " (--overwrite)"};
  if (check.state == Completion::kAbsent) return {OutputPlan::kBuild, ""};
  return {OutputPlan::kBuild, "rebuilding " + what + ": " + check.reason};
}

std::string record_difference(const CompletionRecord& expected, const CompletionRecord& got) {
  return stale_reason(expected, got);
}

const char* completion_name(Completion c) {
  switch (c) {
    case Completion::kComplete: return "complete";
    case Completion::kAbsent: return "absent";
    case Completion::kUnrecorded: return "unrecorded";
    case Completion::kStale: return "stale";
    case Completion::kDamaged: return "damaged";
  }
  return "?";
}

}  // namespace sp
