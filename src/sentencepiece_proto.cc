// A minimal protobuf wire-format reader for sentencepiece_model.proto (the
// v0.1.97 schema): varints, 32-bit floats and length-delimited fields, each
// field read by number; anything else is skipped by its wire type and, when
// its number is not in the schema, listed in unknown_fields.
#include "sentencepiece_proto.h"

#include <cstring>
#include <functional>

#include "sp/error.h"

namespace sp {
namespace {

class WireReader {
 public:
  WireReader(std::string_view bytes, const std::string& source) : p_(bytes), source_(source) {}
  bool done() const { return p_.empty(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_.empty()) fail("a truncated varint");
      const auto b = static_cast<uint8_t>(p_[0]);
      p_.remove_prefix(1);
      v |= uint64_t{b & 0x7Fu} << shift;
      if (b < 0x80) return v;
    }
    fail("a varint over 64 bits");
  }
  std::string_view take(size_t n) {
    if (n > p_.size()) fail("a field longer than the message");
    const std::string_view s = p_.substr(0, n);
    p_.remove_prefix(n);
    return s;
  }
  std::string_view length_delimited() { return take(static_cast<size_t>(varint())); }
  float fixed32_float() {
    const std::string_view s = take(4);
    uint32_t u;
    std::memcpy(&u, s.data(), 4);  // little-endian on the wire and on every host we build for
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1: take(8); break;
      case 2: length_delimited(); break;
      case 5: take(4); break;
      default: fail("wire type " + std::to_string(wire_type) + ", which proto2 messages of this schema never use");
    }
  }
  // Calls on_field(number, wire_type) for each field; it reads the value or
  // returns false to have it skipped.
  void for_each_field(const std::function<bool(uint32_t, uint32_t)>& on_field) {
    while (!done()) {
      const uint64_t key = varint();
      const auto number = static_cast<uint32_t>(key >> 3), wire_type = static_cast<uint32_t>(key & 7);
      if (!on_field(number, wire_type)) skip(wire_type);
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(source_, 0, "not a SentencePiece model: " + what);
  }

 private:
  std::string_view p_;
  const std::string& source_;
};

// Training-only fields of TrainerSpec: read past. Up to 52 as of v0.1.97;
// 53 (pretokenization_delimiter) and 54 (seed_sentencepieces_file) came later
// and are read by the trainers only, so models trained by newer versions
// (Llama-2's and Mistral's may carry them) still qualify.
bool trainer_field_known(uint32_t n) {
  return (n >= 1 && n <= 7) || (n >= 10 && n <= 26) || n == 30 || n == 31 || (n >= 32 && n <= 36) ||
         (n >= 40 && n <= 54);
}

}  // namespace

SentencePieceModelSpec parse_sentencepiece_model(std::string_view bytes, const std::string& source) {
  using Spec = SentencePieceModelSpec;
  Spec spec;
  WireReader model(bytes, source);
  auto boolean = [](WireReader& r) { return r.varint() != 0; };
  model.for_each_field([&](uint32_t number, uint32_t wire) {
    if (number == 1 && wire == 2) {  // pieces
      WireReader r(model.length_delimited(), source);
      Spec::Piece piece;
      r.for_each_field([&](uint32_t n, uint32_t w) {
        if (n == 1 && w == 2) piece.text = std::string(r.length_delimited());
        else if (n == 2 && w == 5) piece.score = r.fixed32_float();
        else if (n == 3 && w == 0) piece.type = static_cast<Spec::PieceType>(r.varint());
        else if (n > 3) spec.unknown_fields.push_back("SentencePiece." + std::to_string(n)), r.skip(w);
        else r.fail("piece field " + std::to_string(n) + " has the wrong wire type");
        return true;
      });
      spec.pieces.push_back(std::move(piece));
    } else if (number == 2 && wire == 2) {  // trainer_spec
      WireReader r(model.length_delimited(), source);
      r.for_each_field([&](uint32_t n, uint32_t w) {
        if (n == 3 && w == 0) spec.model_type = static_cast<int>(r.varint());
        else if (n == 24 && w == 0) spec.treat_whitespace_as_suffix = boolean(r);
        else if (n == 35 && w == 0) spec.byte_fallback = boolean(r);
        else if (n == 44 && w == 2) spec.unk_surface = std::string(r.length_delimited());
        else if (!trainer_field_known(n)) spec.unknown_fields.push_back("TrainerSpec." + std::to_string(n)), r.skip(w);
        else r.skip(w);
        return true;
      });
    } else if (number == 3 && wire == 2) {  // normalizer_spec
      WireReader r(model.length_delimited(), source);
      r.for_each_field([&](uint32_t n, uint32_t w) {
        if (n == 1 && w == 2) spec.normalizer_name = std::string(r.length_delimited());
        else if (n == 2 && w == 2) spec.precompiled_charsmap = std::string(r.length_delimited());
        else if (n == 3 && w == 0) spec.add_dummy_prefix = boolean(r);
        else if (n == 4 && w == 0) spec.remove_extra_whitespaces = boolean(r);
        else if (n == 5 && w == 0) spec.escape_whitespaces = boolean(r);
        else if (n == 6) r.skip(w);  // normalization_rule_tsv: the source of the charsmap, used in training
        else spec.unknown_fields.push_back("NormalizerSpec." + std::to_string(n)), r.skip(w);
        return true;
      });
    } else if (number == 5 && wire == 2) {  // denormalizer_spec: only whether it rewrites anything
      WireReader r(model.length_delimited(), source);
      r.for_each_field([&](uint32_t n, uint32_t w) {
        if (n == 2 && w == 2) spec.has_denormalizer = !r.length_delimited().empty();
        else r.skip(w);
        return true;
      });
    } else if (number == 4 || number == 5) {
      return false;  // self_test_data (or a malformed denormalizer_spec, skipped as before)
    } else {
      spec.unknown_fields.push_back("ModelProto." + std::to_string(number));
      return false;
    }
    return true;
  });
  return spec;
}

std::string quoted_piece(std::string_view piece) {
  std::string s = "'";  // built by appending: GCC 12 warns (-Wrestrict) on "'" + std::string(...)
  s.append(piece);
  s += '\'';
  return s;
}

std::string newer_fields_reason(const SentencePieceModelSpec& spec) {
  if (spec.unknown_fields.empty()) return "";
  std::string list;
  for (const std::string& f : spec.unknown_fields) list += (list.empty() ? "" : ", ") + f;
  return "the model has fields newer than sentencepiece 0.1.97's schema (" + list + ")";
}

}  // namespace sp
