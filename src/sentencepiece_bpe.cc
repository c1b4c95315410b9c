// SentencePiece BPE (bpe_model.cc in google/sentencepiece v0.1.97) on the
// library's BPE engine. SentencePiece's rule: split the normalized text into
// characters, then repeatedly merge the adjacent pair whose concatenation is
// a piece of the highest score, the leftmost on equal scores; characters that
// are no piece become their "<0xNN>" byte pieces (byte fallback) or the
// unknown piece, consecutive unknowns fused into one. In the engine's terms
// that is: character units, and for every piece P and every split P = A + B
// into two pieces a merge (A, B) -> P whose priority is P's rank by
// descending score. The engine breaks ties between equal priorities leftmost,
// as SentencePiece does, but needs one token per priority: the one tie real
// models have (Llama-2's and Mistral's ▁ runs, all at -1e9) is taken apart
// in a tie phase (see build), and any other shared score stays with
// libsentencepiece. User-defined pieces are matched whole before BPE.
//
// Speed: SentencePiece has no pre-tokenizer, so a document would be one long
// piece for the engine's slow long-piece loops, with no cache help. The text
// is cut wherever the vocabulary proves no merge can cross (bpe_cuts.h: e.g.
// before a ▁ that follows another character in Llama-2 and Mistral, whose
// pieces hold ▁ only at their start or in ▁ runs; around digits with
// split_digits), and the pieces go through the engine's batched path and caches.
#include "sentencepiece_bpe.h"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "bpe_cuts.h"
#include "replace_byte.h"
#include "sp/error.h"
#include "sp/unicode.h"

