// The parts of a SentencePiece .model (a serialized sentencepiece.ModelProto,
// proto2) that decide how text is encoded, read straight from the protobuf
// wire format: Debian's libsentencepiece ships no sentencepiece_model.pb.h, and
// the processor's accessors do not expose the normalizer or trainer specs.
// The schema is v0.1.97's (Debian 12's library, the one the native encoder is
// checked against) plus the later training-only TrainerSpec fields 53 and 54.
// Private to the library (the native encoders, sentencepiece_bpe.cc and
// sentencepiece_unigram.cc, and their tests).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

struct SentencePieceModelSpec {
  // ModelProto.SentencePiece.Type.
  enum class PieceType : uint8_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
  struct Piece {
    std::string text;
    float score = 0;
    PieceType type = PieceType::kNormal;
  };
  std::vector<Piece> pieces;  // by id
  // TrainerSpec: ModelType (UNIGRAM = 1, BPE = 2, WORD = 3, CHAR = 4) and the
  // two fields that change encoding; the rest only steer training.
  int model_type = 1;
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = false;
  // NormalizerSpec (proto defaults when absent).
  std::string normalizer_name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  // For decoding: TrainerSpec.unk_surface (what <unk> decodes to) and whether
  // the model has a denormalizer (a denormalizer_spec with a charsmap).
  std::string unk_surface = " \xE2\x81\x87 ";
  bool has_denormalizer = false;
  // Fields this reader does not know, as "message.field_number" (a newer
  // sentencepiece's additions): a native encoder must not guess what they do.
  std::vector<std::string> unknown_fields;
};

// Parses a serialized ModelProto; throws InputError(source, 0, reason) on
// malformed wire data.
SentencePieceModelSpec parse_sentencepiece_model(std::string_view bytes, const std::string& source);

// What the native encoders share about a spec.
// U+2581, the character SentencePiece writes for a space.
inline constexpr std::string_view kMetaspace = "\xE2\x96\x81";
// A piece in single quotes, for the reasons an encoder refuses a model.
std::string quoted_piece(std::string_view piece);
// Why a native encoder must refuse `spec` for its schema, or "" when it may
// go on: fields newer than v0.1.97's, whose effect it would have to guess.
std::string newer_fields_reason(const SentencePieceModelSpec& spec);

}  // namespace sp
