// Byte-pair encoding: one engine for every BPE vocabulary we load (GPT-2's
// vocab.json + merges.txt, Hugging Face tokenizer.json BPE models of both
// kinds, tiktoken rank files).
//
// Guarantees: encode() gives exactly the ids of the reference merge rule -
// split a pre-token into its initial symbols, then repeatedly merge the
// adjacent pair of lowest priority, the leftmost on ties, while any pair has
// one (GPT-2's encoder.py, HF tokenizers' BPE, tiktoken's byte_pair_encode) -
// on every valid input, in O(n log n) per pre-token whatever it holds, with
// the same ids whatever the cache size. A model's vocabulary is immutable
// after loading and the model may be shared by any number of threads; each
// thread owns its BpeCache. Once several caches have encoded with a model, its
// threads also share a memo of merged pieces, lock-free and bounded (16 MB at
// most, touched as it fills), which changes how fast encode() is, never what
// it gives.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sp/pretokenizer.h"

namespace sp {

struct BpeEngine;
struct BpeScratch;

// A BPE vocabulary as the loaders parse it, before indexing.
struct BpeVocabulary {
  // Raw bytes of each token, by id. Ids listed in `specials` are never made
  // from text by BPE (added tokens, <|endoftext|>, gaps); their bytes are what
  // decode() gives for them.
  std::vector<std::string> tokens;
  std::vector<uint32_t> specials;
  // The merges: tokens[left] + tokens[right] becomes the token with those
  // bytes, which must exist. Lower priority merges first; equal priorities
  // are allowed only when the pairs make the same token (tiktoken: priority =
  // the made token's rank). A pair given twice keeps its last priority, as HF
  // tokenizers does.
  struct Merge {
    uint32_t left, right, priority;
  };
  std::vector<Merge> merges;
  // Instead of a merge list, tiktoken's rule: every split of a token into two
  // tokens A + B is a merge {A, B, the token's id} (ids in rank order).
  bool merges_from_ranks = false;
  // kBytes: a pre-token's initial symbols are its bytes, every byte must be a
  // token (byte-level BPE). kCharacters: its UTF-8 characters; a character
  // that is not a token becomes the tokens "<0xXX>" of its bytes when
  // byte_fallback is set, else the unknown token (consecutive ones fused into
  // one when fuse_unk), else nothing (SentencePiece-style BPE, as HF).
  enum class Units { kBytes, kCharacters } units = Units::kBytes;
  // A pre-token that is itself a token is that token, without merging (HF's
  // ignore_merges, tiktoken's rule). Without it the same shortcut is still
  // taken for every token whose bytes merge back to itself (checked at load).
  bool ignore_merges = false;
  bool byte_fallback = false;
  std::optional<uint32_t> unk_id;
  bool fuse_unk = false;
};

// Per-thread memo of pre-token -> ids and scratch space for merging, so
// frequent pieces cost one hash probe and no piece costs an allocation once
// buffers have grown. Not thread-safe: one per worker thread. Memory is
// bounded (at the default size 16 MB of tables, 8 of them a cache of recent
// pieces, and at most 16 MB more for long pieces); max_entries = 0 turns it
// off.
class BpeCache {
 public:
  static constexpr size_t kDefaultEntries = size_t{3} << 16;
  explicit BpeCache(size_t max_entries = kDefaultEntries);
  ~BpeCache();
  BpeCache(BpeCache&&) noexcept;
  BpeCache& operator=(BpeCache&&) noexcept;
  size_t size() const;  // pieces memoized
  void clear();

