// tokenizer.json's "pre_tokenizer": how each normalized stretch of text
// between added tokens is cut into the pieces BPE encodes one by one, as HF
// tokenizers does: Split (a literal or a regex; the regexes of GPT-2,
// Llama-3, Qwen2, cl100k and o200k through sp/pretokenizer.h's scanners,
// others through PCRE2), ByteLevel, Digits, Punctuation, Metaspace,
// Whitespace, WhitespaceSplit and Sequence of them. Anything else is refused
// at load, naming it.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regex_split.h"
#include "sp/pretokenizer.h"

namespace sp::hf {

// A piece of text in a PreTokenizer's buffer. `first`: it starts the text
// (HF's offsets_original().0 == 0, which Metaspace's prepend_scheme "first"
// tests).
struct Piece {
  size_t offset, length;
  bool first;
};

class PreTokenizer {
 public:
  // Parses the "pre_tokenizer" value (null: none). Throws InputError(source, 0, ...).
  static PreTokenizer parse(simdjson::dom::element json, const std::string& source);
  PreTokenizer();
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  bool empty() const { return steps_.empty(); }
  // Whether it holds a ByteLevel step: the model's symbols are then bytes.
  bool byte_level() const;
  // The regexes it runs through PCRE2 (for the note at load).
  std::vector<std::string> general_regexes() const;
  // The fast path: the whole pre-tokenizer is one scanner's split then
  // ByteLevel without a regex (Llama-3, Qwen2), or ByteLevel with its GPT-2
  // regex. Then a stretch's pieces are the scanner's pre-tokens of the
  // stretch, with a space put in front first when add_prefix_space says so.
  struct Fast {
    PretokenPattern pattern;
    bool add_prefix_space;
  };
  std::optional<Fast> fast() const { return fast_; }

  // Cuts `text` into pieces: on return `buffer` holds their bytes and
  // `pieces` where they are. `first`: text starts the input. `spare` is scratch.
  void split(std::string_view text, bool first, std::string& buffer, std::vector<Piece>& pieces,
             std::vector<Piece>& spare) const;

 private:
  struct Step;
  static void parse_into(simdjson::dom::element json, const std::string& source, std::vector<Step>& steps);
  static void apply(const Step& step, std::string& buffer, const std::vector<Piece>& in, std::vector<Piece>& out);
  std::vector<Step> steps_;
  std::optional<Fast> fast_;
};

}  // namespace sp::hf
