// tokenizer.json's "decoder": how HF tokenizers turns tokens back into text
// (Tokenizer::decode, and transformers' convert_tokens_to_string, which
// Megatron-LM's detokenize calls): each id's token string - an added token's
// content, else the model vocab's spelling - through the decoder chain,
// joined. Supported: ByteLevel, Metaspace, Replace (a string or a regex),
// ByteFallback, Fuse, Strip, BPEDecoder and Sequence of them; no decoder joins
// the tokens with spaces. WordPiece, CTC and anything else are refused at
// load, naming them. Private to the library (hf_tokenizer.cc and its tests).
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <vector>

namespace sp {
class RegexSplitter;
}

namespace sp::hf {

class Decoder {
 public:
  // Parses the "decoder" value (null: none). Throws InputError(source, 0, ...)
  // naming a decoder type it does not support.
  static Decoder parse(simdjson::dom::element json, const std::string& source);
  Decoder();
  ~Decoder();
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;

  // The text of `tokens`. HF works on Rust strings, so where bytes are not
  // UTF-8 it puts U+FFFD: ByteLevel's from_utf8_lossy over its output,
  // ByteFallback's one U+FFFD per byte of a run of <0xXX> tokens that is not
  // UTF-8. By default those bytes are kept as they are (what the ids stand
  // for); with `as_hf_text` they are replaced as HF does, giving HF's string
  // exactly. Steps after them see an invalid byte as one character of its own.
  std::string decode(std::vector<std::string> tokens, bool as_hf_text = false) const;

 private:
  struct Step;
  static void parse_into(simdjson::dom::element json, const std::string& source, std::vector<Step>& steps);
  std::vector<Step> steps_;
  bool present_ = false;  // false: no decoder, tokens joined with " "
};

// Rust's String::from_utf8_lossy: each maximal subpart of an ill-formed
// sequence (Unicode's "substitution of maximal subparts", as WHATWG's
// decoder too) becomes one U+FFFD. Appends to `out`.
void append_utf8_lossy(std::string_view bytes, std::string& out);

}  // namespace sp::hf
