// PCRE2 rather than std::regex or a bundled engine: it has the lookahead
// that split patterns use ((?!\S)), possessive quantifiers, \p{..} classes in
// UTF mode, and a JIT that makes the general path usable on real corpora.
#include "regex_split.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <string>

#include "sp/error.h"
#include "sp/unicode.h"

namespace sp {
namespace {

// Per-thread scratch: match data with room for the whole match only (valid
// for any pattern), and a match context that points PCRE2's JIT at a stack
// larger than its 32 KiB default, for patterns that recurse deeply.
struct ThreadScratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
  ThreadScratch() {
    if (!data || !context || !stack) throw Error("out of memory for a PCRE2 match");
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadScratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;
};

ThreadScratch& scratch() {
  thread_local ThreadScratch s;
  return s;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buf);
}

// Oniguruma's \s is White_Space; PCRE2's (UCP) also holds U+180E. The
// pattern is rewritten with White_Space spelled out: \s outside a class
// becomes a class, inside one its members; \S outside a class becomes the
// negated class. (\S inside a class is left to PCRE2.) Escapes are skipped
// whole, so \\s stays a backslash and an s; a ']' that opens a class's
// members ("[]" or "[^]") is a member, as in both engines.
std::string with_onig_white_space(std::string_view pattern) {
  static constexpr std::string_view kWhiteSpace =
      R"(\t-\r\x20\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  std::string out;
  out.reserve(pattern.size());
  int depth = 0;             // nesting of [...] (Oniguruma allows nested classes)
  bool class_start = false;  // just after '[' or '[^'
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      class_start = false;
      if (e == 's') {
        out += depth > 0 ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (e == 'S' && depth == 0) {
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    out += c;
    if (c == '[') {
      ++depth;
      class_start = true;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      continue;
    }
    if (c == ']' && depth > 0 && !class_start) --depth;
    class_start = false;
  }
  return out;
}

struct Span {
  size_t begin, end;
  bool match;
};

}  // namespace

struct RegexSplitter::Code {
  pcre2_code* re = nullptr;
  ~Code() { pcre2_code_free(re); }
};

RegexSplitter::RegexSplitter(std::string_view pattern) : pattern_(pattern), code_(std::make_unique<Code>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const std::string compiled = with_onig_white_space(pattern_);
  code_->re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(),
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &offset, nullptr);
  if (!code_->re) {
    // PCRE2's offset is into the rewritten pattern: name it only when that
    // is the pattern as written.
    const std::string at = compiled == pattern_ ? " at offset " + std::to_string(offset) : "";
    throw Error("split regex does not compile" + at + ": " + pcre2_message(error) + ": " + pattern_);
  }
  // No JIT on this platform or build is not an error: the interpreter gives
  // the same matches, only slower.
  jit_ = pcre2_jit_compile(code_->re, PCRE2_JIT_COMPLETE) == 0;
}

RegexSplitter::~RegexSplitter() = default;
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;

void RegexSplitter::find_matches(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  out.clear();
  ThreadScratch& s = scratch();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  // The first search checks the whole text's UTF-8; later ones skip it, or
  // the checks alone would cost time quadratic in the text.
  uint32_t options = 0;
  size_t last_end = 0;
  bool skip_next_empty = false;
  while (last_end <= text.size()) {
    const int rc = pcre2_match(code_->re, subject, text.size(), last_end, options, s.data, s.context);
    options = PCRE2_NO_UTF_CHECK;
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw Error("split regex failed to match: " + pcre2_message(rc) + ": " + pattern_);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
    const size_t b = ov[0], e = ov[1];
    last_end = e;
    if (b == e) {
      last_end += last_end < text.size() ? utf8_length(static_cast<uint8_t>(text[last_end])) : 1;
      if (skip_next_empty) {
        skip_next_empty = false;
        continue;
      }
    } else {
      skip_next_empty = true;
    }
    out.emplace_back(b, e);
  }
}

void RegexSplitter::split(std::string_view text, SplitBehavior behavior, bool invert,
                          std::vector<std::string_view>& pieces) const {
  pieces.clear();
  if (text.empty()) return;
  std::vector<std::pair<size_t, size_t>> matches;
  find_matches(text, matches);
  // The text as matches and the gaps between them, in order.
  std::vector<Span> spans;
  spans.reserve(2 * matches.size() + 1);
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (prev != b) spans.push_back({prev, b, invert});
    spans.push_back({b, e, !invert});
    prev = e;
  }
  if (prev != text.size()) spans.push_back({prev, text.size(), invert});

  // (span, keep) as tokenizers computes them per behaviour.
  std::vector<Span> out;  // `match` reused as "remove"
  out.reserve(spans.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) out.push_back({s.begin, s.end, false});
      break;
    case SplitBehavior::kRemoved:
      out = spans;
      break;
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.match == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.begin, s.end, false});
        }
        previous_match = s.match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.begin, s.end, false});
        }
        previous_match = s.match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back({it->begin, it->end, false});
        }
        previous_match = it->match;
      }
      std::reverse(out.begin(), out.end());
      break;
  }
  for (const Span& s : out) {
    if (!s.match && s.end > s.begin) pieces.push_back(text.substr(s.begin, s.end - s.begin));
  }
}

}  // namespace sp
