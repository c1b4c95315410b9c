// SentencePiece unigram (unigram_model.cc's EncodeOptimized, normalizer.cc
// and sentencepiece_processor.cc's PopulateSentencePieceText in
// google/sentencepiece v0.1.97), reproduced step for step where the step
// decides the ids:
// - Normalization: at each position the longest charsmap rule that prefixes
//   the rest of the text (a Darts-clone common-prefix search, so a rule may
//   span characters) gives its rewrite, else the character is copied; a
//   rewrite's leading spaces are dropped after a space when
//   remove_extra_whitespaces, as are leading spaces (a rewrite that is
//   exactly " ") and trailing ▁.
// - Viterbi over byte positions: from each character start, every piece the
//   trie finds there offers score + best score so far (in the library's mix
//   of double and float, see encode) to the position it ends at; a strictly
//   greater score replaces the kept one, so on equal scores the earliest
//   start wins. A character no one-character piece covers is an unknown node
//   of score min(normal scores) - 10.
// - User-defined pieces: the longest one at a position passes the
//   normalizer untouched (before any charsmap rule), and in the lattice it
//   scores its byte length times the highest normal score, less 0.1.
// - Unknown nodes in a row fuse into one unknown id, or with byte fallback
//   each becomes the <0xNN> pieces of its bytes.
#include "sentencepiece_unigram.h"

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>

#include "sp/error.h"
#include "sp/unicode.h"

