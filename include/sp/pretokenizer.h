// GPT-2's pre-tokenizer: splits text into the pieces that BPE then encodes
// separately, exactly as the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does under leftmost-first alternation, but as a hand-written scanner: no
// regex engine in the hot path, linear time on every input.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace sp {

// End offset (exclusive) of the pre-token that starts at byte `pos` of `text`.
// Requires pos < text.size() and `text` to be valid UTF-8 (callers validate
// first; JSON parsing already does). Always returns a value > pos.
size_t gpt2_pretoken_end(std::string_view text, size_t pos);

// All pre-tokens of `text`, in order (convenience for tests and tools).
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// Batch form for hot loops: replaces the contents of `pieces` with the
// pre-tokens of `text`, reusing the vector's capacity across calls.
void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace sp
