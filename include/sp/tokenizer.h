// Tokenizers as the tokenization pipeline sees them, and the one entry point
// that loads any of them from Megatron-LM's flags.
//
// Guarantees: a loaded TextTokenizer gives, for every valid UTF-8 text, exactly
// the ids Megatron-LM's tools/preprocess_data.py gets from the same
// --tokenizer-type and --tokenizer-model (special tokens such as BOS included
// where Megatron's tokenizer adds them), with the same end-of-document id and
// the vocabulary size that picks Megatron's token dtype. Loading checks
// everything it reads and stops with InputError (file, reason) on a missing
// or malformed file and on a model type or component it does not support,
// naming it; a bad combination of flags is a UsageError. Encoders are made
// per thread and need no locks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sp {

struct TextTokenizer {
  std::string name;  // the --tokenizer-type it was loaded as, e.g. "GPT2BPETokenizer"
  // What makes this tokenizer's ids what they are, for completion records:
  // its type, the SHA-256 of each file it was loaded from, and each option
  // that changes ids.
  std::vector<std::pair<std::string, std::string>> identity;
  uint64_t vocab_size = 0;  // as Megatron computes it for this type (picks uint16 or int32 tokens)
  uint32_t eod_id = 0;      // what --append-eod appends
  // Lines worth printing once at load (e.g. "pre-tokenizer: general regex
  // engine, the slower path"); may be empty.
  std::vector<std::string> notes;
  // The ids of `text`, in a buffer the encoder owns: valid until its next call
  // (no copy into a caller's vector on the way to the output bytes).
  using Encode = std::function<std::span<const uint32_t>(std::string_view text)>;
  std::function<Encode()> make_encoder;
  // The bytes `ids` stand for, as the family's reference decoder gives them
  // (what Megatron-LM's detokenize returns, before any UTF-8 replacement):
  // for inspecting a dataset (sp_inspect --show). Special and added tokens
  // decode to their text (HuggingFaceTokenizer: decode(skip_special_tokens=
  // False), whatever --tokenizer-hf-no-include-special-tokens says). Where the
  // reference turns bytes that are not UTF-8 into U+FFFD (tiktoken's
  // errors="replace", HF's ByteLevel and ByteFallback, SentencePiece's byte
  // pieces) the bytes are kept, except for a SentencePiece model with a
  // denormalizer, which the library decodes (a load note says so). Safe to
  // call from any thread. An id the model has no entry for is an Error naming it.
  std::function<std::string(std::span<const uint32_t> ids)> decode;
};

// Megatron-LM's tokenizer flags (tools/preprocess_data.py, main branch).
struct TokenizerOptions {
  // GPT2BPETokenizer, HuggingFaceTokenizer, TikTokenizer,
  // SentencePieceTokenizer, GPTSentencePieceTokenizer, Llama2Tokenizer.
  std::string type = "GPT2BPETokenizer";
  std::string model;                   // --tokenizer-model (file or, for HF, a directory)
  std::string vocab_file, merge_file;  // --vocab-file / --merge-file (GPT2BPETokenizer)
  std::string tiktoken_pattern;        // --tiktoken-pattern: v1, v2, an encoding name or a regex
  std::optional<uint32_t> tiktoken_num_special_tokens;  // --tiktoken-num-special-tokens
  std::optional<uint64_t> vocab_size;  // --vocab-size: TikTokenizer's vocabulary size (Megatron: 131072)
  bool hf_include_special_tokens = true;                // --tokenizer-hf-no-include-special-tokens clears it
  std::optional<uint32_t> eod_id;                       // --eod-id overrides the type's EOD
  std::optional<std::string> eod_token;                 // --eod-token: the EOD by its token text
};

// Loads the tokenizer the options name; throws UsageError on a bad
// combination of flags or an unknown type, InputError on a bad file.
TextTokenizer load_tokenizer(const TokenizerOptions& options);

// GPT-2 byte-level BPE from vocab.json + merges.txt (GPT2BPETokenizer).
TextTokenizer load_gpt2_tokenizer(const std::string& vocab_json, const std::string& merges_txt);

}  // namespace sp