namespace sp {
namespace {

using PieceType = SentencePieceModelSpec::PieceType;



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
  if (std::string why = newer_fields_reason(spec); !why.empty()) return refuse(std::move(why));
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
  std::vector<std::pair<std::string, uint32_t>> user_pieces;
  for (uint32_t id = 0; id < count; ++id) {
    const SentencePieceModelSpec::Piece& p = spec.pieces[id];
    v.tokens[id] = p.text;
    if (p.text.empty()) return refuse("piece " + std::to_string(id) + " is empty");
    switch (p.type) {
      case PieceType::kNormal:
        if (!normal.emplace(p.text, id).second) return refuse("piece " + quoted_piece(p.text) + " appears twice");
        break;
      case PieceType::kUnknown:
      case PieceType::kControl:
        v.specials.push_back(id);
        if (p.type == PieceType::kUnknown) v.unk_id = id;
        [[fallthrough]];
      case PieceType::kByte:
        if (!reserved.emplace(p.text, id).second) return refuse("piece " + quoted_piece(p.text) + " appears twice");
        break;
      case PieceType::kUserDefined:
        // Matched before BPE and never merged (frozen symbols); one with a
        // space or ▁ would also take part in the normalizer's space rules.
        if (p.text.find(' ') != std::string::npos || p.text.find(kMetaspace) != std::string::npos)
          return refuse("user-defined piece " + quoted_piece(p.text) + " holds a space");
        v.specials.push_back(id);
        user_pieces.emplace_back(p.text, id);
        break;
      case PieceType::kUnused: return refuse("it has unused pieces (" + quoted_piece(p.text) + ")");
      default: return refuse("piece " + std::to_string(id) + " has an unknown type");
    }
  }
  if (!v.unk_id) throw InputError(source, 0, "the SentencePiece model has no unknown piece");
  for (const auto& [text, id] : reserved) {
    // PieceToId looks reserved pieces up first: one spelled like a character
    // or a normal piece would change what the result ids are.
    if (normal.contains(text) || utf8_sequence_length(text, 0) == text.size())
      return refuse("reserved piece " + quoted_piece(text) + " could stand for text");
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
        return refuse("piece " + quoted_piece(text) + " holds a character that is no piece");
      i += len;
    }
    if (chars >= 2) made.push_back({spec.pieces[id].score, id});
  }
  std::sort(made.begin(), made.end(),
            [](const Made& a, const Made& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); });
  // Equal scores: SentencePiece merges the leftmost of the tied pairs, which
  // ranks cannot say when the pieces differ. One case is taken (Llama-2's and
  // Mistral's runs of ▁, all at -1e9): the tied pieces are all the runs of
  // one character c, below every other score, and no other merge takes a run
  // of two or more as a part. Those merges then come last and touch only
  // runs of c, so the engine runs without them and tie_runs() finishes each
  // run of single c in its output.
  TieRuns ties;
  const size_t tied_from = [&] {
    size_t first = made.size();
    while (first > 1 && made[first - 2].score == made[first - 1].score) --first;
    return first == made.size() ? made.size() : first - 1;
  }();
  for (size_t i = 1; i < tied_from; ++i)
    if (made[i].score == made[i - 1].score)
      return refuse("pieces " + quoted_piece(spec.pieces[made[i - 1].id].text) + " and " +
                    quoted_piece(spec.pieces[made[i].id].text) + " have the same score");
  if (tied_from < made.size()) {
    const std::string_view first = spec.pieces[made[tied_from].id].text;
    const std::string_view c = first.substr(0, utf8_sequence_length(first, 0));
    auto run_length = [&](std::string_view t) -> size_t {  // t = c^k: k, else 0
      if (t.size() % c.size() != 0) return 0;
      for (size_t i = 0; i < t.size(); i += c.size())
        if (t.compare(i, c.size(), c) != 0) return 0;
      return t.size() / c.size();
    };
    ties.lengths.assign(2, false);
    ties.ids.assign(2, 0);
    ties.lengths[1] = true;
    ties.ids[1] = normal.at(c);
    for (size_t i = tied_from; i < made.size(); ++i) {
      const std::string_view t = spec.pieces[made[i].id].text;
      const size_t k = run_length(t);
      if (k < 2)
        return refuse("pieces " + quoted_piece(first) + " and " + quoted_piece(t) + " have the same score");
      if (k >= ties.lengths.size()) ties.lengths.resize(k + 1, false), ties.ids.resize(k + 1, 0);
      ties.lengths[k] = true;
      ties.ids[k] = made[i].id;
    }
    for (size_t i = 0; i < tied_from; ++i) {
      const std::string_view t = spec.pieces[made[i].id].text;
      if (run_length(t) >= 2) return refuse("run piece " + quoted_piece(t) + " does not share the other runs' score");
      for (size_t k = utf8_sequence_length(t, 0); k < t.size(); k += utf8_sequence_length(t, k))
        if (run_length(t.substr(0, k)) >= 2 || run_length(t.substr(k)) >= 2)
          return refuse("piece " + quoted_piece(t) + " is made from a run of the same score as other runs");
    }
    ties.c = ties.ids[1];
    made.resize(tied_from);
  }
  for (uint32_t priority = 0; priority < made.size(); ++priority) {
    const std::string_view text = spec.pieces[made[priority].id].text;
    for (size_t k = utf8_sequence_length(text, 0); k < text.size(); k += utf8_sequence_length(text, k)) {
      const auto left = normal.find(text.substr(0, k)), right = normal.find(text.substr(k));
      if (left != normal.end() && right != normal.end()) v.merges.push_back({left->second, right->second, priority});
    }
  }

  const BpeCuts cuts = BpeCuts::build(v);
  std::optional<SentencePieceBpe> out;
  try {
    out.emplace(SentencePieceBpe(BpeModel::build(std::move(v), source)));
  } catch (const InputError& e) {
    return refuse(std::string("the BPE engine does not take its vocabulary: ") + e.what());
  }
  out->add_dummy_prefix_ = spec.add_dummy_prefix;
  out->remove_extra_whitespaces_ = spec.remove_extra_whitespaces;
  out->whitespace_as_suffix_ = spec.treat_whitespace_as_suffix;
  out->cuts_ = cuts;
  if (!ties.lengths.empty()) {
    ties.prepare();
    out->ties_ = std::make_shared<const TieRuns>(std::move(ties));
  }
  // Longest first within each first byte: PrefixMatcher takes the longest match.
  std::sort(user_pieces.begin(), user_pieces.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (auto& [text, id] : user_pieces) out->user_pieces_[static_cast<uint8_t>(text[0])].emplace_back(text, id);
  out->has_user_pieces_ = !user_pieces.empty();
  return out;
}

// normalizer.cc's Normalize with an empty charsmap: each character is itself,
// a space is ▁; with remove_extra_whitespaces, spaces at the start and runs of
// spaces go, and so do trailing ▁ (literal ones in the text too, as there).
std::string_view SentencePieceBpe::normalize(std::string_view text, std::string& buffer) const {
  if (remove_extra_whitespaces_) {
    const size_t first = text.find_first_not_of(' ');
    if (first == std::string_view::npos) return {};
    text.remove_prefix(first);
  }
  if (text.empty()) return {};
  // Every byte a space, the dummy ▁ at either end, replace_byte's 16 bytes of
  // slack; the buffer only grows, so it is not zero-filled again for every text.
  const size_t room = 3 * text.size() + 2 * kMetaspace.size() + 16;
  if (buffer.size() < room) buffer.resize(std::max(room, 2 * buffer.size()));
  char* const begin = buffer.data();
  char* o = begin;
  auto put_metaspace = [&o] {
    std::memcpy(o, kMetaspace.data(), 3);
    o += 3;
  };
  if (add_dummy_prefix_ && !whitespace_as_suffix_) put_metaspace();
  o = replace_byte(text, ' ', kMetaspace, remove_extra_whitespaces_, o);
  if (remove_extra_whitespaces_)
    while (o - begin >= 3 && std::memcmp(o - 3, kMetaspace.data(), 3) == 0) o -= 3;
  if (add_dummy_prefix_ && whitespace_as_suffix_) put_metaspace();
  return std::string_view(begin, static_cast<size_t>(o - begin));
}

