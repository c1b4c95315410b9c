// HF tokenizers' decoders (tokenizers/src/decoders, pre_tokenizers/byte_level.rs
// and metaspace.rs, normalizers/replace.rs): each maps the list of token
// strings to a new list; Decoder::decode joins the last list.
#include "hf_decoder.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "hf_json.h"
#include "regex_split.h"
#include "sp/bpe.h"
#include "sp/error.h"
#include "sp/unicode.h"

namespace sp::hf {

struct Decoder::Step {
  enum class Kind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip, kBpe } kind;
  std::string pattern, content;                // kReplace (literal pattern), kBpe (suffix in pattern)
  std::shared_ptr<const RegexSplitter> regex;  // kReplace with a Regex pattern
  char32_t ch = 0;                             // kMetaspace: the replacement; kStrip: the content
  bool strip_first = false;                    // kMetaspace: prepend_scheme is not "never"
  size_t start = 0, stop = 0;                  // kStrip
};

namespace {

constexpr char32_t kInvalidByte = 0xFFFFFFFF;
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// The character at s[pos] and its length; a byte that starts no well-formed
// sequence is one unit of its own (kInvalidByte).
char32_t unit_at(std::string_view s, size_t pos, size_t* len) {
  *len = utf8_sequence_length(s, pos);
  if (*len == 0) {
    *len = 1;
    return kInvalidByte;
  }
  return decode_utf8(s.data() + pos, len);
}

// The one character of a JSON string field (Rust's `char`).
char32_t char_field(simdjson::dom::element json, const char* key, const std::string& source,
                    const std::string& what) {
  const std::string s = string_field(json, key, source, what);
  size_t len = 0;
  if (s.empty() || utf8_sequence_length(s, 0) != s.size())
    throw InputError(source, 0, what + " \"" + key + "\" must be one character");
  return decode_utf8(s.data(), &len);
}

size_t size_field(simdjson::dom::element json, const char* key, const std::string& source, const std::string& what) {
  uint64_t v;
  if (json[key].get_uint64().get(v)) throw InputError(source, 0, what + " has no unsigned integer \"" + key + "\"");
  return static_cast<size_t>(v);
}

// Rust's u8::from_str_radix(s, 16) on two characters: hex digits, or '+'
// and one hex digit.
std::optional<uint8_t> hex_byte(char a, char b) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (a == '+') {
    const int d = digit(b);
    return d < 0 ? std::nullopt : std::optional<uint8_t>(static_cast<uint8_t>(d));
  }
  const int hi = digit(a), lo = digit(b);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

std::optional<uint8_t> byte_token(const std::string& t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t.back() != '>') return std::nullopt;
  return hex_byte(t[3], t[4]);
}

// An empty pattern matches around every character (Rust's str::replace;
// HF's Replace the same).
void replace_literal(const std::string& in, const std::string& pattern, const std::string& content,
                     std::string& out) {
  out.clear();
  if (pattern.empty()) {
    out = content;
    for (size_t pos = 0, len; pos < in.size(); pos += len) {
      unit_at(in, pos, &len);
      out.append(in, pos, len).append(content);
    }
    return;
  }
  size_t pos = 0;
  for (size_t at; (at = in.find(pattern, pos)) != std::string::npos; pos = at + pattern.size())
    out.append(in, pos, at - pos).append(content);
  out.append(in, pos);
}

// A regex runs on well-formed text: where raw bytes broke a token, on each
// well-formed stretch between them.
void replace_regex(const std::string& in, const RegexSplitter& regex, const std::string& content, std::string& out) {
  out.clear();
  std::vector<std::pair<size_t, size_t>> matches;
  for (size_t pos = 0; pos < in.size();) {
    size_t end = pos;
    while (end < in.size() && utf8_sequence_length(in, end) != 0) end += utf8_sequence_length(in, end);
    const std::string_view stretch(in.data() + pos, end - pos);
    regex.find_matches(stretch, matches);
    size_t done = 0;
    for (const auto& [b, e] : matches) {
      out.append(stretch.substr(done, b - done)).append(content);
      done = e;
    }
    out.append(stretch.substr(done));
    if (end < in.size()) out += in[end++];
    pos = end;
  }
}

}  // namespace

