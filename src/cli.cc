#include "sp/cli.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "sp/error.h"
#include "sp/tokenizer.h"

namespace sp::cli {

namespace {

const Option* find_option(const Program& p, std::string_view name) {
  for (const auto& o : p.options) {
    if (o.name == name) return &o;
    for (const auto& a : o.aliases)
      if (a == name) return &o;
  }
  return nullptr;
}

// Word-wraps `text` to `width` columns; continuation lines start at `indent`.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::string out;
  size_t col = indent, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    const size_t len = end - pos;
    if (col > indent && col + 1 + len > width) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    } else if (col > indent) {
      out += ' ';
      ++col;
    }
    out.append(text, pos, len);
    col += len;
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::string help_text(const Program& p) {
  std::string s = p.name + " " + SP_VERSION + " - " + p.summary + "\n\nUsage: " + p.usage + "\n\nOptions:\n";
  std::vector<Option> all = p.options;
  all.push_back({"help", "", "Show this help and exit."});
  all.push_back({"version", "", "Show the version and exit."});
  for (const auto& o : all) {
    std::string head = "  --" + o.name;
    if (o.optional_value) head += "[=" + o.metavar + "]";
    else if (!o.metavar.empty()) head += " " + o.metavar + (o.list ? " [...]" : "");
    for (const auto& a : o.aliases) head += ", --" + a;
    s += head;
    if (head.size() < 30) {
      s += std::string(30 - head.size(), ' ');
    } else {
      s += "\n" + std::string(30, ' ');
    }
    std::string text = o.help;
    if (!o.default_value.empty()) text += " (default: " + o.default_value + ")";
    s += wrap(text, 30, 100) + "\n";
  }
  if (!p.epilog.empty()) s += "\n" + p.epilog + (p.epilog.back() == '\n' ? "" : "\n");
  // The same for every tool (run_tool and sp/interrupt.h implement it).
  s += "\nSignals: SIGINT, SIGTERM (a batch system's time limit) or SIGHUP stop the run cleanly: unfinished\n"
       "outputs are not left at final names, what was finished is reported, and the exit status is\n"
       "128 + the signal number (130, 143, 129); rerun the same command to finish. A second signal ends\n"
       "the process at once.\n";
  return s;
}

Args parse(const Program& p, int argc, char** argv, bool allow_positional) {
  Args args;
  for (const auto& o : p.options)
    if (!o.default_value.empty()) args.values["\x01" + o.name] = {o.default_value};
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(help_text(p).c_str(), stdout);
      std::exit(0);
    }
    if (a == "--version") {
      std::printf("%s %s\n", p.name.c_str(), SP_VERSION);
      std::exit(0);
    }
    if (a.size() < 3 || a.substr(0, 2) != "--") {
      if (allow_positional) {
        args.positional.emplace_back(a);
        continue;
      }
      throw UsageError("unexpected argument '" + std::string(a) + "'");
    }
    std::string_view body = a.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      inline_value = std::string(body.substr(eq + 1));
      body = body.substr(0, eq);
    }
    const Option* o = find_option(p, body);
    if (!o) throw UsageError("unknown option '--" + std::string(body) + "'");
    auto& slot = args.values[o->name];
    if (o->metavar.empty()) {
      if (inline_value) throw UsageError("option '--" + o->name + "' takes no value");
      slot.push_back("1");
      continue;
    }
    if (inline_value || o->optional_value) {
      slot.push_back(inline_value.value_or(""));
      continue;
    }
    // A value may itself start with '-' (a negative number), but never with "--".
    auto is_value = [&](int j) {
      return j < argc && !(argv[j][0] == '-' && argv[j][1] == '-' && argv[j][2] != '\0');
    };
    if (!is_value(i + 1)) throw UsageError("option '--" + o->name + "' needs a value (" + o->metavar + ")");
    slot.push_back(argv[++i]);
    if (o->list)
      while (is_value(i + 1)) slot.push_back(argv[++i]);
  }
  return args;
}

bool Args::has(const std::string& name) const { return values.count(name) > 0; }

