// tokenizer.json's "normalizer" as a list of text rewrites, applied in order
// to each stretch of text between added tokens: Unicode normalization
// (NFC, NFD, NFKC, NFKD, through utf8proc), Lowercase, Replace (a literal
// string or a regex), Prepend, Strip, and Sequence of them (flattened).
// Anything else is refused at load, naming it.
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sp {
class RegexSplitter;
}

namespace sp::hf {

class Normalizer {
 public:
  // Parses the "normalizer" value (null: none). Throws InputError(source, 0, ...).
  static Normalizer parse(simdjson::dom::element json, const std::string& source);
  Normalizer();
  ~Normalizer();
  Normalizer(Normalizer&&) noexcept;
  Normalizer& operator=(Normalizer&&) noexcept;

  bool empty() const { return steps_.empty(); }
  // Whether any step needs a regex engine (for the note at load).
  bool uses_regex() const;
  // The normalized form of `text` (valid UTF-8) in `out`; `scratch` is reused.
  void normalize(std::string_view text, std::string& out, std::string& scratch) const;

 private:
  struct Step {
    enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kReplace, kPrepend, kStrip } kind;
    std::string pattern, content;                // kReplace (literal pattern), kPrepend (content)
    std::shared_ptr<const RegexSplitter> regex;  // kReplace with a Regex pattern
    bool left = false, right = false;            // kStrip
  };
  static void parse_into(simdjson::dom::element json, const std::string& source, std::vector<Step>& steps);
  static void apply(const Step& step, std::string_view in, std::string& out);
  std::vector<Step> steps_;
  // The steps are a one-byte Replace, alone (Gemma) or after a Prepend (Llama-2, Mistral): normalize()
  // does them in one pass. Decided by parse.
  bool one_pass_ = false;
};

// NFC of `text` (valid UTF-8) appended to `out`, as utf8proc gives it, with
// only the stretches that hold a code point >= U+0300 passed to utf8proc.
void nfc_append(std::string_view text, std::string& out);

}  // namespace sp::hf