void append_utf8_lossy(std::string_view bytes, std::string& out) {
  for (size_t i = 0; i < bytes.size();) {
    if (const size_t n = utf8_sequence_length(bytes, i); n != 0) {
      out.append(bytes.substr(i, n));
      i += n;
      continue;
    }
    // The maximal subpart: the lead byte and the continuation bytes that
    // could still have completed it (Unicode Table 3-7's second-byte ranges).
    const auto b = static_cast<uint8_t>(bytes[i]);
    size_t want = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) want = 1;
    else if (b >= 0xE0 && b <= 0xEF) want = 2, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4) want = 3, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    size_t n = 1;
    for (; n <= want && i + n < bytes.size(); ++n) {
      const auto c = static_cast<uint8_t>(bytes[i + n]);
      if (c < (n == 1 ? lo : 0x80) || c > (n == 1 ? hi : 0xBF)) break;
    }
    out.append(kReplacementChar);
    i += n;
  }
}

Decoder::Decoder() = default;
Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;

Decoder Decoder::parse(simdjson::dom::element json, const std::string& source) {
  Decoder d;
  if (json.is_null()) return d;
  d.present_ = true;
  parse_into(json, source, d.steps_);
  return d;
}

void Decoder::parse_into(simdjson::dom::element json, const std::string& source, std::vector<Step>& steps) {
  if (!json.is_object()) throw InputError(source, 0, "decoder is not an object");
  const std::string type = string_field(json, "type", source, "decoder");
  const std::string what = "decoder " + type;
  Step s{};
  if (type == "Sequence") {
    simdjson::dom::array list;
    if (json["decoders"].get_array().get(list)) throw InputError(source, 0, "decoder Sequence has no \"decoders\"");
    for (simdjson::dom::element e : list) parse_into(e, source, steps);  // each maps a list to a list: flattened
    return;
  } else if (type == "ByteLevel") {
    s.kind = Step::Kind::kByteLevel;
  } else if (type == "Metaspace") {
    s.kind = Step::Kind::kMetaspace;
    s.ch = char_field(json, "replacement", source, what);
    // prepend_scheme (default "always"); the older add_prefix_space = false means "never".
    std::string_view scheme = "always";
    simdjson::dom::element e;
    if (!json["prepend_scheme"].get(e) && e.get_string().get(scheme))
      throw InputError(source, 0, what + " \"prepend_scheme\" is not a string");
    if (scheme != "always" && scheme != "first" && scheme != "never")
      throw InputError(source, 0, what + " prepend_scheme " + std::string(scheme) + " is not first, always or never");
    if (!bool_field(json, "add_prefix_space", true) && scheme != "never")
      throw InputError(source, 0, what + ": add_prefix_space does not match declared prepend_scheme");
    s.strip_first = scheme != "never";
  } else if (type == "Replace") {
    s.kind = Step::Kind::kReplace;
    s.content = string_field(json, "content", source, what);
    simdjson::dom::element pattern;
    if (json["pattern"].get(pattern) || !pattern.is_object())
      throw InputError(source, 0, what + " has no \"pattern\" object");
    std::string_view text;
    if (!pattern["String"].get_string().get(text))
      s.pattern = std::string(text);
    else if (!pattern["Regex"].get_string().get(text))
      s.regex = compile_pattern_regex(text, source, what);
    else
      throw InputError(source, 0, what + " pattern is neither {\"String\": ...} nor {\"Regex\": ...}");
  } else if (type == "ByteFallback") {
    s.kind = Step::Kind::kByteFallback;
  } else if (type == "Fuse") {
    s.kind = Step::Kind::kFuse;
  } else if (type == "Strip") {
    s.kind = Step::Kind::kStrip;
    s.ch = char_field(json, "content", source, what);
    s.start = size_field(json, "start", source, what);
    s.stop = size_field(json, "stop", source, what);
  } else if (type == "BPEDecoder") {
    s.kind = Step::Kind::kBpe;
    std::string_view suffix = "</w>";
    simdjson::dom::element e;
    if (!json["suffix"].get(e) && e.get_string().get(suffix))
      throw InputError(source, 0, what + " \"suffix\" is not a string");
    s.pattern = std::string(suffix);
  } else {
    throw InputError(source, 0,
                     "decoder type " + type +
                         " is not supported (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, "
                         "BPEDecoder, Sequence)");
  }
  steps.push_back(std::move(s));
}

