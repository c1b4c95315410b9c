// Every pre-token scanner against PCRE2 running its regex (the reference of
// tests/pretoken_reference.h). Input: byte 0 picks the pattern (mod 7); each
// further byte picks a code point of the reference's tricky alphabet (mod its
// size), so every text is valid UTF-8 that both engines class alike. The
// pieces must be equal, non-empty and cover the text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "pretoken_reference.h"
#include "sp/pretokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto pattern = static_cast<sp::PretokenPattern>(data[0] % sp::test::kPatternCount);
  const auto& alphabet = sp::test::tricky_alphabet();
  std::string text;
  for (size_t i = 1; i < size; ++i) text += sp::test::utf8(alphabet[data[i] % alphabet.size()]);

  const std::vector<std::string_view> want = sp::test::reference_pieces(pattern, text);
  size_t pos = 0, k = 0;
  while (pos < text.size()) {
    const size_t next = sp::pretoken_end(pattern, text, pos);
    FUZZ_CHECK(next > pos && next <= text.size(), "pattern %d: end %zu at %zu", int(pattern), next, pos);
    FUZZ_CHECK(k < want.size(), "pattern %d: extra piece at %zu", int(pattern), pos);
    FUZZ_CHECK(want[k].data() == text.data() + pos && want[k].size() == next - pos,
               "pattern %d: piece %zu is [%zu, %zu), PCRE2 says [%zu, %zu)", int(pattern), k, pos, next,
               size_t(want[k].data() - text.data()), size_t(want[k].data() - text.data()) + want[k].size());
    pos = next;
    ++k;
  }
  FUZZ_CHECK(k == want.size(), "pattern %d: %zu pieces, PCRE2 has %zu", int(pattern), k, want.size());
  return 0;
}