namespace sp {
namespace {

using PieceType = SentencePieceModelSpec::PieceType;

constexpr float kUnkPenalty = 10.0f;                      // unigram_model.cc

// SentencePiece's util::OneCharLen: the length its lead byte claims.
inline size_t one_char_len(uint8_t lead) { return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[lead >> 4]; }

// Darts-clone's DoubleArrayUnit accessors.
inline bool has_leaf(uint32_t unit) { return ((unit >> 8) & 1) == 1; }
inline uint32_t unit_value(uint32_t unit) { return unit & ((1u << 31) - 1); }
inline uint32_t unit_label(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
inline uint32_t unit_offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }


}  // namespace

std::optional<SentencePieceUnigram> SentencePieceUnigram::build(const SentencePieceModelSpec& spec,
                                                                const std::string& source, std::string* why_not) {
  auto refuse = [&](std::string why) -> std::optional<SentencePieceUnigram> {
    *why_not = std::move(why);
    return std::nullopt;
  };
  if (spec.model_type != 1) return refuse("the model type is not unigram");
  if (std::string why = newer_fields_reason(spec); !why.empty()) return refuse(std::move(why));
  // Without escaping, spaces stay spaces and the trailing-space rule looks
  // for " ": reproducible, but no model we know of does it, so untested.
  if (!spec.escape_whitespaces) return refuse("escape_whitespaces is off");

  SentencePieceUnigram out;
  out.add_dummy_prefix_ = spec.add_dummy_prefix;
  out.remove_extra_whitespaces_ = spec.remove_extra_whitespaces;
  out.whitespace_as_suffix_ = spec.treat_whitespace_as_suffix;
  out.byte_fallback_ = spec.byte_fallback;

  for (uint32_t b = 0; b < 0x80; ++b) out.plain_before_ascii_[b] = b != ' ';
  if (!spec.precompiled_charsmap.empty()) {
    // <uint32 trie size, little-endian><double array><rewrites>, as
    // Normalizer::DecodePrecompiledCharsMap reads it.
    const std::string& blob = spec.precompiled_charsmap;
    uint32_t trie_size = 0;
    if (blob.size() <= 4) return refuse("its charsmap is broken (shorter than its header)");
    std::memcpy(&trie_size, blob.data(), 4);
    if (trie_size == 0 || trie_size > blob.size() - 4 || trie_size % 4 != 0)
      return refuse("its charsmap is broken (trie size " + std::to_string(trie_size) + ")");
    out.charsmap_units_.resize(trie_size / 4);
    std::memcpy(out.charsmap_units_.data(), blob.data() + 4, trie_size);
    out.charsmap_rewrites_ = blob.substr(4 + trie_size);
    // Which first bytes have a transition from the root (a byte with none
    // starts no rule, and its character is copied).
    const std::vector<uint32_t>& units = out.charsmap_units_;
    for (uint32_t b = 0; b < 256; ++b) {
      const size_t pos = unit_offset(units[0]) ^ b;
      out.rule_starts_[b] = pos < units.size() && unit_label(units[pos]) == b;
      // An ASCII byte whose rules (NFKC's compositions such as "a" + U+0308)
      // all go on with a non-ASCII byte and none is the byte alone.
      if (b >= 0x80 || b == ' ') continue;
      bool ascii_next = false;
      if (out.rule_starts_[b]) {
        const size_t next = pos ^ unit_offset(units[pos]);
        ascii_next = has_leaf(units[pos]);
        for (uint32_t c = 0; c < 0x80 && !ascii_next; ++c)
          ascii_next = (next ^ c) >= units.size() || unit_label(units[next ^ c]) == c;
      }
      out.plain_before_ascii_[b] = !ascii_next;
    }
    // The library reads rewrites up to a NUL; one the blob does not end would
    // read past it there, so demand the final NUL here.
    if (out.charsmap_rewrites_.empty() || out.charsmap_rewrites_.back() != '\0')
      return refuse("its charsmap's rewrites do not end with NUL");
  }

  // Pieces: normal, user-defined and the reserved kinds. Unused pieces sit
  // in the library's trie and are skipped there; no model at hand has them
  // to test that against, so they stay with the library.
  struct Entry {
    std::map<uint8_t, uint32_t> children;
    int32_t id = -1;
  };
  std::vector<Entry> trie(1);
  float min_score = FLT_MAX, max_score = FLT_MIN;  // over normal pieces, from the library's starting values
  std::vector<uint32_t> user_ids;
  bool has_unk = false, has_normal = false;
  std::map<std::string_view, uint32_t> seen, byte_pieces;
  for (uint32_t id = 0; id < spec.pieces.size(); ++id) {
    const SentencePieceModelSpec::Piece& p = spec.pieces[id];
    if (p.text.empty()) return refuse("piece " + std::to_string(id) + " is empty");
    if (!seen.emplace(p.text, id).second) return refuse("piece " + quoted_piece(p.text) + " appears twice");
    switch (p.type) {
      case PieceType::kNormal:
      case PieceType::kUserDefined: {
        if (!is_valid_utf8(p.text)) return refuse("piece " + std::to_string(id) + " is not UTF-8");
        uint32_t node = 0;
        for (const char c : p.text) {
          const auto [it, fresh] = trie[node].children.emplace(static_cast<uint8_t>(c), 0);
          if (fresh) {
            it->second = static_cast<uint32_t>(trie.size());
            trie.emplace_back();
          }
          node = it->second;
        }
        trie[node].id = static_cast<int32_t>(id);
        if (p.type == PieceType::kNormal) {
          min_score = std::min(min_score, p.score);
          max_score = std::max(max_score, p.score);
          has_normal = true;
        }
        if (p.type == PieceType::kUserDefined) {
          // The library's PrefixMatcher keys are C strings.
          if (p.text.find('\0') != std::string::npos)
            return refuse("user-defined piece " + std::to_string(id) + " holds NUL");
          user_ids.push_back(id);
        }
        break;
      }
      case PieceType::kUnknown:
        if (has_unk) return refuse("it has two unknown pieces");
        has_unk = true;
        out.unk_id_ = id;
        break;
      case PieceType::kControl: break;
      case PieceType::kUnused: return refuse("it has unused pieces (" + quoted_piece(p.text) + ")");
      case PieceType::kByte: byte_pieces.emplace(p.text, id); break;
      default: return refuse("piece " + std::to_string(id) + " has an unknown type");
    }
  }
  if (!has_unk) throw InputError(source, 0, "the SentencePiece model has no unknown piece");
  if (!has_normal) return refuse("it has no normal pieces");
  out.unk_score_ = min_score - kUnkPenalty;
  for (const uint32_t id : user_ids) {
    const std::string& text = spec.pieces[id].text;
    out.user_pieces_[static_cast<uint8_t>(text[0])].push_back(text);
    out.plain_before_ascii_[static_cast<uint8_t>(text[0])] = false;  // the normalizer's fast path must stop there
  }
  for (auto& pieces : out.user_pieces_)
    std::sort(pieces.begin(), pieces.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  if (spec.byte_fallback) {
    out.byte_ids_.resize(256);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const auto it = byte_pieces.find(name);
      if (it == byte_pieces.end()) return refuse(std::string("byte fallback without the byte piece ") + name);
      out.byte_ids_[static_cast<size_t>(b)] = it->second;
    }
  }
  // Flatten: each node's edges contiguous and sorted by label (std::map order).
  out.nodes_.resize(trie.size());
  for (uint32_t n = 0; n < trie.size(); ++n) {
    Node& node = out.nodes_[n];
    node.id = trie[n].id;
    if (node.id >= 0) {
      const SentencePieceModelSpec::Piece& p = spec.pieces[static_cast<size_t>(node.id)];
      // A user-defined piece's bonus, in the library's types: its byte
      // length times the highest normal score in float, less 0.1 in double.
      node.score = p.type == PieceType::kUserDefined
                       ? static_cast<double>(static_cast<float>(p.text.size()) * max_score) - 0.1
                       : static_cast<double>(p.score);
    }
    node.count = static_cast<uint32_t>(trie[n].children.size());
    if (node.count >= kDense) {
      node.first = static_cast<uint32_t>(out.dense_children_.size());
      out.dense_children_.resize(out.dense_children_.size() + 256, 0);
      for (const auto& [label, child] : trie[n].children) out.dense_children_[node.first + label] = child;
    } else {
      node.first = static_cast<uint32_t>(out.labels_.size());
      for (const auto& [label, child] : trie[n].children) {
        out.labels_.push_back(label);
        out.children_.push_back(child);
      }
    }
    if (n == 0)
      for (const auto& [label, child] : trie[n].children) out.root_children_[label] = child;
  }
  return out;
}

std::pair<std::string_view, size_t> SentencePieceUnigram::longest_rule(std::string_view text) const {
  // Darts-clone's commonPrefixSearch; the last leaf met is the longest.
  const std::vector<uint32_t>& units = charsmap_units_;
  size_t pos = unit_offset(units[0]);
  size_t longest = 0;
  uint32_t value = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    pos ^= c;
    if (pos >= units.size()) break;  // a well-formed array never leaves itself; do not read past it
    const uint32_t unit = units[pos];
    if (unit_label(unit) != c) break;
    pos ^= unit_offset(unit);
    if (has_leaf(unit)) {
      if (pos >= units.size()) break;
      longest = i + 1;
      value = unit_value(units[pos]);
    }
  }
  if (longest == 0) return {{}, 0};
  if (value >= charsmap_rewrites_.size()) return {{}, 0};  // the library would read outside its blob
  return {std::string_view(charsmap_rewrites_.data() + value), longest};
}

