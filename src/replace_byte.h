// Replacing every occurrence of one byte by a string: SentencePiece's space ->
// ▁ escaping (sentencepiece_bpe.cc) and HF's Replace normalizer with a
// one-byte pattern (hf_normalizer.cc), both on the hot path of every
// SentencePiece-style document. Private to the library.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "pretokenizer_simd.h"

namespace sp {

namespace replace_byte_detail {

// s[from, at) to out as one 16-byte move, more for the rare longer
// stretch: reads and writes at most 16 bytes past `at`.
inline char* copy_to(char* out, const char* s, size_t from, size_t at) {
  std::memcpy(out, s + from, 16);
  if (at - from > 16) [[unlikely]] {
    for (size_t c = from + 16; c < at; c += 16) std::memcpy(out + (c - from), s + c, 16);
  }
  return out + (at - from);
}

// replace_byte's 64-byte blocks, for a `with` of at most 8 bytes (w holds
// them): from s[i] while 80 bytes are left. Squeezing is a template
// argument so that the loop without it tests nothing per match.
template <bool kSqueeze>
inline char* blocks(const char* s, size_t n, char byte, uint64_t w, size_t w_size, char* out, size_t& i,
                    size_t& run_end) {
  size_t from = i;  // s[from, i) is still to be copied
  for (; n >= 80 && i <= n - 80; i += 64) {
    for (uint64_t m = simd::byte_mask64(s + i, byte); m != 0; m &= m - 1) {
      const size_t at = i + static_cast<unsigned>(std::countr_zero(m));
      out = copy_to(out, s, from, at);
      from = at + 1;
      if constexpr (kSqueeze) {
        const bool squeezed = at == run_end;
        run_end = at + 1;
        if (squeezed) continue;
      }
      std::memcpy(out, &w, 8);
      out += w_size;
    }
    out = copy_to(out, s, from, i + 64);
    from = i + 64;
  }
  return out;
}

}  // namespace replace_byte_detail

// Writes `in` to `out` with each `byte` replaced by `with` (when
// squeeze_runs, a run of `byte` by one `with`) and returns the end of what
// it wrote. `out` must have room for in.size() * max(1, with.size()) + 16
// bytes: text is copied in 16-byte moves, and `with` in one 8-byte store
// when it fits, past the end of what they mean to write.
//
// 64 bytes at a time, the matches found by one SIMD compare (byte_mask64)
// and the text between them copied in 16-byte moves: words are ~6 bytes, so
// nearly every 8-byte word of prose holds a space, and the eight-byte loop
// below (a word store, then the match found inside it) paid ~25
// instructions a match. The last 80 bytes, where a 16-byte read could pass
// the end, and `with` of over 8 bytes go 8 bytes at a time.
inline char* replace_byte(std::string_view in, char byte, std::string_view with, bool squeeze_runs, char* out) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  const char* s = in.data();
  const size_t n = in.size();
  uint64_t with8 = 0;
  const bool short_with = with.size() <= 8;
  if (short_with && !with.empty()) std::memcpy(&with8, with.data(), with.size());
  auto put_with = [&] {
    // A copy of a length known only at run time was a call to memcpy per
    // match, ~3% of Llama-2's encoding instructions through tokenizer.json.
    if (short_with) std::memcpy(out, &with8, 8);
    else std::memcpy(out, with.data(), with.size());
    out += with.size();
  };
  size_t i = 0;
  size_t run_end = ~size_t{0};  // just past the last `byte` met, when squeezing
  if (short_with) {
    out = squeeze_runs ? replace_byte_detail::blocks<true>(s, n, byte, with8, with.size(), out, i, run_end)
                       : replace_byte_detail::blocks<false>(s, n, byte, with8, with.size(), out, i, run_end);
  }
  if (squeeze_runs && run_end == i)
    while (i < n && s[i] == byte) ++i;  // a run that started in the blocks
  const uint64_t pattern = kOnes * static_cast<uint8_t>(byte);
  auto replace = [&] {
    put_with();
    if (squeeze_runs)
      while (i < n && s[i] == byte) ++i;
  };
  while (i + 8 <= n) {
    uint64_t word;
    std::memcpy(&word, s + i, 8);
    std::memcpy(out, &word, 8);
    const uint64_t x = word ^ pattern;
    const uint64_t hits = (x - kOnes) & ~x & kHighs;  // the lowest set bit marks the first match exactly
    if (hits == 0) {
      out += 8, i += 8;
      continue;
    }
    const size_t k = static_cast<size_t>(std::countr_zero(hits)) / 8;
    out += k, i += k + 1;
    replace();
  }
  while (i < n) {
    if (s[i] == byte) {
      ++i;
      replace();
    } else {
      *out++ = s[i++];
    }
  }
  return out;
}

}  // namespace sp