 private:
  friend struct BpeEngine;
  friend class BpeModel;
  std::unique_ptr<BpeScratch> scratch_;
};

class BpeModel {
 public:
  // Indexes a parsed vocabulary and checks it; throws InputError(source, 0,
  // reason) on ids out of range, a token twice, a merge of an unknown token or
  // into a token that does not exist, a byte with no token (kBytes), over
  // 2^21 - 2 tokens or 2^22 - 2 merges.
  static BpeModel build(BpeVocabulary vocabulary, const std::string& source);
  // GPT-2's vocab.json (GPT-2's bytes_to_unicode text -> id) and merges.txt
  // ("#version" line, then "A B" per line; rank = line order). Throws
  // InputError naming the file, the line and the reason. "<|endoftext|>" is
  // a special token (never made from text).
  static BpeModel load_gpt2(const std::string& vocab_json_path, const std::string& merges_txt_path);

  uint32_t vocab_size() const;
  size_t merge_count() const;
  // Id of a token given by its bytes (specials included), or -1.
  int64_t token_id(std::string_view bytes) const;
  // Bytes of one token; requires id < vocab_size().
  std::string_view token_bytes(uint32_t id) const;
  // Concatenated bytes of the tokens; throws Error on an id >= vocab_size().
  std::string decode(std::span<const uint32_t> ids) const;

  // Ids of `text` (valid UTF-8) pre-tokenized by GPT-2's rule, in the cache's
  // buffer: valid until the cache's next use. "<|endoftext|>" in text is text.
  std::span<const uint32_t> encode_span(std::string_view text, BpeCache& cache) const;
  // The same with another pre-tokenizer: `pretoken_end(text, pos)` returns
  // the end of the pre-token that starts at pos (> pos).
  using PretokenEnd = size_t (*)(std::string_view text, size_t pos);
  std::span<const uint32_t> encode_span(std::string_view text, PretokenEnd pretoken_end, BpeCache& cache) const;
  // The same with the pre-tokenizer of pattern p: the ids of
  // encode_span(text, pretoken_end_function(p), cache), pre-tokenized 64
  // bytes at a time where p has a window (for_each_pretoken).
  std::span<const uint32_t> encode_span(std::string_view text, PretokenPattern p, BpeCache& cache) const;
  // The same with a pre-tokenizer that reads a table of its own:
  // `pretoken_end(state, text, pos)`.
  using StatefulPretokenEnd = size_t (*)(const void* state, std::string_view text, size_t pos);
  std::span<const uint32_t> encode_span(std::string_view text, StatefulPretokenEnd pretoken_end, const void* state,
                                        BpeCache& cache) const;
  // The same, 64 bytes at a time where `window(state, text, pos, w)` covers
  // pieces (gpt2_pretoken_window's contract; they must be pretoken_end's
  // pieces), pretoken_end elsewhere.
  using StatefulPretokenWindow = size_t (*)(const void* state, std::string_view text, size_t pos, PretokenWindow& w);
  std::span<const uint32_t> encode_span(std::string_view text, StatefulPretokenEnd pretoken_end,
                                        StatefulPretokenWindow window, const void* state, BpeCache& cache) const;
  // Ids of pieces already split (each one pre-token, not empty), in order.
  std::span<const uint32_t> encode_pieces(std::span<const std::string_view> pieces, BpeCache& cache) const;
  // Appending forms, for tests and tools.
  void encode(std::string_view text, std::vector<uint32_t>& out, BpeCache& cache) const;
  void encode_piece(std::string_view piece, std::vector<uint32_t>& out, BpeCache& cache) const;

  // The engine's internals (bpe_engine.h), for tests and benchmarks.
  const BpeEngine& engine() const { return *engine_; }

 private:
  explicit BpeModel(std::shared_ptr<const BpeEngine> engine) : engine_(std::move(engine)) {}
  std::shared_ptr<const BpeEngine> engine_;
};

// GPT-2's bytes_to_unicode: the code point that stands for byte b in
// vocab.json / merges.txt / byte-level tokenizer.json. Printable Latin-1
// bytes stand for themselves; the other 68 take U+0100.. in byte order.
char32_t gpt2_byte_to_codepoint(uint8_t b);
// The inverse over a whole string: false when `text` is not valid UTF-8 of
// those code points.
bool gpt2_unicode_to_bytes(std::string_view text, std::string& bytes);

}  // namespace sp
