// A native encoder for SentencePiece unigram models (T5, ALBERT, XLNet style:
// a precompiled normalization charsmap such as nmt_nfkc, or identity),
// exact against libsentencepiece 0.1.97's EncodeAsIds: the same normalized
// text, the same Viterbi path (the library's float and double sums, the
// earliest start kept on equal scores), user-defined pieces passed through
// the normalizer and favoured as there, unknown runs fused or spelled as
// byte pieces as the library does. build() refuses, with the reason, every
// model that uses something this encoder does not reproduce
// (escape_whitespaces off, unused pieces, a newer schema's fields, a
// malformed charsmap, ...), and such models stay with the library. Private to the library;
// sentencepiece_tokenizer.cc picks it when a model qualifies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sentencepiece_proto.h"

namespace sp {

class SentencePieceUnigram {
 public:
  // The best path ending at one byte position of the normalized text.
  struct BestPath {
    float score = 0;
    int32_t starts_at = -1;  // -1: no path ends here yet
    uint32_t id = 0;
  };
  // Per-thread state: buffers reused from text to text.
  struct Scratch {
    std::string normalized;
    std::vector<BestPath> best;
    std::vector<uint32_t> path;  // ids of the best path, last first
    std::vector<uint32_t> ids;
  };

  // The encoder for `spec`, or nullopt with the reason in *why_not.
  static std::optional<SentencePieceUnigram> build(const SentencePieceModelSpec& spec, const std::string& source,
                                                   std::string* why_not);

  // The ids EncodeAsIds gives for `text` (valid UTF-8), in the scratch's
  // buffer: valid until its next use.
  std::span<const uint32_t> encode(std::string_view text, Scratch& scratch) const;

  // normalizer.cc's Normalize: the charsmap's longest rewrite at each
  // position (else the character itself), extra spaces removed when
  // remove_extra_whitespaces, the dummy ▁, spaces made ▁. Written into
  // `buffer`; the result views it.
  std::string_view normalize(std::string_view text, std::string& buffer) const;

 private:
  SentencePieceUnigram() = default;
  // The charsmap's rewrite of the longest rule that prefixes `text` and its
  // length, or length 0 when none does.
  std::pair<std::string_view, size_t> longest_rule(std::string_view text) const;
  // Byte trie of the pieces the lattice may use (normal and user-defined).
  // Children of a node with few are edges [first, first +
  // count) sorted by label; of one with many (kDense or more), a table of
  // 256 at dense_children_[first], 0 for none.
  static constexpr uint32_t kDense = 9;
  struct Node {
    int32_t id = -1;
    double score = 0;  // the piece's (a user-defined one's bonus) beside its id: one memory access
    uint32_t first = 0;
    uint32_t count = 0;
  };
  std::vector<Node> nodes_;
  std::vector<uint8_t> labels_;
  std::vector<uint32_t> children_;
  std::vector<uint32_t> dense_children_;
  // User-defined pieces by first byte, longest first: the normalizer passes
  // the longest one at a position through untouched.
  std::array<std::vector<std::string>, 256> user_pieces_;
  std::array<uint32_t, 256> root_children_{};  // the root's child by byte, 0 for none
  float unk_score_ = 0;
  uint32_t unk_id_ = 0;
  bool byte_fallback_ = false;
  std::vector<uint32_t> byte_ids_;  // <0xNN> piece ids, with byte fallback
  // The precompiled charsmap: Darts-clone double-array units and the
  // NUL-terminated rewrites they point into.
  std::vector<uint32_t> charsmap_units_;
  std::string charsmap_rewrites_;
  std::array<bool, 256> rule_starts_{};  // [b]: some rule starts with byte b
  // [b]: b is ASCII, not a space, and followed by ASCII (or nothing) it is
  // its own rewrite. Without a charsmap: every such b.
  std::array<bool, 256> plain_before_ascii_{};
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool whitespace_as_suffix_ = false;
};

}  // namespace sp
