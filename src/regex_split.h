// Split regexes without a hand-written scanner (pretoken_pattern_for_regex
// did not recognize them), run through PCRE2: the general, slower path.
//
// RegexSplitter finds matches as Hugging Face tokenizers' Split
// pre-tokenizer does with Oniguruma, and splits the same way:
//   - find_matches: successive non-overlapping leftmost matches, each search
//     starting where the last match ended; an empty match moves the next
//     search one character on, and after a non-empty match the next empty
//     match is dropped (the onig crate's find_iter);
//   - split: the matches and the gaps between them, arranged by the Split
//     behaviour (tokenizers' NormalizedString::split), empty pieces dropped.
// The pattern is compiled in UTF and UCP mode (\p{..}, \w, \d and
// case-insensitive matching are Unicode's), with `^`/`$` matching at line
// breaks as in Oniguruma's Ruby syntax, \s and \S as Oniguruma's White_Space
// (PCRE2's own \s also holds U+180E), and JIT-compiled where PCRE2 has a JIT.
// Otherwise the syntax is PCRE2's: Oniguruma's nested classes and `&&`, and
// its \h (a hex digit; PCRE2's is horizontal space), mean other things or do
// not compile. PCRE2's property tables are its Unicode version's (14.0 for
// Debian's 10.42), so code points assigned since then may class differently.
// Text must be valid UTF-8 (it is checked once per call, not per match).
// A RegexSplitter may be used from many threads at once: each thread gets
// its own match data and JIT stack.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sp {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

class RegexSplitter {
 public:
  // Throws sp::Error ("split regex does not compile at offset N: reason:
  // pattern") when PCRE2 rejects the pattern.
  explicit RegexSplitter(std::string_view pattern);
  ~RegexSplitter();
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;

  const std::string& pattern() const { return pattern_; }
  bool jit() const { return jit_; }

  // Replaces `out` with the matches' [begin, end) byte offsets, in order.
  // Throws sp::Error when PCRE2 fails to match (e.g. the backtracking limit).
  void find_matches(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  // Replaces `pieces` with the non-empty pieces of `text` under `behavior`:
  // kRemoved drops the matches, kIsolated keeps them as pieces of their own,
  // kMergedWithPrevious / kMergedWithNext append / prepend each match to the
  // piece before / after it, kContiguous joins runs of adjacent matches.
  // With `invert`, the gaps play the matches' role and the matches the gaps'.
  void split(std::string_view text, SplitBehavior behavior, bool invert, std::vector<std::string_view>& pieces) const;

 private:
  struct Code;
  std::string pattern_;
  std::unique_ptr<Code> code_;
  bool jit_ = false;
};

}  // namespace sp
