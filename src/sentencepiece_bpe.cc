// SentencePiece BPE (bpe_model.cc in google/sentencepiece v0.1.97) on the
// library's BPE engine. SentencePiece's rule: split the normalized text into
// characters, then repeatedly merge the adjacent pair whose concatenation is
// a piece of the highest score, the leftmost on equal scores; characters that
// are no piece become their "<0xNN>" byte pieces (byte fallback) or the
// unknown piece, consecutive unknowns fused into one. In the engine's terms
// that is: character units, and for every piece P and every split P = A + B
// into two pieces a merge (A, B) -> P whose priority is P's rank by
// descending score. The engine breaks ties between equal priorities leftmost,
// as SentencePiece does, but needs one token per priority, so models where
// two mergeable pieces share a score stay with libsentencepiece (trained
// models give every piece its own score).
//
// Speed: SentencePiece has no pre-tokenizer, so a document would be one long
// piece for the engine's slow long-piece loops, with no cache help. When the
// vocabulary proves that no merge can cross a point, the text is cut there and
// the pieces go through the engine's batched path and caches: no piece holds
// ▁ right after another character (Llama-2, Mistral: ▁ only starts pieces or
// fills ▁ runs), so nothing merges across the start of a ▁ run; no piece holds
// an ASCII digit beside anything (split_digits), so digits stand alone. A cut
// where no merge can cross changes no ids: the merges on each side are the
// same, in the same relative order.
#include "sentencepiece_bpe.h"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "sp/error.h"
#include "sp/unicode.h"

