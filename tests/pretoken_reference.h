// The reference the pre-token scanners are checked against, shared by
// tests/pretokenizer_patterns_test.cc and fuzz/pretokenizer_fuzz.cc: PCRE2
// running each pattern's own regex, made exact for PCRE2, and an alphabet of
// code points on every rule's edge from which random texts are drawn.
#pragma once

#include <string>
#include <vector>

#include "regex_split.h"
#include "sp/pretokenizer.h"
#include "sp/unicode.h"

namespace sp::test {

inline constexpr int kPatternCount = static_cast<int>(PretokenPattern::kMegatronV2) + 1;

// The pattern's regex made exact for PCRE2: \s and \S spelled out as
// White_Space (PCRE2's \s also holds U+180E), `$` as the end of the text.
inline std::string reference_regex(PretokenPattern p) {
  const std::string ws = R"(\t-\r\x20\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  const std::string r(pretoken_regex(p));
  std::string out;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r.compare(i, 4, R"([^\s)") == 0) {
      out += "[^" + ws;
      i += 3;
    } else if (r.compare(i, 2, R"(\S)") == 0) {
      out += "[^" + ws + "]";
      i += 1;
    } else if (r.compare(i, 2, R"(\s)") == 0) {
      out += "[" + ws + "]";
      i += 1;
    } else if (r[i] == '$') {
      out += R"(\z)";
    } else {
      out += r[i];
    }
  }
  return out;
}

// One compiled reference per pattern.
inline const RegexSplitter& reference_splitter(PretokenPattern p) {
  static const std::vector<RegexSplitter> refs = [] {
    std::vector<RegexSplitter> v;
    for (int i = 0; i < kPatternCount; ++i) v.emplace_back(reference_regex(static_cast<PretokenPattern>(i)));
    return v;
  }();
  return refs[static_cast<int>(p)];
}

inline std::vector<std::string_view> reference_pieces(PretokenPattern p, std::string_view text) {
  std::vector<std::string_view> v;
  reference_splitter(p).split(text, SplitBehavior::kIsolated, false, v);
  return v;
}

inline std::string utf8(char32_t cp) {
  std::string s;
  append_utf8(cp, s);
  return s;
}

// Code points whose classes agree between Unicode 14 (PCRE2 10.42's tables)
// and 15 (ours), chosen to sit on every rule's edge.
inline const std::vector<char32_t>& tricky_alphabet() {
  static const std::vector<char32_t> cps = {
      'a', 'b', 'Z', 's', 'S', 't', 'T', 'l', 'L', 'e', 'E', 'r', 'v', 'd', 'm', 'M', '\'', '\'', ' ', ' ', ' ',
      '\t', '\n', '\n', '\r', '\v', '\f', '0', '7', '.', '/', '!', '_', '$', 0x1C, 0x1F,
      0x017F, 0x212A, 0x00DF, 0x00E9, 0x00C9, 0x01C5, 0x02B0, 0x4E2D, 0x3042, 0xAC00,
      0x0301, 0x0308, 0x0903, 0x20DD,                      // Mn Mn Mc Me
      0x0663, 0x00B2, 0x2160, 0xFF11,                      // Nd No Nl, fullwidth digit
      0x0085, 0x00A0, 0x1680, 0x2003, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x180E,
      0x200D, 0x200B, 0x2019, 0x1F600, 0x1F3FB, 0xFEFF};
  return cps;
}

}  // namespace sp::test