std::string_view SentencePieceUnigram::normalize(std::string_view text, std::string& buffer) const {
  buffer.clear();
  // One normalization step: the rewrite and how many input bytes it takes.
  auto step = [this](std::string_view rest) -> std::pair<std::string_view, size_t> {
    for (const std::string& piece : user_pieces_[static_cast<uint8_t>(rest[0])])
      if (rest.starts_with(piece)) return {rest.substr(0, piece.size()), piece.size()};
    if (rule_starts_[static_cast<uint8_t>(rest[0])]) {
      const auto rule = longest_rule(rest);
      if (rule.second != 0) return rule;
    }
    const size_t len = utf8_sequence_length(rest, 0);
    if (len == 0) return {"\xEF\xBF\xBD", 1};  // as the library: U+FFFD for one bad byte
    return {rest.substr(0, len), len};
  };
  if (remove_extra_whitespaces_) {
    while (!text.empty()) {
      const auto [rewrite, taken] = step(text);
      if (rewrite != " ") break;
      text.remove_prefix(taken);
    }
  }
  if (text.empty()) return {};
  buffer.reserve(3 * text.size() + 8);
  if (add_dummy_prefix_ && !whitespace_as_suffix_) buffer += kMetaspace;
  bool prev_space = remove_extra_whitespaces_;
  while (!text.empty()) {
    // Fast path: a run of ASCII other than space where no rule can match
    // more than the byte itself is copied as it is (each byte its own
    // rewrite, ending in no space).
    size_t plain = 0;
    while (plain < text.size()) {
      const auto b = static_cast<uint8_t>(text[plain]);
      if (!plain_before_ascii_[b]) break;  // a space, a rule or a user-defined piece may start here
      if (rule_starts_[b] && plain + 1 < text.size() && static_cast<uint8_t>(text[plain + 1]) >= 0x80) break;
      ++plain;
    }
    if (plain != 0) {
      buffer.append(text.data(), plain);
      prev_space = false;
      text.remove_prefix(plain);
      continue;
    }
    auto [rewrite, taken] = step(text);
    if (prev_space)
      while (!rewrite.empty() && rewrite.front() == ' ') rewrite.remove_prefix(1);
    if (!rewrite.empty()) {
      for (const char c : rewrite) {
        if (c == ' ') buffer += kMetaspace;
        else buffer += c;
      }
      prev_space = rewrite.back() == ' ';
    }
    text.remove_prefix(taken);
    if (!remove_extra_whitespaces_) prev_space = false;
  }
  if (remove_extra_whitespaces_)
    while (buffer.size() >= 3 && std::string_view(buffer).ends_with(kMetaspace)) buffer.resize(buffer.size() - 3);
  if (add_dummy_prefix_ && whitespace_as_suffix_) buffer += kMetaspace;
  return buffer;
}

