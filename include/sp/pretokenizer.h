// GPT-2's pre-tokenizer: splits text into the pieces that BPE then encodes
// separately, exactly as the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does under leftmost-first alternation, but as a hand-written scanner: no
// regex engine in the hot path, linear time on every input.
#pragma once

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

// All pre-tokens of `text`, in order (convenience for tests and tools).
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// Batch form for hot loops: replaces the contents of `pieces` with the
// pre-tokens of `text`, reusing the vector's capacity across calls.
void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace sp