std::span<const uint32_t> SentencePieceBpe::encode_segment(std::string_view segment, Scratch& scratch) const {
  if (cuts_.any()) return bpe_.encode_span(segment, &BpeCuts::piece_end_of, &BpeCuts::window_of, &cuts_, scratch.cache);
  const std::string_view whole[] = {segment};
  return bpe_.encode_pieces(whole, scratch.cache);
}

// The tie phase of one run of n single c: SentencePiece merges the leftmost
// adjacent pair whose run is a piece, again and again. A pair left of the
// last merge that could not merge never can (its parts are unchanged), so the
// scan resumes one pair left of it: O(n) with a linked list of parts.
void SentencePieceBpe::TieRuns::finish(size_t n, std::vector<uint32_t>& out) const {
  std::vector<size_t> length(n, 1), next(n), prev(n);
  for (size_t i = 0; i < n; ++i) next[i] = i + 1, prev[i] = i - 1;  // n: none; SIZE_MAX: none
  auto joins = [&](size_t i) { return next[i] < n && length[i] + length[next[i]] < lengths.size() &&
                                      lengths[length[i] + length[next[i]]]; };
  size_t i = 0;
  while (i < n) {
    if (!joins(i)) {
      i = next[i];
      continue;
    }
    const size_t right = next[i];
    length[i] += length[right];
    next[i] = next[right];
    if (next[i] < n) prev[next[i]] = i;
    if (prev[i] != SIZE_MAX) i = prev[i];
  }
  for (size_t k = 0; k < n; k = next[k]) out.push_back(ids[length[k]]);
}

void SentencePieceBpe::TieRuns::prepare() {
  short_runs.resize(kShortRuns + 1);
  for (size_t n = 1; n <= kShortRuns; ++n) finish(n, short_runs[n]);
}

std::span<const uint32_t> SentencePieceBpe::encode(std::string_view text, Scratch& scratch) const {
  const std::span<const uint32_t> ids = encode_before_ties(text, scratch);
  if (!ties_) return ids;
  // Each run of single c in the engine's ids goes through the tie phase.
  std::vector<uint32_t>& out = scratch.tied;
  out.clear();
  for (size_t i = 0; i < ids.size();) {
    if (ids[i] != ties_->c) {
      out.push_back(ids[i++]);
      continue;
    }
    size_t n = 1;
    while (i + n < ids.size() && ids[i + n] == ties_->c) ++n;
    if (n <= TieRuns::kShortRuns)
      out.insert(out.end(), ties_->short_runs[n].begin(), ties_->short_runs[n].end());
    else
      ties_->finish(n, out);
    i += n;
  }
  return out;
}

std::span<const uint32_t> SentencePieceBpe::encode_before_ties(std::string_view text, Scratch& scratch) const {
  const std::string_view normalized = normalize(text, scratch.normalized);
  if (normalized.empty()) return {};
  if (!has_user_pieces_) return encode_segment(normalized, scratch);
  // bpe_model.cc's split into symbols: at each character the longest
  // user-defined piece that starts there is one frozen symbol, its own id;
  // the text between goes through BPE. (A piece starts with a lead byte, so
  // trying every byte tries every character.)
  std::vector<uint32_t>& ids = scratch.ids;
  ids.clear();
  auto append = [&ids](std::span<const uint32_t> more) { ids.insert(ids.end(), more.begin(), more.end()); };
  size_t segment = 0;
  for (size_t i = 0; i < normalized.size();) {
    const auto& candidates = user_pieces_[static_cast<uint8_t>(normalized[i])];
    const std::pair<std::string, uint32_t>* match = nullptr;
    for (const auto& candidate : candidates) {
      if (normalized.substr(i).starts_with(candidate.first)) {
        match = &candidate;
        break;
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    if (i > segment) append(encode_segment(normalized.substr(segment, i - segment), scratch));
    ids.push_back(match->second);
    i += match->first.size();
    segment = i;
  }
  if (segment < normalized.size()) append(encode_segment(normalized.substr(segment), scratch));
  return ids;
}

}  // namespace sp
