// SentencePiece's decoding of ids (libsentencepiece 0.1.97's
// SentencePieceProcessor::Decode, which DecodeIds and Megatron-LM's
// detokenize run): control pieces vanish, the unknown piece is the trainer's
// unk_surface (" ⁇ "), byte pieces <0xXX> are their bytes, every other piece
// is its text with ▁ made a space; the first piece's leading ▁ is dropped
// when the model adds a dummy prefix (all leading ▁ pieces' when it removes
// extra whitespace). Private to the library (sentencepiece_tokenizer.cc and
// its tests).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sentencepiece_proto.h"

namespace sp {

class SentencePieceDecoder {
 public:
  // The decoder for `spec`, or nullopt with the reason in *why_not when the
  // library does more than this reproduces (a denormalizer).
  static std::optional<SentencePieceDecoder> build(const SentencePieceModelSpec& spec, std::string* why_not);

  // The bytes of `ids`. The library puts U+FFFD for each byte of a run of
  // byte pieces that starts no well-formed UTF-8 character; by default those
  // bytes are kept as they are (what the ids stand for), with
  // `as_library_text` they are replaced as the library does, giving DecodeIds'
  // string exactly. Throws Error naming an id that is not a piece.
  std::string decode(std::span<const uint32_t> ids, bool as_library_text = false) const;

 private:
  enum class Kind : uint8_t { kText, kControl, kUnknown, kByte };
  struct Piece {
    std::string text;  // kText: with ▁ made a space; kByte: the byte
    bool leading_space = false;  // kText: the piece starts with ▁
    Kind kind = Kind::kText;
  };
  std::vector<Piece> pieces_;
  std::string unk_surface_;
  bool strip_leading_space_ = false;  // add_dummy_prefix or remove_extra_whitespaces
  bool strip_all_leading_ = false;    // remove_extra_whitespaces
};

}  // namespace sp
