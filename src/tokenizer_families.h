// The loaders behind load_tokenizer (tokenizer.h), one per family; private to
// the library. Each takes the already-validated options of its type and
// resolves options.eod_token against its own vocabulary (UsageError when it is
// not a token), adding ("eod_id", id) to the identity; load_tokenizer applies
// options.eod_id.
#pragma once

#include "sp/tokenizer.h"

namespace sp {

// HuggingFaceTokenizer: tokenizer.json (+ tokenizer_config.json) BPE models (hf_tokenizer.cc).
TextTokenizer load_hf_tokenizer(const TokenizerOptions& options);
// The same model's decode with HF's own U+FFFD where bytes are not UTF-8
// (hf_decoder.h, as_hf_text): HF's decode string exactly, for tests.
std::function<std::string(std::span<const uint32_t>)> load_hf_text_decoder(const TokenizerOptions& options);
// TikTokenizer: .tiktoken rank files and Megatron's tiktoken JSON (tiktoken_tokenizer.cc).
TextTokenizer load_tiktoken_tokenizer(const TokenizerOptions& options);
// SentencePieceTokenizer, GPTSentencePieceTokenizer, Llama2Tokenizer through
// libsentencepiece (sentencepiece_tokenizer.cc).
TextTokenizer load_sentencepiece_tokenizer(const TokenizerOptions& options);

}  // namespace sp
