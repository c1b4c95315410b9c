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
  // Per class: whether some character of it may be unknown (is no token).
  std::array<bool, kClasses> unknown{};
  unknown.fill(true);
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const std::string_view t = v.tokens[id];
    if (special[id] || t.empty() || utf8_sequence_length(t, 0) != t.size()) continue;
    if (const int cls = class_of(t); cls != kOther) unknown[cls] = false;
  }
  // Which class pairs a merge joins: the first merge across a boundary
  // joins a symbol that ends with the character before it to one that
  // starts with the character after it.
  std::array<bool, kClasses * kClasses> joins{};
  auto last_char = [](std::string_view t) {
    size_t start = t.size() - 1;
    while (start > 0 && (static_cast<uint8_t>(t[start]) & 0xC0) == 0x80) --start;
    return t.substr(start);
  };
  auto first_char = [](std::string_view t) {
    const size_t len = utf8_sequence_length(t, 0);
    return t.substr(0, len == 0 ? 1 : len);
  };
  for (const BpeVocabulary::Merge& m : v.merges) {
    if (m.left >= v.tokens.size() || m.right >= v.tokens.size()) return c;  // BpeModel::build reports it
    const std::string_view l = v.tokens[m.left], r = v.tokens[m.right];
    if (l.empty() || r.empty()) continue;
    joins[class_of(last_char(l)) * kClasses + class_of(first_char(r))] = true;
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
    for (size_t id = 0; id < v.tokens.size(); ++id)  // "<0xXX>" only: no hashing of the other tokens
      if (v.tokens[id].size() == 6 && v.tokens[id].starts_with("<0x") && !special[id] &&
          wanted_set.contains(v.tokens[id]))
        fallback.insert(static_cast<uint32_t>(id)), ++found;
    every_byte = every_byte && found == 256;
  }
  if (v.unk_id) fallback.insert(*v.unk_id);
  bool unknown_merges = v.merges_from_ranks;  // (kBytes in practice: no cuts anyway)
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
