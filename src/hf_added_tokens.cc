#include "hf_added_tokens.h"

#include <algorithm>
#include <cstring>

#include "hf_chars.h"

namespace sp::hf {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  terminal_.push_back(-1);
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& s = tokens_[t].content;
    if (s.empty()) continue;
    first_byte_[static_cast<unsigned char>(s[0])] = true;
    uint32_t node = 0;
    for (unsigned char b : s) {
      const uint64_t key = (uint64_t{node} << 8) | b;
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        it = edges_.emplace(key, static_cast<uint32_t>(terminal_.size())).first;
        terminal_.push_back(-1);
      }
      node = it->second;
    }
    terminal_[node] = static_cast<int64_t>(t);  // a later token with the same content wins, as in HF's map
  }
  int firsts = 0;
  for (int b = 0; b < 256; ++b)
    if (first_byte_[b]) {
      ++firsts;
      only_first_byte_ = b;
    }
  if (firsts != 1) only_first_byte_ = -1;
}

size_t AddedTokenMatcher::next_candidate(std::string_view text, size_t pos) const {
  if (pos >= text.size()) return text.size();
  if (only_first_byte_ >= 0) {  // typical: every special token starts with '<'
    const void* hit = std::memchr(text.data() + pos, only_first_byte_, text.size() - pos);
    return hit ? static_cast<size_t>(static_cast<const char*>(hit) - text.data()) : text.size();
  }
  while (pos < text.size() && !first_byte_[static_cast<unsigned char>(text[pos])]) ++pos;
  return pos;
}

int64_t AddedTokenMatcher::longest_at(std::string_view text, size_t pos, size_t* end) const {
  int64_t found = -1;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto it = edges_.find((uint64_t{node} << 8) | static_cast<unsigned char>(text[i]));
    if (it == edges_.end()) break;
    node = it->second;
    if (terminal_[node] >= 0) {
      found = terminal_[node];
      *end = i + 1;
    }
  }
  return found;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  out.clear();
  size_t start_offset = 0;  // end of the last match taken
  if (!tokens_.empty()) {
    for (size_t pos = next_candidate(text, 0); pos < text.size(); pos = next_candidate(text, pos)) {
      size_t stop = 0;
      const int64_t t = longest_at(text, pos, &stop);
      if (t < 0) {
        ++pos;
        continue;
      }
      const AddedToken& token = tokens_[static_cast<size_t>(t)];
      size_t start = pos;
      pos = stop;  // a dropped single_word match still consumes its text (the automaton moves on)
      if (token.single_word) {
        size_t len, before;
        const bool start_space = start == 0 || !is_word_char(char_before(text, start, &before));
        const bool stop_space = stop == text.size() || !is_word_char(char_at(text, stop, &len));
        if (!start_space || !stop_space) continue;
      }
      if (token.lstrip) {
        size_t s = start;
        while (s > 0) {
          size_t prev;
          if (!is_whitespace(char_before(text, s, &prev))) break;
          s = prev;
        }
        start = std::max(s, start_offset);
      }
      if (token.rstrip) {
        size_t len;
        while (stop < text.size() && is_whitespace(char_at(text, stop, &len))) stop += len;
      }
      if (start_offset < start) out.push_back({start_offset, start, -1});
      out.push_back({start, stop, token.id});
      start_offset = stop;
    }
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
}

}  // namespace sp::hf
