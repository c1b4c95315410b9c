// Replacing every occurrence of one byte by a string, eight bytes at a time:
// SentencePiece's space -> ▁ escaping (sentencepiece_bpe.cc) and HF's Replace
// normalizer with a one-byte pattern (hf_normalizer.cc), both on the hot path
// of every SentencePiece-style document. Private to the library.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sp {

// Writes `in` to `out` with each `byte` replaced by `with` (when
// squeeze_runs, a run of `byte` by one `with`) and returns the end of what
// it wrote. `out` must have room for in.size() * max(1, with.size()) + 8
// bytes: a word is copied as one 8-byte store before the match inside it, if
// any, is found.
inline char* replace_byte(std::string_view in, char byte, std::string_view with, bool squeeze_runs, char* out) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  const char* s = in.data();
  const size_t n = in.size();
  const uint64_t pattern = kOnes * static_cast<uint8_t>(byte);
  size_t i = 0;
  // `with` as one 8-byte store when it fits (the slack above makes room): a
  // copy of a length known only at run time was a call to memcpy per match,
  // ~3% of Llama-2's encoding instructions through tokenizer.json.
  uint64_t with8 = 0;
  const bool short_with = with.size() <= 8;
  if (short_with && !with.empty()) std::memcpy(&with8, with.data(), with.size());
  auto replace = [&] {
    if (short_with) std::memcpy(out, &with8, 8);
    else std::memcpy(out, with.data(), with.size());
    out += with.size();
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