namespace sp {
namespace {

using PieceType = SentencePieceModelSpec::PieceType;

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

inline bool metaspace_at(const char* s, size_t n, size_t i) {
  return i + 3 <= n && s[i] == '\xE2' && s[i + 1] == '\x96' && s[i + 2] == '\x81';
}
inline bool digit_at(const char* s, size_t i) { return static_cast<uint8_t>(s[i] - '0') < 10; }

// The engine's PretokenEnd for the cuts the vocabulary allows: kPrefix cuts
// before a ▁ that follows another character (▁ starts words), kSuffix after
// the end of each ▁ run (treat_whitespace_as_suffix: ▁ ends words), kDigits
// around each ASCII digit.
enum class Metaspace { kNoCut, kPrefix, kSuffix };

template <Metaspace kMode, bool kDigits>
size_t piece_end(std::string_view text, size_t pos) {
  const char* s = text.data();
  const size_t n = text.size();
  if (kDigits && digit_at(s, pos)) return pos + 1;
  size_t i = pos;
  if constexpr (kMode == Metaspace::kPrefix) {
    while (metaspace_at(s, n, i)) i += 3;  // the ▁ run that starts the piece
    if (i >= n) return n;
    if (kDigits && digit_at(s, i)) return i;
    // From the byte after the first other character's lead byte, the next ▁
    // has another character before it (an earlier ▁ would have been found).
    for (++i; i < n; ++i) {
      if (s[i] == '\xE2' && metaspace_at(s, n, i)) return i;
      if (kDigits && digit_at(s, i)) return i;
    }
    return n;
  } else if constexpr (kMode == Metaspace::kSuffix) {
    for (; i < n; ++i) {
      if (metaspace_at(s, n, i)) {
        while (metaspace_at(s, n, i)) i += 3;
        return i;
      }
      if (kDigits && i > pos && digit_at(s, i)) return i;
    }
    return n;
  } else {
    for (++i; i < n; ++i)
      if (digit_at(s, i)) return i;
    return n;
  }
}

template <Metaspace kMode>
BpeModel::PretokenEnd piece_end_for(bool digits) {
  return digits ? &piece_end<kMode, true> : &piece_end<kMode, false>;
}

std::string shown(std::string_view piece) { return "'" + std::string(piece) + "'"; }

}  // namespace

std::optional<SentencePieceBpe> SentencePieceBpe::build(const SentencePieceModelSpec& spec,
                                                        const std::string& source, std::string* why_not) {
  auto refuse = [&](std::string why) -> std::optional<SentencePieceBpe> {
    *why_not = std::move(why);
    return std::nullopt;
  };
  if (spec.model_type != 2) {
    static const char* const kTypes[] = {"?", "unigram", "BPE", "word", "char"};
    const int t = spec.model_type;
    return refuse(std::string("the model type is ") + (t >= 1 && t <= 4 ? kTypes[t] : std::to_string(t).c_str()) +
                  ", not BPE");
  }
  if (!spec.unknown_fields.empty()) {
    std::string list;
    for (const std::string& f : spec.unknown_fields) list += (list.empty() ? "" : ", ") + f;
    return refuse("the model has fields newer than sentencepiece 0.1.97's schema (" + list + ")");
  }
  if (!spec.precompiled_charsmap.empty())
    return refuse("its normalizer " + (spec.normalizer_name.empty() ? "" : spec.normalizer_name + " ") +
                  "rewrites characters (a precompiled charsmap), not identity");
  if (!spec.escape_whitespaces) return refuse("escape_whitespaces is off");

  const size_t count = spec.pieces.size();
  BpeVocabulary v;
  v.units = BpeVocabulary::Units::kCharacters;
  v.byte_fallback = spec.byte_fallback;
  v.fuse_unk = !spec.byte_fallback;  // PopulateSentencePieceText fuses unknown runs unless they fall back to bytes
  v.tokens.resize(count);
  absl::flat_hash_map<std::string_view, uint32_t> normal;  // text -> id, the pieces BPE can make (pieces_)
  absl::flat_hash_map<std::string_view, uint32_t> reserved;  // control, unknown, byte (reserved_id_map_)
  for (uint32_t id = 0; id < count; ++id) {
    const SentencePieceModelSpec::Piece& p = spec.pieces[id];
    v.tokens[id] = p.text;
    if (p.text.empty()) return refuse("piece " + std::to_string(id) + " is empty");
    switch (p.type) {
      case PieceType::kNormal:
        if (!normal.emplace(p.text, id).second) return refuse("piece " + shown(p.text) + " appears twice");
        break;
      case PieceType::kUnknown:
      case PieceType::kControl:
        v.specials.push_back(id);
        if (p.type == PieceType::kUnknown) v.unk_id = id;
        [[fallthrough]];
      case PieceType::kByte:
        if (!reserved.emplace(p.text, id).second) return refuse("piece " + shown(p.text) + " appears twice");
        break;
      case PieceType::kUserDefined: return refuse("it has user-defined pieces (" + shown(p.text) + ")");
      case PieceType::kUnused: return refuse("it has unused pieces (" + shown(p.text) + ")");
      default: return refuse("piece " + std::to_string(id) + " has an unknown type");
    }
  }
  if (!v.unk_id) throw InputError(source, 0, "the SentencePiece model has no unknown piece");
  for (const auto& [text, id] : reserved) {
    // PieceToId looks reserved pieces up first: one spelled like a character
    // or a normal piece would change what the result ids are.
    if (normal.contains(text) || utf8_sequence_length(text, 0) == text.size())
      return refuse("reserved piece " + shown(text) + " could stand for text");
  }
  if (spec.byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const auto it = reserved.find(name);
      if (it == reserved.end() || spec.pieces[it->second].type != PieceType::kByte)
        return refuse(std::string("byte fallback without the byte piece ") + name);
    }
  }

