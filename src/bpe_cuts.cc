#include "bpe_cuts.h"

#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "sp/unicode.h"

namespace sp {

int BpeCuts::class_of(std::string_view ch) {
  if (ch.size() == 1 && static_cast<uint8_t>(ch[0]) < 0x80) return static_cast<uint8_t>(ch[0]);
  return ch == "\xE2\x96\x81" ? kMetaspace : kOther;
}

BpeCuts BpeCuts::build(const BpeVocabulary& v) {
  BpeCuts c;
  if (v.units != BpeVocabulary::Units::kCharacters || v.ignore_merges) return c;
  std::vector<bool> special(v.tokens.size(), false);
  for (uint32_t id : v.specials)
    if (id < special.size()) special[id] = true;
  // Per class: some character of it is a token (known), some is not (may be
  // unknown); which class pairs some token holds side by side.
  std::array<bool, kClasses> known{}, unknown{};
  unknown.fill(true);
  std::array<bool, kClasses * kClasses> joins{};
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (special[id]) continue;
    const std::string_view t = v.tokens[id];
    int prev = -1;
    for (size_t i = 0; i < t.size();) {
      size_t len = utf8_sequence_length(t, i);
      if (len == 0) len = 1;
      const int cls = class_of(t.substr(i, len));
      if (len == t.size() && cls != kOther) known[cls] = true, unknown[cls] = false;
      if (prev >= 0) joins[prev * kClasses + cls] = true;
      prev = cls;
      i += len;
    }
  }
  // Unknown characters become byte fallback tokens or the unknown token: if
  // any merge takes one of those, unknown characters may merge.
  absl::flat_hash_set<uint32_t> fallback;
  bool every_byte = v.byte_fallback;
  {
    std::vector<std::string> wanted(256);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      wanted[b] = name;
    }
    absl::flat_hash_set<std::string_view> wanted_set(wanted.begin(), wanted.end());
    size_t found = 0;
    for (size_t id = 0; id < v.tokens.size(); ++id)
      if (!special[id] && wanted_set.contains(v.tokens[id])) fallback.insert(static_cast<uint32_t>(id)), ++found;
    every_byte = every_byte && found == 256;
  }
  if (v.unk_id) fallback.insert(*v.unk_id);
  bool unknown_merges = v.merges_from_ranks;
  for (const BpeVocabulary::Merge& m : v.merges)
    unknown_merges = unknown_merges || fallback.contains(m.left) || fallback.contains(m.right);
  for (int a = 0; a < kClasses; ++a) {
    for (int b = 0; b < kClasses; ++b) {
      bool cut = !joins[a * kClasses + b];
      if (unknown_merges && (unknown[a] || unknown[b])) cut = false;
      if (!every_byte && unknown[a] && unknown[b]) cut = false;  // the unknown token may fuse them
      c.cut_[a * kClasses + b] = cut;
      c.any_ = c.any_ || cut;
    }
  }
  return c;
}

void BpeCuts::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = piece_end(text, pos);
    pieces.push_back(text.substr(pos, end - pos));
    pos = end;
  }
}

}  // namespace sp
