#include "hf_pretokenizer.h"

#include <algorithm>

#include "hf_chars.h"
#include "hf_json.h"
#include "sp/error.h"

namespace sp::hf {

struct PreTokenizer::Step {
  enum class Kind {
    kSplitScanner,
    kSplitRegex,
    kSplitLiteral,
    kDigits,
    kPunctuation,
    kWhitespace,
    kWhitespaceSplit,
    kMetaspace,
    kByteLevel
  } kind;
  PretokenPattern pattern{};                   // kSplitScanner
  std::shared_ptr<const RegexSplitter> regex;  // kSplitRegex
  std::string text;                            // kSplitLiteral: the pattern; kMetaspace: the replacement
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool individual_digits = false;                            // kDigits
  enum class Prepend { kAlways, kFirst, kNever } prepend{};  // kMetaspace
  bool split = true;                                         // kMetaspace
  bool add_prefix_space = false, use_regex = true;           // kByteLevel
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

namespace {

SplitBehavior parse_behavior(simdjson::dom::element json, const std::string& source, const std::string& what,
                             SplitBehavior fallback) {
  std::string_view b;
  if (json["behavior"].get_string().get(b)) return fallback;
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  throw InputError(source, 0, what + " has an unknown behavior " + std::string(b));
}

// One stretch of a piece: a match of the split's pattern or a gap between matches.
struct Match {
  size_t begin, end;
  bool is_match;
};

// HF's NormalizedString::split: arranges the matches (which cover the piece)
// into pieces by the behaviour; empty pieces are dropped.
void arrange(std::vector<Match>& matches, SplitBehavior behavior, bool invert, const Piece& piece,
             std::vector<Piece>& out) {
  if (invert)
    for (Match& m : matches) m.is_match = !m.is_match;
  thread_local std::vector<Match> kept;
  kept.clear();
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Match& m : matches) kept.push_back({m.begin, m.end, false});
      break;
    case SplitBehavior::kRemoved:
      for (const Match& m : matches) kept.push_back(m);  // is_match = removed
      break;
    case SplitBehavior::kContiguous:
      for (const Match& m : matches) {
        if (m.is_match == previous_match && !kept.empty())
          kept.back().end = m.end;
        else
          kept.push_back({m.begin, m.end, false});
        previous_match = m.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Match& m : matches) {
        if (m.is_match && !previous_match && !kept.empty())
          kept.back().end = m.end;
        else
          kept.push_back({m.begin, m.end, false});
        previous_match = m.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (size_t i = matches.size(); i-- > 0;) {
        const Match& m = matches[i];
        if (m.is_match && !previous_match && !kept.empty())
          kept.back().begin = m.begin;
        else
          kept.push_back({m.begin, m.end, false});
        previous_match = m.is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const Match& k : kept)
    if (!k.is_match && k.end > k.begin)
      out.push_back({piece.offset + k.begin, k.end - k.begin, piece.first && k.begin == 0});
}

// HF's Pattern for a char predicate: each character that satisfies it is a
// match of its own, the runs between them gaps.
template <class Predicate>
void char_matches(std::string_view text, Predicate&& predicate, std::vector<Match>& matches) {
  matches.clear();
  size_t gap = 0;
  for (size_t i = 0; i < text.size();) {
    size_t len;
    const char32_t c = char_at(text, i, &len);
    if (predicate(c)) {
      if (gap < i) matches.push_back({gap, i, false});
      matches.push_back({i, i + len, true});
      gap = i + len;
    }
    i += len;
  }
  if (gap < text.size()) matches.push_back({gap, text.size(), false});
}

}  // namespace

void PreTokenizer::parse_into(simdjson::dom::element json, const std::string& source, std::vector<Step>& steps) {
  if (json.is_null()) return;
  std::string_view type;
  if (json["type"].get_string().get(type)) throw InputError(source, 0, "pre_tokenizer without a \"type\"");
  const std::string what = "pre_tokenizer " + std::string(type);
  Step step{};
  if (type == "Sequence") {
    simdjson::dom::array list;
    if (json["pretokenizers"].get_array().get(list))
      throw InputError(source, 0, what + " has no \"pretokenizers\" list");
    for (simdjson::dom::element p : list) parse_into(p, source, steps);
    return;
  } else if (type == "Split") {
    step.behavior = parse_behavior(json, source, what, SplitBehavior::kIsolated);
    step.invert = bool_field(json, "invert", false);
    simdjson::dom::element pattern;
    if (json["pattern"].get(pattern)) throw InputError(source, 0, what + " has no \"pattern\"");
    std::string_view literal, regex;
    if (!pattern["String"].get_string().get(literal)) {
      step.kind = Step::Kind::kSplitLiteral;
      step.text = std::string(literal);
    } else if (!pattern["Regex"].get_string().get(regex)) {
      if (const auto known = pretoken_pattern_for_regex(regex)) {
        step.kind = Step::Kind::kSplitScanner;
        step.pattern = *known;
      } else {
        step.kind = Step::Kind::kSplitRegex;
        step.regex = compile_pattern_regex(regex, source, what);
      }
    } else {
      throw InputError(source, 0, what + " has a pattern that is neither {\"String\": ...} nor {\"Regex\": ...}");
    }
  } else if (type == "ByteLevel") {
    step.kind = Step::Kind::kByteLevel;
    step.add_prefix_space = bool_field(json, "add_prefix_space", true);
    step.use_regex = bool_field(json, "use_regex", true);
  } else if (type == "Digits") {
    step.kind = Step::Kind::kDigits;
    step.individual_digits = bool_field(json, "individual_digits", false);
  } else if (type == "Punctuation") {
    step.kind = Step::Kind::kPunctuation;
    step.behavior = parse_behavior(json, source, what, SplitBehavior::kIsolated);
  } else if (type == "Whitespace") {
    step.kind = Step::Kind::kWhitespace;
  } else if (type == "WhitespaceSplit") {
    step.kind = Step::Kind::kWhitespaceSplit;
  } else if (type == "Metaspace") {
    step.kind = Step::Kind::kMetaspace;
    std::string_view replacement;
    if (json["replacement"].get_string().get(replacement) || replacement.empty())
      throw InputError(source, 0, what + " has no \"replacement\" character");
    size_t len;
    char_at(replacement, 0, &len);
    if (len != replacement.size())
      throw InputError(source, 0, what + " has a \"replacement\" that is not one character");
    step.text = std::string(replacement);
    step.split = bool_field(json, "split", true);
    std::string_view scheme = "always";
    if (!json["prepend_scheme"].get_string().get(scheme)) {
      if (scheme == "always")
        step.prepend = Step::Prepend::kAlways;
      else if (scheme == "first")
        step.prepend = Step::Prepend::kFirst;
      else if (scheme == "never")
        step.prepend = Step::Prepend::kNever;
      else
        throw InputError(source, 0, what + " has an unknown prepend_scheme " + std::string(scheme));
    }
    // The legacy flag: add_prefix_space false means never (and must not contradict the scheme).
    if (!bool_field(json, "add_prefix_space", true)) {  // HF refuses a contradiction (absent scheme = always)
      if (step.prepend != Step::Prepend::kNever)
        throw InputError(source, 0, what + ": add_prefix_space false does not match prepend_scheme");
    }
  } else {
    throw InputError(source, 0,
                     "pre_tokenizer type " + std::string(type) +
                         " is not supported (supported: Split, ByteLevel, Digits, Punctuation, Metaspace, "
                         "Whitespace, WhitespaceSplit, Sequence)");
  }
  steps.push_back(std::move(step));
}

PreTokenizer PreTokenizer::parse(simdjson::dom::element json, const std::string& source) {
  PreTokenizer p;
  parse_into(json, source, p.steps_);
  for (size_t i = 0; i < p.steps_.size(); ++i)
    if (p.steps_[i].kind == Step::Kind::kByteLevel && i + 1 != p.steps_.size())
      throw InputError(source, 0, "pre_tokenizer ByteLevel followed by another pre-tokenizer is not supported");
  const auto& s = p.steps_;
  if (s.size() == 1 && s[0].kind == Step::Kind::kByteLevel && s[0].use_regex)
    p.fast_ = Fast{PretokenPattern::kGpt2, s[0].add_prefix_space};
  if (s.size() == 2 && s[0].kind == Step::Kind::kSplitScanner && s[0].behavior == SplitBehavior::kIsolated &&
      !s[0].invert && s[1].kind == Step::Kind::kByteLevel && !s[1].use_regex)
    p.fast_ = Fast{s[0].pattern, s[1].add_prefix_space};
  return p;
}

bool PreTokenizer::byte_level() const { return !steps_.empty() && steps_.back().kind == Step::Kind::kByteLevel; }

std::vector<std::string> PreTokenizer::general_regexes() const {
  std::vector<std::string> out;
  for (const Step& s : steps_)
    if (s.kind == Step::Kind::kSplitRegex) out.push_back(s.regex->pattern());
  return out;
}

void PreTokenizer::apply(const Step& step, std::string& buffer, const std::vector<Piece>& in, std::vector<Piece>& out) {
  out.clear();
  thread_local std::vector<Match> matches;
  thread_local std::vector<std::string_view> views;
  thread_local std::string rewritten;
  for (const Piece& piece : in) {
    // Steps that rewrite text append the new piece to the buffer; read from a copy of the view's bounds.
    const std::string_view text = std::string_view(buffer).substr(piece.offset, piece.length);
    switch (step.kind) {
      case Step::Kind::kSplitScanner:
      case Step::Kind::kSplitLiteral: {
        matches.clear();
        size_t gap = 0;
        if (step.kind == Step::Kind::kSplitScanner) {
          for (size_t pos = 0; pos < text.size();) {
            const size_t end = pretoken_end(step.pattern, text, pos);
            matches.push_back({pos, end, true});
            pos = end;
          }
          gap = text.size();
        } else if (!step.text.empty()) {
          for (size_t hit; (hit = text.find(step.text, gap)) != std::string_view::npos;) {
            if (gap < hit) matches.push_back({gap, hit, false});
            matches.push_back({hit, hit + step.text.size(), true});
            gap = hit + step.text.size();
          }
        }
        if (gap < text.size()) matches.push_back({gap, text.size(), false});
        arrange(matches, step.behavior, step.invert, piece, out);
        break;
      }
      case Step::Kind::kSplitRegex:
        step.regex->split(text, step.behavior, step.invert, views);
        for (std::string_view v : views) {
          const auto at = static_cast<size_t>(v.data() - text.data());
          out.push_back({piece.offset + at, v.size(), piece.first && at == 0});
        }
        break;
      case Step::Kind::kDigits:
        char_matches(text, is_numeric, matches);
        arrange(matches, step.individual_digits ? SplitBehavior::kIsolated : SplitBehavior::kContiguous, false, piece,
                out);
        break;
      case Step::Kind::kPunctuation:
        char_matches(text, is_punctuation, matches);
        arrange(matches, step.behavior, false, piece, out);
        break;
      case Step::Kind::kWhitespaceSplit:
        char_matches(text, is_whitespace, matches);
        arrange(matches, SplitBehavior::kRemoved, false, piece, out);
        break;
      case Step::Kind::kWhitespace: {
        // \w+|[^\w\s]+ kept, the white space between removed: runs of word
        // characters and runs of other non-space characters.
        int run_class = -1;  // 0 word, 1 other
        size_t run_start = 0;
        for (size_t i = 0; i <= text.size();) {
          int cls = -1;
          size_t len = 1;
          if (i < text.size()) {
            const char32_t c = char_at(text, i, &len);
            cls = is_word_char(c) ? 0 : is_whitespace(c) ? -1 : 1;
          }
          if (cls != run_class) {
            if (run_class >= 0) out.push_back({piece.offset + run_start, i - run_start, piece.first && run_start == 0});
            run_class = cls;
            run_start = i;
          }
          if (i == text.size()) break;
          i += len;
        }
        break;
      }
      case Step::Kind::kMetaspace: {
        rewritten.clear();
        for (char c : text) {
          if (c == ' ')
            rewritten += step.text;
          else
            rewritten += c;
        }
        const bool starts = rewritten.compare(0, step.text.size(), step.text) == 0;
        if (!starts &&
            (step.prepend == Step::Prepend::kAlways || (step.prepend == Step::Prepend::kFirst && piece.first)))
          rewritten.insert(0, step.text);
        const Piece whole{buffer.size(), rewritten.size(), piece.first};
        buffer += rewritten;
        if (!step.split) {
          if (whole.length > 0) out.push_back(whole);
          break;
        }
        const std::string_view r(rewritten);
        matches.clear();
        size_t gap = 0;
        for (size_t hit; (hit = r.find(step.text, gap)) != std::string_view::npos;) {
          if (gap < hit) matches.push_back({gap, hit, false});
          matches.push_back({hit, hit + step.text.size(), true});
          gap = hit + step.text.size();
        }
        if (gap < r.size()) matches.push_back({gap, r.size(), false});
        arrange(matches, SplitBehavior::kMergedWithNext, false, whole, out);
        break;
      }
      case Step::Kind::kByteLevel: {
        Piece whole = piece;
        if (step.add_prefix_space && text[0] != ' ') {
          rewritten.assign(1, ' ');
          rewritten.append(text);
          whole = {buffer.size(), rewritten.size(), piece.first};
          buffer += rewritten;
        }
        if (!step.use_regex) {
          out.push_back(whole);
          break;
        }
        const std::string_view t = std::string_view(buffer).substr(whole.offset, whole.length);
        for (size_t pos = 0; pos < t.size();) {
          const size_t end = pretoken_end(PretokenPattern::kGpt2, t, pos);
          out.push_back({whole.offset + pos, end - pos, whole.first && pos == 0});
          pos = end;
        }
        break;
      }
    }
  }
}

void PreTokenizer::split(std::string_view text, bool first, std::string& buffer, std::vector<Piece>& pieces,
                         std::vector<Piece>& spare) const {
  buffer.assign(text);
  pieces.clear();
  if (!text.empty()) pieces.push_back({0, text.size(), first});
  for (const Step& step : steps_) {
    apply(step, buffer, pieces, spare);
    pieces.swap(spare);
  }
}

}  // namespace sp::hf
