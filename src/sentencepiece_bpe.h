// A native encoder for SentencePiece BPE models (Llama-2 / Mistral style:
// identity normalizer, byte fallback), exact against libsentencepiece 0.1.97's
// EncodeAsIds, through the library's one BPE engine (sp::BpeModel). Private
// to the library; sentencepiece_tokenizer.cc picks it when a model qualifies
// and keeps libsentencepiece otherwise.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpe_cuts.h"
#include "sentencepiece_proto.h"
#include "sp/bpe.h"

namespace sp {

class SentencePieceBpe {
 public:
  // Per-thread state: the engine's cache and the normalized text.
  struct Scratch {
    BpeCache cache;
    std::string normalized;  // normalize's buffer
    std::vector<uint32_t> ids;    // models with user-defined pieces: the ids of all segments
    std::vector<uint32_t> tied;   // models with tied runs: the ids after the tie phase
  };

  // The encoder for `spec`, or nullopt with the reason in *why_not when the
  // model uses something this encoder does not reproduce exactly (a unigram
  // model, a normalization charsmap, unused pieces, user-defined pieces that
  // hold a space, fields of a newer schema, ...). Throws InputError(source, ...) only where
  // libsentencepiece would refuse the model too.
  static std::optional<SentencePieceBpe> build(const SentencePieceModelSpec& spec, const std::string& source,
                                               std::string* why_not);

  // The ids EncodeAsIds gives for `text` (valid UTF-8), in the scratch's
  // buffer: valid until its next use.
  std::span<const uint32_t> encode(std::string_view text, Scratch& scratch) const;

  // SentencePiece's normalization of `text` with this model's spec (identity
  // charsmap): leading, trailing and repeated spaces removed when
  // remove_extra_whitespaces, the dummy ▁ added, spaces made ▁. Written into
  // `buffer` (grown as needed, never shrunk); the result views it.
  std::string_view normalize(std::string_view text, std::string& buffer) const;
  // Whether the text is cut into pieces before BPE where the vocabulary lets
  // no merge cross (bpe_cuts.h): the fast path.
  bool cuts_pieces() const { return cuts_.any(); }

 private:
  explicit SentencePieceBpe(BpeModel bpe) : bpe_(std::move(bpe)) {}
  BpeModel bpe_;
  // Pieces that are runs of one character c with one score, merged last (see build).
  struct TieRuns {
    static constexpr size_t kShortRuns = 64;
    uint32_t c = 0;                         // id of the single c
    std::vector<bool> lengths;              // [k]: c^k is a piece (k = 1 included)
    std::vector<uint32_t> ids;              // [k]: its id
    std::vector<std::vector<uint32_t>> short_runs;  // [n]: finish(n), for n <= kShortRuns
    void finish(size_t n, std::vector<uint32_t>& out) const;
    void prepare();
  };
  std::span<const uint32_t> encode_before_ties(std::string_view text, Scratch& scratch) const;
  std::span<const uint32_t> encode_segment(std::string_view segment, Scratch& scratch) const;
  std::shared_ptr<const TieRuns> ties_;  // null: no tied scores
  BpeCuts cuts_;  // none: the whole text is one piece
  // User-defined pieces by first byte, longest first.
  std::array<std::vector<std::pair<std::string, uint32_t>>, 256> user_pieces_;
  bool has_user_pieces_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool whitespace_as_suffix_ = false;
};

}  // namespace sp