std::span<const uint32_t> SentencePieceUnigram::encode(std::string_view text, Scratch& scratch) const {
  const std::string_view normalized = normalize(text, scratch.normalized);
  std::vector<uint32_t>& ids = scratch.ids;
  ids.clear();
  if (normalized.empty()) return {};
  const size_t size = normalized.size();
  // Path starts are int32 (the library's positions are ints too): refuse,
  // never wrap, a document past that.
  if (size > static_cast<size_t>(INT32_MAX))
    throw Error("a document of " + std::to_string(text.size()) +
                " bytes is longer than the SentencePiece unigram encoder takes (2 GiB normalized)");
  std::vector<BestPath>& best = scratch.best;
  best.assign(size + 1, BestPath{});
  const auto* bytes = reinterpret_cast<const uint8_t*>(normalized.data());
  for (size_t start = 0; start < size;) {
    const float so_far = best[start].score;
    const size_t char_len = std::min(one_char_len(bytes[start]), size - start);
    bool single = false;  // a piece covers exactly this character
    // The library's arithmetic: a piece's score is a double there (the
    // ternary with the user-defined bonus makes it one), so its sum is
    // double, compared with the kept float and then rounded to float; the
    // unknown node's sum is float + float.
    auto offer = [&](size_t end, double candidate, uint32_t id) {
      BestPath& target = best[end];
      if (target.starts_at == -1 || candidate > static_cast<double>(target.score)) {
        target.score = static_cast<float>(candidate);
        target.starts_at = static_cast<int32_t>(start);
        target.id = id;
      }
    };
    uint32_t node = root_children_[bytes[start]];
    for (size_t at = start + 1; node != 0;) {
      const Node& n = nodes_[node];
      if (n.id >= 0) {
        offer(at, n.score + so_far, static_cast<uint32_t>(n.id));
        if (at - start == char_len) single = true;
      }
      if (at == size || n.count == 0) break;
      const uint8_t c = bytes[at++];
      if (n.count >= kDense) {
        node = dense_children_[n.first + c];
      } else {
        const uint8_t* first = labels_.data() + n.first;
        const uint8_t* last = first + n.count;
        const uint8_t* hit = std::find(first, last, c);
        node = hit != last ? children_[n.first + static_cast<size_t>(hit - first)] : 0;
      }
    }
    if (!single) offer(start + char_len, unk_score_ + so_far, unk_id_);
    start += char_len;
  }
  // Back from the end, then PopulateSentencePieceText's unknown handling.
  std::vector<uint32_t>& path = scratch.path;
  path.clear();
  for (size_t end = size; end > 0;) {
    const BestPath& node = best[end];
    path.push_back(static_cast<uint32_t>(end));
    end = static_cast<size_t>(node.starts_at);
  }
  bool prev_unk = false;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    const BestPath& node = best[*it];
    const bool unk = node.id == unk_id_;
    if (unk && byte_fallback_) {
      for (size_t i = static_cast<size_t>(node.starts_at); i < *it; ++i) ids.push_back(byte_ids_[bytes[i]]);
    } else if (!(unk && prev_unk)) {
      ids.push_back(node.id);
    }
    prev_unk = unk;
  }
  return ids;
}

}  // namespace sp