std::string Args::get(const std::string& name, const std::string& fallback) const {
  if (auto it = values.find(name); it != values.end() && !it->second.empty()) return it->second.back();
  if (auto it = values.find("\x01" + name); it != values.end()) return it->second.back();
  return fallback;
}

std::vector<std::string> Args::all(const std::string& name) const {
  if (auto it = values.find(name); it != values.end()) return it->second;
  if (auto it = values.find("\x01" + name); it != values.end()) return it->second;
  return {};
}

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  std::string v = get(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (errno || end == v.c_str() || *end) throw UsageError("--" + name + ": expected an integer, got '" + v + "'");
  return x;
}

double Args::get_double(const std::string& name, double fallback) const {
  std::string v = get(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end || !std::isfinite(x))
    throw UsageError("--" + name + ": expected a number, got '" + v + "'");
  return x;
}

uint64_t Args::get_size(const std::string& name, uint64_t fallback) const {
  std::string v = get(name);
  if (v.empty()) return fallback;
  try {
    return parse_size(v);
  } catch (const UsageError& e) {
    throw UsageError("--" + name + ": " + e.what());
  }
}

uint64_t parse_size(std::string_view t) {
  std::string s(t);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) throw UsageError("expected a size like 34G, got '" + s + "'");
  double n = std::strtod(s.substr(0, i).c_str(), nullptr);
  std::string suf = s.substr(i);
  for (auto& c : suf) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suf.size() >= 2 && suf.substr(suf.size() - 2) == "IB") suf = suf.substr(0, suf.size() - 2);
  else if (suf.size() >= 2 && suf.back() == 'B') suf.pop_back();
  double mult = 1;
  if (suf.empty() || suf == "B") mult = 1;
  else if (suf == "K") mult = 1024.0;
  else if (suf == "M") mult = 1024.0 * 1024;
  else if (suf == "G") mult = 1024.0 * 1024 * 1024;
  else if (suf == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else throw UsageError("unknown size suffix in '" + s + "' (use K, M, G or T)");
  double v = n * mult;
  if (!std::isfinite(v) || v >= 1.8e19) throw UsageError("size too large: '" + s + "'");
  return static_cast<uint64_t>(std::llround(v));
}

std::string format_size(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string format_duration(double sec) {
  if (!std::isfinite(sec) || sec < 0) return "--:--";
  auto t = static_cast<long long>(sec + 0.5);
  char buf[48];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", t / 60, t % 60);
  return buf;
}

TokenizerOptions tokenizer_options(const Args& args) {
  for (const char* refused : {"tokenizer-special-tokens", "tokenizer-metadata", "tokenizer-hf-no-use-fast",
                              "tokenizer-sentencepiece-legacy", "no-tokenizer-sentencepiece-ignore-extra-whitespaces"})
    if (args.has(refused))
      throw UsageError(std::string("--") + refused + " is not supported: it changes the ids in ways sp_tokenize "
                       "does not implement");
  TokenizerOptions o;
  o.type = args.get("tokenizer-type");
  o.model = args.get("tokenizer-model");
  o.vocab_file = args.get("vocab-file");
  o.merge_file = args.get("merge-file");
  o.tiktoken_pattern = args.get("tiktoken-pattern");
  auto count = [&](const char* flag, int64_t max) -> std::optional<int64_t> {
    if (!args.has(flag)) return std::nullopt;
    const int64_t v = args.get_int(flag, 0);
    if (v < 0 || v > max) throw UsageError(std::string("--") + flag + ": expected 0.." + std::to_string(max));
    return v;
  };
  if (auto n = count("tiktoken-num-special-tokens", UINT32_MAX)) o.tiktoken_num_special_tokens = *n;
  if (auto n = count("vocab-size", UINT32_MAX)) o.vocab_size = *n;
  if (auto n = count("eod-id", UINT32_MAX)) o.eod_id = *n;
  if (args.has("eod-token")) o.eod_token = args.get("eod-token");
  o.hf_include_special_tokens = !args.flag("tokenizer-hf-no-include-special-tokens");
  return o;
}

}  // namespace sp::cli
