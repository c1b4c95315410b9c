// Character classes as Hugging Face tokenizers' Rust code tests them, for the
// tokenizer.json components that split text (hf_pretokenizer, hf_added_tokens).
// Categories come from utf8proc (Unicode 15); White_Space and numbers from
// sp/unicode.h's tables, which are the same properties.
#pragma once

#include <cstddef>
#include <string_view>

namespace sp::hf {

// Rust's char::is_whitespace and regex \s: the White_Space property.
bool is_whitespace(char32_t c);
// Rust's char::is_numeric: general category Nd, Nl or No.
bool is_numeric(char32_t c);
// HF's Punctuation pre-tokenizer: ASCII punctuation or general category P*.
bool is_punctuation(char32_t c);
// Rust regex's Unicode \w: Alphabetic, marks, Nd, Pc and the join controls.
bool is_word_char(char32_t c);

// The code point at text[pos] (valid UTF-8) and its length.
char32_t char_at(std::string_view text, size_t pos, size_t* len);
// The code point that ends at text[end] (exclusive) and its start.
char32_t char_before(std::string_view text, size_t end, size_t* start);

}  // namespace sp::hf