  // Mergeable pieces (two characters or more) by descending score; each
  // character of each must itself be a piece, so a character that is no
  // piece never takes part in a merge, as in the engine.
  struct Made {
    float score;
    uint32_t id;
  };
  std::vector<Made> made;
  for (const auto& [text, id] : normal) {
    size_t chars = 0;
    for (size_t i = 0; i < text.size(); ++chars) {
      const size_t len = utf8_sequence_length(text, i);
      if (len == 0) return refuse("piece " + std::to_string(id) + " is not UTF-8");
      if (!normal.contains(text.substr(i, len)))
        return refuse("piece " + shown(text) + " holds a character that is no piece");
      i += len;
    }
    if (chars >= 2) made.push_back({spec.pieces[id].score, id});
  }
  std::sort(made.begin(), made.end(),
            [](const Made& a, const Made& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); });
  for (size_t i = 1; i < made.size(); ++i)
    if (made[i].score == made[i - 1].score)
      return refuse("pieces " + shown(spec.pieces[made[i - 1].id].text) + " and " +
                    shown(spec.pieces[made[i].id].text) + " have the same score");
  for (uint32_t priority = 0; priority < made.size(); ++priority) {
    const std::string_view text = spec.pieces[made[priority].id].text;
    for (size_t k = utf8_sequence_length(text, 0); k < text.size(); k += utf8_sequence_length(text, k)) {
      const auto left = normal.find(text.substr(0, k)), right = normal.find(text.substr(k));
      if (left != normal.end() && right != normal.end()) v.merges.push_back({left->second, right->second, priority});
    }
  }

  // Where the text may be cut (see the note at the top).
  bool prefix_cuts = normal.contains(kMetaspace), suffix_cuts = prefix_cuts, digit_cuts = true;
  for (char d = '0'; d <= '9'; ++d) digit_cuts = digit_cuts && normal.contains(std::string_view(&d, 1));
  for (const Made& m : made) {
    const std::string_view t = spec.pieces[m.id].text;
    for (size_t i = 0; i < t.size(); ++i) {
      if (digit_at(t.data(), i)) digit_cuts = false;
      if (!metaspace_at(t.data(), t.size(), i)) continue;
      if (i > 0 && !(i >= 3 && metaspace_at(t.data(), t.size(), i - 3))) prefix_cuts = false;  // after another character
      if (i + 3 < t.size() && !metaspace_at(t.data(), t.size(), i + 3)) suffix_cuts = false;  // ▁ before one
    }
  }

  std::optional<SentencePieceBpe> out;
  try {
    out.emplace(SentencePieceBpe(BpeModel::build(std::move(v), source)));
  } catch (const InputError& e) {
    return refuse(std::string("the BPE engine does not take its vocabulary: ") + e.what());
  }
  out->add_dummy_prefix_ = spec.add_dummy_prefix;
  out->remove_extra_whitespaces_ = spec.remove_extra_whitespaces;
  out->whitespace_as_suffix_ = spec.treat_whitespace_as_suffix;
  if (!spec.treat_whitespace_as_suffix && prefix_cuts)
    out->piece_end_ = piece_end_for<Metaspace::kPrefix>(digit_cuts);
  else if (spec.treat_whitespace_as_suffix && suffix_cuts)
    out->piece_end_ = piece_end_for<Metaspace::kSuffix>(digit_cuts);
  else if (digit_cuts)
    out->piece_end_ = &piece_end<Metaspace::kNoCut, true>;
  return out;
}

// normalizer.cc's Normalize with an empty charsmap: each character is itself,
// a space is ▁; with remove_extra_whitespaces, spaces at the start and runs of
// spaces go, and so do trailing ▁ (literal ones in the text too, as there).
void SentencePieceBpe::normalize(std::string_view text, std::string& out) const {
  out.clear();
  if (remove_extra_whitespaces_) {
    const size_t first = text.find_first_not_of(' ');
    if (first == std::string_view::npos) return;
    text.remove_prefix(first);
  }
  if (text.empty()) return;
  if (add_dummy_prefix_ && !whitespace_as_suffix_) out += kMetaspace;
  for (size_t start = 0;;) {
    const void* hit = std::memchr(text.data() + start, ' ', text.size() - start);
    if (hit == nullptr) {
      out.append(text.substr(start));
      break;
    }
    const size_t at = static_cast<const char*>(hit) - text.data();
    out.append(text.substr(start, at - start));
    out += kMetaspace;
    start = at + 1;
    if (remove_extra_whitespaces_)
      while (start < text.size() && text[start] == ' ') ++start;
  }
  if (remove_extra_whitespaces_)
    while (out.ends_with(kMetaspace)) out.resize(out.size() - kMetaspace.size());
  if (add_dummy_prefix_ && whitespace_as_suffix_) out += kMetaspace;
}

std::span<const uint32_t> SentencePieceBpe::encode(std::string_view text, Scratch& scratch) const {
  normalize(text, scratch.normalized);
  const std::string_view normalized = scratch.normalized;
  if (normalized.empty()) return {};
  if (piece_end_ != nullptr) return bpe_.encode_span(normalized, piece_end_, scratch.cache);
  const std::string_view whole[] = {normalized};
  return bpe_.encode_pieces(whole, scratch.cache);
}

}  // namespace sp
