// tokenizer.json's added tokens as HF tokenizers' AddedVocabulary finds them
// in text: leftmost-longest matches of the tokens' contents, a match of a
// single_word token dropped (its text still consumed) unless no word
// character touches it, lstrip / rstrip widening a match over the whitespace
// beside it. Two of these exist per tokenizer: the tokens with
// normalized = false match raw text, the others (their contents normalized)
// match each normalized stretch between the first kind.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sp::hf {

struct AddedToken {
  std::string content;  // what is matched (normalized already for the normalized kind)
  uint32_t id = 0;
  bool single_word = false, lstrip = false, rstrip = false;
};

// A stretch of text: an added token's id, or text between them (id < 0).
struct Segment {
  size_t begin, end;
  int64_t id;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  bool empty() const { return tokens_.empty(); }
  // Replaces `out` with the segments of `text` in order; text stretches are
  // never empty. A match widened by lstrip may start where the previous
  // token's rstrip already ended, as in HF.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  // The longest token that starts at text[pos], or -1 (an index in tokens_).
  int64_t longest_at(std::string_view text, size_t pos, size_t* end) const;
  std::vector<AddedToken> tokens_;
  // A byte trie: node 0 is the root; edges keyed by node << 8 | byte.
  absl::flat_hash_map<uint64_t, uint32_t> edges_;
  std::vector<int64_t> terminal_;  // token index ending at each node, or -1
  bool first_byte_[256] = {};
  // The next position at or after pos whose byte starts a token, or text.size().
  size_t next_candidate(std::string_view text, size_t pos) const;
  // When every token starts with the same byte, that byte (found by memchr), else -1.
  int only_first_byte_ = -1;
};

}  // namespace sp::hf
