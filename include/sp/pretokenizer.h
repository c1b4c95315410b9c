// GPT-2's pre-tokenizer: splits text into the pieces that BPE then encodes
// separately, exactly as the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does under leftmost-first alternation, but as a hand-written scanner: no
// regex engine in the hot path, linear time on every input.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sp {

// End offset (exclusive) of the pre-token that starts at byte `pos` of `text`.
// Requires pos < text.size() and `text` to be valid UTF-8 (callers validate
// first; JSON parsing already does). Always returns a value > pos.
size_t gpt2_pretoken_end(std::string_view text, size_t pos);

// The fast path for encoders: up to 64 bytes of pre-tokens at once.
// gpt2_pretoken_window fills it with text[pos, pos + 64) and finds the
// pre-tokens that start at pos and end within those bytes with a handful of
// SIMD class masks, no branch per byte or per piece, when the bytes are ASCII
// (most of prose and code). `bytes` is padded, so a piece's first 16 bytes
// can be loaded from it without reading past the text.
struct PretokenWindow {
  static constexpr size_t kBytes = 64;
  alignas(64) char bytes[kBytes + 16];  // text[pos, pos + 64), then spaces
  uint64_t starts;  // bit i: a pre-token starts at pos + i (bit 0 always)
  size_t covered;   // those pre-tokens end at pos + covered, the last one's end
};
// Requires pos < text.size() and valid UTF-8. Returns w.covered: 0 when no
// whole pre-token starting at pos was found there (a non-ASCII character or a
// piece running past the window); then use gpt2_pretoken_end.
size_t gpt2_pretoken_window(std::string_view text, size_t pos, PretokenWindow& w);

// Calls on_piece(offset, length, padded) for each pre-token of `text`, in
// order: 64 bytes at a time through gpt2_pretoken_window where it applies,
// gpt2_pretoken_end elsewhere. `padded` points at the piece's bytes with at
// least 16 bytes readable from there (the window's padded copy, or the text
// itself when 16 bytes remain), or is nullptr.
template <class OnPiece>
void for_each_pretoken(std::string_view text, OnPiece&& on_piece) {
  PretokenWindow w;
  for (size_t pos = 0; pos < text.size();) {
    if (const size_t covered = gpt2_pretoken_window(text, pos, w)) {
      for (uint64_t starts = w.starts; starts != 0;) {
        const auto a = static_cast<size_t>(std::countr_zero(starts));
        starts &= starts - 1;
        const size_t b = starts ? static_cast<size_t>(std::countr_zero(starts)) : covered;
        on_piece(pos + a, b - a, static_cast<const char*>(w.bytes + a));
      }
      pos += covered;
    } else {
      const size_t next = gpt2_pretoken_end(text, pos);
      on_piece(pos, next - pos, text.size() - pos >= 16 ? text.data() + pos : nullptr);
      pos = next;
    }
  }
}

// All pre-tokens of `text`, in order (convenience for tests and tools).
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// Batch form for hot loops: replaces the contents of `pieces` with the
// pre-tokens of `text`, reusing the vector's capacity across calls.
void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace sp