std::string Decoder::decode(std::vector<std::string> tokens, bool as_hf_text) const {
  if (!present_) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  std::vector<std::string> next;
  std::string scratch;
  for (const Step& s : steps_) {
    next.clear();
    switch (s.kind) {
      case Step::Kind::kByteLevel: {
        // Each token's characters as the bytes they stand for; a token with
        // any other character stays as it is.
        std::string bytes, joined;
        for (const std::string& t : tokens) joined += gpt2_unicode_to_bytes(t, bytes) ? bytes : t;
        if (as_hf_text) {
          scratch.clear();
          append_utf8_lossy(joined, scratch);
          joined.swap(scratch);
        }
        next.push_back(std::move(joined));
        break;
      }
      case Step::Kind::kMetaspace: {
        for (size_t i = 0; i < tokens.size(); ++i) {
          const std::string& t = tokens[i];
          std::string out;
          for (size_t pos = 0, len; pos < t.size(); pos += len) {
            if (unit_at(t, pos, &len) != s.ch) out.append(t, pos, len);
            else if (!(i == 0 && s.strip_first)) out += ' ';
          }
          next.push_back(std::move(out));
        }
        break;
      }
      case Step::Kind::kReplace:
        for (const std::string& t : tokens) {
          if (s.regex) replace_regex(t, *s.regex, s.content, scratch);
          else replace_literal(t, s.pattern, s.content, scratch);
          next.push_back(scratch);
        }
        break;
      case Step::Kind::kByteFallback: {
        std::string run;
        size_t run_tokens = 0;
        auto flush = [&] {
          if (run_tokens == 0) return;
          if (!as_hf_text || is_valid_utf8(run)) {
            next.push_back(run);
          } else {
            for (size_t k = 0; k < run_tokens; ++k) next.emplace_back(kReplacementChar);
          }
          run.clear();
          run_tokens = 0;
        };
        for (std::string& t : tokens) {
          if (const auto b = byte_token(t)) {
            run += static_cast<char>(*b);
            ++run_tokens;
          } else {
            flush();
            next.push_back(std::move(t));
          }
        }
        flush();
        break;
      }
      case Step::Kind::kFuse: {
        std::string joined;
        for (const std::string& t : tokens) joined += t;
        next.push_back(std::move(joined));
        break;
      }
      case Step::Kind::kStrip:
        for (const std::string& t : tokens) {
          std::vector<std::pair<size_t, size_t>> units;  // [offset, length]
          for (size_t pos = 0, len; pos < t.size(); pos += len) {
            unit_at(t, pos, &len);
            units.emplace_back(pos, len);
          }
          auto is_content = [&](size_t k) {
            size_t len;
            return unit_at(t, units[k].first, &len) == s.ch;
          };
          size_t begin = 0, end = units.size();
          for (size_t k = 0; k < std::min(s.start, units.size()) && is_content(k); ++k) begin = k + 1;
          for (size_t k = 0; k < s.stop && k < units.size() && is_content(units.size() - 1 - k); ++k)
            end = units.size() - 1 - k;
          if (end <= begin) {  // HF panics here (it slices past the cut); nothing is left to give
            next.emplace_back();
          } else {
            const size_t from = units[begin].first, to = end == units.size() ? t.size() : units[end].first;
            next.push_back(t.substr(from, to - from));
          }
        }
        break;
      case Step::Kind::kBpe:
        for (size_t i = 0; i < tokens.size(); ++i) {
          replace_literal(tokens[i], s.pattern, i + 1 == tokens.size() ? "" : " ", scratch);
          next.push_back(scratch);
        }
        break;
    }
    tokens.swap(next);
  }
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace sp::hf
