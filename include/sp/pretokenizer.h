// Pre-tokenizers: split text into the pieces that BPE then encodes
// separately, exactly as the split regexes of GPT-2, cl100k_base, Llama-3,
// Qwen2, o200k_base and Megatron's TikTokenizer do under leftmost-first
// alternation (as Hugging Face tokenizers' Oniguruma and tiktoken's
// fancy-regex run them), but as hand-written scanners: no regex engine in the
// hot path, linear time on every input.
//
// Guarantees, for valid UTF-8 text:
//   - every scanner's pieces are non-empty, in order, and concatenate to the
//     text: pretoken_end(p, text, pos) > pos for every pos < text.size();
//   - each piece is the regex's leftmost-first match at its start, with the
//     regex's classes as Unicode 15.0 defines them (unicode_version()):
//     \p{L} \p{N} \p{M} \p{Lu} ... are general categories, \s is White_Space
//     (the 25 code points, U+0085 and U+00A0 included, U+180E and
//     U+001C..U+001F not), (?i) folds 's to 'S and 'ſ (U+017F), `$` is the
//     end of the text;
//   - one call costs time linear in the piece it returns plus a bounded
//     look-ahead, so a whole text scans in linear time whatever its shape;
//   - the 64-byte window fast paths (for_each_pretoken) cut exactly the
//     scanners' pieces.
// Other split regexes are not recognized here (pretoken_pattern_for_regex
// says so); src/regex_split.h runs them through PCRE2, the slower path.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace sp {

// The split regexes with a hand-written scanner, as their files spell them
// (pretoken_pattern_for_regex lists every spelling recognized):
enum class PretokenPattern {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  // (GPT-2, r50k_base, p50k_base; tiktoken's possessive spelling is the same split)
  kGpt2,
  // tiktoken's cl100k_base (Python tiktoken since 0.8):
  //   '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
  //   |\s++$|\s*[\r\n]|\s+(?!\S)|\s
  kCl100k,
  // Llama-3 (and cl100k_base as tiktoken spelled it before 0.8, and npm
  // tiktoken 1.0.22 still does):
  //   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
  //   |\s*[\r\n]+|\s+(?!\S)|\s+
  // Splits as kCl100k except for white space at the end of the text with a
  // line break before its last character: "\n  " is one piece in cl100k
  // (\s++$) and two here ("\n", "  "). With cl100k_base's ranks both give the
  // same token ids: none of its tokens joins a line break to white space
  // after it unless the token ends in a line break.
  kLlama3,
  // Qwen2, Qwen2.5, Qwen3: kLlama3 with single digits (\p{N} for \p{N}{1,3}).
  kQwen2,
  // tiktoken's o200k_base: letters split by case,
  //   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+
  //     (?i:'s|'t|'re|'ve|'m|'ll|'d)?
  //   |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*
  //     (?i:'s|'t|'re|'ve|'m|'ll|'d)?
  //   |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kO200k,
  // Megatron-LM's TikTokenizer pattern "v1": kQwen2 without the contractions,
  //   [^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
  kMegatronV1,
  // Megatron-LM's "v2": kO200k without the contractions and with single digits.
  kMegatronV2,
};

// End offset (exclusive) of the pre-token of pattern p that starts at byte
// `pos` of `text`. Requires pos < text.size(), pos at a character boundary
// (0 or a previous piece's end) and valid UTF-8. Always returns a value > pos.
// For kGpt2 it is gpt2_pretoken_end.
size_t pretoken_end(PretokenPattern p, std::string_view text, size_t pos);
// The same as a plain function, the scanner itself with no dispatch per
// piece: what encoders take (BpeModel::encode_span).
using PretokenEndFunction = size_t (*)(std::string_view text, size_t pos);
PretokenEndFunction pretoken_end_function(PretokenPattern p);

// All pre-tokens of `text` under p, in order (for tests and tools; encoders
// use for_each_pretoken). Except for kGpt2 (gpt2_pretokenize), one
// pretoken_end call per piece: the reference the windows are tested against.
std::vector<std::string_view> pretokenize(PretokenPattern p, std::string_view text);

// The pattern whose scanner splits exactly as `regex` does, when `regex` is
// one of the spellings found in tiktoken and tokenizer.json files (listed in
// src/pretokenizer_patterns.cc, character for character); nullopt for any
// other string, even an equivalent one.
std::optional<PretokenPattern> pretoken_pattern_for_regex(std::string_view regex);

// The pattern of a named encoding: "gpt2", "r50k_base", "p50k_base",
// "p50k_edit" -> kGpt2; "cl100k_base" -> kCl100k; "o200k_base",
// "o200k_harmony" -> kO200k; Megatron-LM's --tiktoken-pattern values
// "v1" -> kMegatronV1, "v2" -> kMegatronV2. nullopt for any other name.
std::optional<PretokenPattern> pretoken_pattern_by_name(std::string_view name);

