#include "hf_normalizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>

#include "hf_chars.h"
#include "hf_json.h"
#include "regex_split.h"
#include "replace_byte.h"
#include "sp/error.h"
#include "sp/unicode.h"

namespace sp::hf {

Normalizer::Normalizer() = default;
Normalizer::~Normalizer() = default;
Normalizer::Normalizer(Normalizer&&) noexcept = default;
Normalizer& Normalizer::operator=(Normalizer&&) noexcept = default;

namespace {

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

void utf8proc_normalize(std::string_view in, int options, std::string& out) {
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()), static_cast<utf8proc_ssize_t>(in.size()),
                   &mapped, static_cast<utf8proc_option_t>(options));
  if (n < 0) throw Error(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
  out.append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
}

// The start of the code point whose lead byte is at or before pos.
size_t char_start(std::string_view s, size_t pos) {
  while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

}  // namespace

void nfc_append(std::string_view in, std::string& out) {
  // Every code point below U+0300 (UTF-8 lead byte < 0xCC) is its own NFC,
  // a starter (combining class 0) and never the second of a composition, so
  // NFC never moves or merges anything across the start of one. Only the
  // stretches from the character before a code point >= U+0300 to the next
  // one below U+0300 go through utf8proc; the rest is copied
  // (hf_normalizer_test checks these properties against utf8proc).
  constexpr unsigned char kFirstLeadFromU0300 = 0xCC;
  size_t done = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (static_cast<unsigned char>(in[i]) < kFirstLeadFromU0300) continue;
    const size_t begin = i > done ? char_start(in, i - 1) : done;
    size_t end = i;
    while (end < in.size()) {
      const auto b = static_cast<unsigned char>(in[end]);
      if (b < 0x80 || (b >= 0xC0 && b < kFirstLeadFromU0300)) break;  // a code point below U+0300 starts here
      ++end;
    }
    out.append(in.substr(done, begin - done));
    utf8proc_normalize(in.substr(begin, end - begin), UTF8PROC_STABLE | UTF8PROC_COMPOSE, out);
    done = end;
    i = end;  // in[end] < 0xCC when end < size
  }
  out.append(in.substr(done));
}

void Normalizer::parse_into(simdjson::dom::element json, const std::string& source, std::vector<Step>& steps) {
  if (json.is_null()) return;
  std::string_view type;
  if (json["type"].get_string().get(type)) throw InputError(source, 0, "normalizer without a \"type\"");
  const std::string what = "normalizer " + std::string(type);
  Step step{};
  if (type == "Sequence") {
    simdjson::dom::array list;
    if (json["normalizers"].get_array().get(list)) throw InputError(source, 0, what + " has no \"normalizers\" list");
    for (simdjson::dom::element n : list) parse_into(n, source, steps);
    return;
  } else if (type == "NFC") {
    step.kind = Step::Kind::kNfc;
  } else if (type == "NFD") {
    step.kind = Step::Kind::kNfd;
  } else if (type == "NFKC") {
    step.kind = Step::Kind::kNfkc;
  } else if (type == "NFKD") {
    step.kind = Step::Kind::kNfkd;
  } else if (type == "Lowercase") {
    step.kind = Step::Kind::kLowercase;
  } else if (type == "Prepend") {
    step.kind = Step::Kind::kPrepend;
    step.content = string_field(json, "prepend", source, what);
  } else if (type == "Strip") {
    step.kind = Step::Kind::kStrip;
    step.left = bool_field(json, "strip_left", false);
    step.right = bool_field(json, "strip_right", false);
    if (!step.left && !step.right) return;
  } else if (type == "Replace") {
    step.kind = Step::Kind::kReplace;
    step.content = string_field(json, "content", source, what);
    simdjson::dom::element pattern;
    if (json["pattern"].get(pattern)) throw InputError(source, 0, what + " has no \"pattern\"");
    std::string_view literal, regex;
    if (!pattern["String"].get_string().get(literal)) {
      if (literal.empty()) throw InputError(source, 0, what + " has an empty pattern");
      step.pattern = std::string(literal);
    } else if (!pattern["Regex"].get_string().get(regex)) {
      step.regex = compile_pattern_regex(regex, source, what);
    } else {
      throw InputError(source, 0, what + " has a pattern that is neither {\"String\": ...} nor {\"Regex\": ...}");
    }
  } else {
    throw InputError(source, 0,
                     "normalizer type " + std::string(type) +
                         " is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip, "
                         "Sequence)");
  }
  steps.push_back(std::move(step));
}

