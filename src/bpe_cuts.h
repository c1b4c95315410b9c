// Where a character-level BPE vocabulary (SentencePiece-style: no
// pre-tokenizer, so a whole document is one piece) lets text be cut into
// pieces without changing its ids, so that the pieces can go through the
// engine's batched path and caches instead of its long-piece loops.
//
// The first merge that crosses the boundary between two adjacent characters
// x and y joins a symbol that ends with x to one that starts with y. So when
// no merge's left token ends with x while its right token starts with y, and
// neither character can take part in a merge as an unknown one (a byte
// fallback or unknown token in some merge), no merge crosses there; the
// merges on each side are then the same, in the same relative order, whether
// the text is cut there or not. Two unknown characters side by side are never
// cut apart unless byte fallback covers every byte: the unknown token may
// fuse them. Characters are told apart by class: each ASCII character, ▁
// (U+2581), and one class for all other characters, which is what keeps the
// table small; the check for a class is the union over its characters, so it
// only ever cuts less. Private to the library.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "sp/bpe.h"

namespace sp {

class BpeCuts {
 public:
  BpeCuts() = default;  // cuts nowhere
  // The cuts a kCharacters vocabulary allows (none for kBytes or ignore_merges:
  // a whole piece that is a token would no longer be one).
  static BpeCuts build(const BpeVocabulary& vocabulary);
  // Whether any boundary may be cut.
  bool any() const { return any_; }
  // Whether the boundary between a character of class `left` and one of class `right` may be cut.
  bool cuts(std::string_view left, std::string_view right) const {
    return cut_[class_of(left) * kClasses + class_of(right)];
  }
  // Appends the pieces of `text` (valid UTF-8, not empty) to `pieces`, cut as piece_end cuts.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;
  // End of the piece that starts at pos < text.size(): the next allowed cut
  // once the piece has kMinPieceBytes, or the next allowed cut before a ▁, or
  // the end. Any subset of the allowed cuts is exact; skipping those that
  // would leave a piece of one byte ("2", ",", "(") saves the engine a lookup
  // each, and the pieces it makes instead ("2,", "(x") still hit its caches.
  // On 8 MB of mixed text (callgrind, whole process): 714M instructions with
  // every cut, 649M with 2, 662M with 3, 685M with 5 for bpe_bytefallback.model;
  // Mistral's tokenizer.json 918M, 900M, 909M, 945M.
  static constexpr size_t kMinPieceBytes = 2;
  size_t piece_end(std::string_view text, size_t pos) const {
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    const size_t n = text.size();
    size_t len;
    const uint8_t* row = &cut_[class_at(s, n, pos, len) * kClasses];
    for (size_t i = pos + len; i < n;) {
      const uint8_t b = s[i];
      if (b < 0x80) {  // ASCII: the class is the byte
        if (row[b] && i - pos >= kMinPieceBytes) return i;
        row = &cut_[b * kClasses];
        ++i;
        continue;
      }
      const int cls = class_at(s, n, i, len);
      if (row[cls] && (i - pos >= kMinPieceBytes || cls == kMetaspace)) return i;
      row = &cut_[cls * kClasses];
      i += len;
    }
    return n;
  }
  // piece_end as BpeModel's StatefulPretokenEnd, with the BpeCuts as state.
  static size_t piece_end_of(const void* cuts, std::string_view text, size_t pos) {
    return static_cast<const BpeCuts*>(cuts)->piece_end(text, pos);
  }
  // piece_end's pieces for 64 bytes at once, as gpt2_pretoken_window finds
  // GPT-2's (same contract; requires pos to start a piece): the characters'
  // classes by SIMD, then one cut-table lookup per byte with no branch, where
  // piece_end takes a dependent step per character and a call per piece
  // (~72 instructions a piece, 23% of encoding with bpe_bytefallback.model).
  // 0 when no piece starting at pos ends within the 64 bytes.
  size_t window(std::string_view text, size_t pos, PretokenWindow& w) const;
  // window as BpeModel's StatefulPretokenWindow, with the BpeCuts as state.
  static size_t window_of(const void* cuts, std::string_view text, size_t pos, PretokenWindow& w) {
    return static_cast<const BpeCuts*>(cuts)->window(text, pos, w);
  }

 private:
  static constexpr int kMetaspace = 128, kOther = 129, kClasses = 130;
  static int class_of(std::string_view ch);
  // Class of the character at s[i] and its length in len.
  static int class_at(const uint8_t* s, size_t n, size_t i, size_t& len) {
    const uint8_t b = s[i];
    if (b < 0x80) {
      len = 1;
      return b;
    }
    len = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (len > n - i) len = n - i;  // a truncated sequence (invalid input) ends the text
    return b == 0xE2 && len == 3 && s[i + 1] == 0x96 && s[i + 2] == 0x81 ? kMetaspace : kOther;
  }
  std::array<uint8_t, kClasses * kClasses> cut_{};
  bool any_ = false;
};

}  // namespace sp