// The regex of p, in the spelling its reference files use (tiktoken's for
// kGpt2, kCl100k and kO200k), so that pretoken_pattern_for_regex of it is p.
std::string_view pretoken_regex(PretokenPattern p);

// ---- GPT-2 (kGpt2): the scanner and its SIMD window fast path.

// End offset (exclusive) of the pre-token that starts at byte `pos` of `text`.
// Requires pos < text.size() and `text` to be valid UTF-8 (callers validate
// first; JSON parsing already does). Always returns a value > pos.
size_t gpt2_pretoken_end(std::string_view text, size_t pos);

// The fast path for encoders: up to 64 bytes of pre-tokens at once.
// gpt2_pretoken_window (and the other patterns' windows, below) fills it with
// text[pos, pos + 64) and finds the pre-tokens that start at pos and end
// within those bytes with a handful of SIMD class masks, no branch per byte or
// per piece, when the bytes are ASCII (most of prose and code). `bytes` is
// padded, so a piece's first 16 bytes can be loaded from it without reading
// past the text.
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

namespace pretoken_detail {
// The loop of both for_each_pretoken forms: window(text, pos, w) where it
// covers pieces, end(text, pos) for one piece elsewhere.
template <class Window, class End, class OnPiece>
void for_each_windowed(std::string_view text, Window&& window, End&& end, OnPiece&& on_piece) {
  PretokenWindow w;
  for (size_t pos = 0; pos < text.size();) {
    if (const size_t covered = window(text, pos, w)) {
      for (uint64_t starts = w.starts; starts != 0;) {
        const auto a = static_cast<size_t>(std::countr_zero(starts));
        starts &= starts - 1;
        const size_t b = starts ? static_cast<size_t>(std::countr_zero(starts)) : covered;
        on_piece(pos + a, b - a, static_cast<const char*>(w.bytes + a));
      }
      pos += covered;
    } else {
      const size_t next = end(text, pos);
      on_piece(pos, next - pos, text.size() - pos >= 16 ? text.data() + pos : nullptr);
      pos = next;
    }
  }
}
}  // namespace pretoken_detail

// Calls on_piece(offset, length, padded) for each pre-token of `text`, in
// order: 64 bytes at a time through gpt2_pretoken_window where it applies,
// gpt2_pretoken_end elsewhere. `padded` points at the piece's bytes with at
// least 16 bytes readable from there (the window's padded copy, or the text
// itself when 16 bytes remain), or is nullptr.
template <class OnPiece>
void for_each_pretoken(std::string_view text, OnPiece&& on_piece) {
  pretoken_detail::for_each_windowed(text, gpt2_pretoken_window, gpt2_pretoken_end, on_piece);
}

// All pre-tokens of `text`, in order (convenience for tests and tools).
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// Batch form for hot loops: replaces the contents of `pieces` with the
// pre-tokens of `text`, reusing the vector's capacity across calls.
void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& pieces);

// ---- Every pattern: the window fast path where the pattern has one.

// A window as gpt2_pretoken_window is: fills w, returns w.covered, 0 when it
// found no whole pre-token starting at pos; same requirements.
using PretokenWindowFunction = size_t (*)(std::string_view text, size_t pos, PretokenWindow& w);

// The window of p: gpt2_pretoken_window for kGpt2; for every other pattern
// (the cl100k shape: kCl100k, kLlama3, kQwen2, kMegatronV1; the o200k shape:
// kO200k, kMegatronV2) a window with the same contract whose pieces are
// exactly pretoken_end(p)'s, `$` (kCl100k's `\s++$`) applied only at the
// text's real end; nullptr for a value that names no pattern.
PretokenWindowFunction pretoken_window_function(PretokenPattern p);

// Calls on_piece(offset, length, padded) for each pre-token of `text` under
// p, as for_each_pretoken(text, on_piece) does for GPT-2: through p's window
// where it applies, pretoken_end_function(p) elsewhere. The pieces are
// pretokenize(p, text)'s.
template <class OnPiece>
void for_each_pretoken(PretokenPattern p, std::string_view text, OnPiece&& on_piece) {
  const PretokenEndFunction end = pretoken_end_function(p);
  if (const PretokenWindowFunction window = pretoken_window_function(p)) {
    pretoken_detail::for_each_windowed(text, window, end, on_piece);
    return;
  }
  for (size_t pos = 0; pos < text.size();) {
    const size_t next = end(text, pos);
    on_piece(pos, next - pos, text.size() - pos >= 16 ? text.data() + pos : nullptr);
    pos = next;
  }
}

}  // namespace sp
