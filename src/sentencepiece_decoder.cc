// SentencePiece's Decode, as libsentencepiece 0.1.97's
// sentencepiece_processor.cc writes it (DecodeSentencePiece, ProcessBytePieces).
#include "sentencepiece_decoder.h"

#include "sp/error.h"
#include "sp/unicode.h"

namespace sp {

namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // ▁

std::string spaces_for_symbols(std::string_view piece) {
  std::string out;
  for (size_t pos = 0;;) {
    const size_t at = piece.find(kSpaceSymbol, pos);
    out.append(piece.substr(pos, at - pos));
    if (at == std::string_view::npos) return out;
    out += ' ';
    pos = at + kSpaceSymbol.size();
  }
}

// Upper case only: the library knows byte pieces by their "<0x%02X>" spelling.
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<SentencePieceDecoder> SentencePieceDecoder::build(const SentencePieceModelSpec& spec,
                                                                std::string* why_not) {
  if (spec.has_denormalizer) {
    *why_not = "the model has a denormalizer";
    return std::nullopt;
  }
  SentencePieceDecoder d;
  d.unk_surface_ = spec.unk_surface;
  d.strip_leading_space_ = spec.add_dummy_prefix || spec.remove_extra_whitespaces;
  d.strip_all_leading_ = spec.remove_extra_whitespaces;
  d.pieces_.reserve(spec.pieces.size());
  using Type = SentencePieceModelSpec::PieceType;
  for (const auto& p : spec.pieces) {
    Piece piece;
    if (p.type == Type::kControl) {
      piece.kind = Kind::kControl;
    } else if (p.type == Type::kUnknown) {
      piece.kind = Kind::kUnknown;
    } else if (p.type == Type::kByte) {
      // The library accepts byte pieces only as "<0xXX>" (PieceToByte).
      const int hi = p.text.size() == 6 ? hex_digit(p.text[3]) : -1, lo = hi < 0 ? -1 : hex_digit(p.text[4]);
      if (!p.text.starts_with("<0x") || p.text.back() != '>' || hi < 0 || lo < 0) {
        *why_not = "byte piece " + p.text + " is not <0xXX>";
        return std::nullopt;
      }
      piece.kind = Kind::kByte;
      piece.text = std::string(1, static_cast<char>(hi * 16 + lo));
    } else {  // normal, user-defined, unused: their text
      piece.leading_space = p.text.starts_with(kSpaceSymbol);
      piece.text = spaces_for_symbols(p.text);
    }
    d.pieces_.push_back(std::move(piece));
  }
  return d;
}

std::string SentencePieceDecoder::decode(std::span<const uint32_t> ids, bool as_library_text) const {
  std::string text, bytes;
  auto flush_bytes = [&] {
    if (!as_library_text) {
      text += bytes;
    } else {
      for (size_t i = 0; i < bytes.size();) {
        if (const size_t n = utf8_sequence_length(bytes, i); n != 0) {
          text.append(bytes, i, n);
          i += n;
        } else {
          text += "\xEF\xBF\xBD";
          ++i;
        }
      }
    }
    bytes.clear();
  };
  // Whether the next text piece may still lose its leading ▁: until a piece
  // consumed one, or any text has been written.
  bool at_start = true, consumed = false;
  for (uint32_t id : ids) {
    if (id >= pieces_.size())
      throw Error("token id " + std::to_string(id) + " is not a piece of the SentencePiece model (" +
                  std::to_string(pieces_.size()) + " pieces)");
    const Piece& p = pieces_[id];
    if (p.kind == Kind::kByte) {
      bytes += p.text;
      continue;
    }
    flush_bytes();
    if (consumed || !text.empty()) at_start = false;
    consumed = false;
    if (p.kind == Kind::kControl) continue;
    if (p.kind == Kind::kUnknown) {
      text += unk_surface_;
      continue;
    }
    if (at_start && strip_leading_space_ && p.leading_space) {
      text.append(p.text, 1);
      consumed = !strip_all_leading_;
    } else {
      text += p.text;
    }
  }
  flush_bytes();
  return text;
}

}  // namespace sp