Normalizer Normalizer::parse(simdjson::dom::element json, const std::string& source) {
  Normalizer n;
  parse_into(json, source, n.steps_);
  const std::vector<Step>& s = n.steps_;
  const bool replace_byte_last =
      !s.empty() && s.back().kind == Step::Kind::kReplace && !s.back().regex && s.back().pattern.size() == 1;
  n.one_pass_ = replace_byte_last && (s.size() == 1 || (s.size() == 2 && s[0].kind == Step::Kind::kPrepend));
  return n;
}

bool Normalizer::uses_regex() const {
  for (const Step& s : steps_)
    if (s.regex) return true;
  return false;
}

void Normalizer::apply(const Step& step, std::string_view in, std::string& out) {
  out.clear();
  switch (step.kind) {
    case Step::Kind::kNfc:
    case Step::Kind::kNfd:
    case Step::Kind::kNfkc:
    case Step::Kind::kNfkd: {
      if (is_ascii(in)) {  // every normalization form leaves ASCII as it is
        out.assign(in);
        return;
      }
      if (step.kind == Step::Kind::kNfc) {
        nfc_append(in, out);
        return;
      }
      int options = UTF8PROC_STABLE;
      if (step.kind == Step::Kind::kNfc || step.kind == Step::Kind::kNfkc)
        options |= UTF8PROC_COMPOSE;
      else
        options |= UTF8PROC_DECOMPOSE;
      if (step.kind == Step::Kind::kNfkc || step.kind == Step::Kind::kNfkd) options |= UTF8PROC_COMPAT;
      utf8proc_normalize(in, options, out);
      return;
    }
    case Step::Kind::kLowercase:
      // Rust's char::to_lowercase: the simple mappings, plus the one
      // unconditional multi-character lowercase (U+0130 -> i + U+0307).
      for (size_t i = 0; i < in.size();) {
        size_t len;
        const char32_t c = char_at(in, i, &len);
        if (c < 0x80) {
          out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (c == 0x130) {
          out += "i\xCC\x87";
        } else {
          append_utf8(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))), out);
        }
        i += len;
      }
      return;
    case Step::Kind::kReplace:
      if (step.regex) {
        thread_local std::vector<std::pair<size_t, size_t>> matches;
        step.regex->find_matches(in, matches);
        size_t last = 0;
        for (const auto& [b, e] : matches) {
          out.append(in.substr(last, b - last));
          out += step.content;
          last = e;
        }
        out.append(in.substr(last));
      } else if (step.pattern.size() == 1) {  // ' ' -> ▁ (Llama-2, Mistral, Gemma): replace_byte
        out.resize(in.size() * std::max<size_t>(1, step.content.size()) + 16);
        const char* end = replace_byte(in, step.pattern[0], step.content, false, out.data());
        out.resize(static_cast<size_t>(end - out.data()));
      } else {
        size_t last = 0;
        for (size_t hit; (hit = in.find(step.pattern, last)) != std::string_view::npos;) {
          out.append(in.substr(last, hit - last));
          out += step.content;
          last = hit + step.pattern.size();
        }
        out.append(in.substr(last));
      }
      return;
    case Step::Kind::kPrepend:
      if (!in.empty()) out += step.content;
      out.append(in);
      return;
    case Step::Kind::kStrip: {
      size_t b = 0, e = in.size();
      if (step.left) {
        size_t len;
        while (b < e && is_whitespace(char_at(in, b, &len))) b += len;
      }
      if (step.right) {
        size_t start;
        while (e > b && is_whitespace(char_before(in, e, &start))) e = start;
      }
      out.assign(in.substr(b, e - b));
      return;
    }
  }
}

void Normalizer::normalize(std::string_view text, std::string& out, std::string& scratch) const {
  // Llama-2's and Mistral's normalizer, Prepend then a one-byte Replace
  // (" " -> "▁"), and Gemma's, the Replace alone, in one pass through
  // `scratch`, which only grows: step by step it was a copy of the text per
  // step and a zero-filled buffer of three times its size per text, 10% of
  // Llama-2's encoding instructions.
  if (one_pass_) {
    out.clear();
    if (text.empty()) return;  // Prepend adds nothing to empty text
    const std::string_view prefix = steps_.size() == 2 ? std::string_view(steps_[0].content) : "";
    const std::string_view with = steps_.back().content;
    const char byte = steps_.back().pattern[0];
    const size_t room = (prefix.size() + text.size()) * std::max<size_t>(1, with.size()) + 16;
    if (scratch.size() < room) scratch.resize(std::max(room, 2 * scratch.size()));
    char* end = replace_byte(prefix, byte, with, false, scratch.data());
    end = replace_byte(text, byte, with, false, end);
    out.assign(scratch.data(), static_cast<size_t>(end - scratch.data()));
    return;
  }
  out.assign(text);
  for (const Step& step : steps_) {
    apply(step, out, scratch);
    out.swap(scratch);
  }
}

}  // namespace sp::hf
