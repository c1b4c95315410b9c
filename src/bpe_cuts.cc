#include "bpe_cuts.h"

#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <string>

#include "pretokenizer_simd.h"
#include "sp/unicode.h"

namespace sp {

static_assert(simd::CutClasses::kMetaspace == 128 && simd::CutClasses::kOther == 129 &&
                  simd::CutClasses::kClasses == 130,
              "the SIMD classes are BpeCuts' kMetaspace and kOther");

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

// A cut at byte i depends on the characters that end before i and start at i,
// so on bytes i - 3 .. i + 2: with 66 bytes of text every cut in the first 64
// is known, and only the piece open at the end runs on past them.
size_t BpeCuts::window(std::string_view text, size_t pos, PretokenWindow& w) const {
  constexpr size_t kN = PretokenWindow::kBytes;
  const size_t left = text.size() - pos, avail = std::min(left, kN);
  // The classifier reads 2 bytes before pos (no character starting before
  // pos reaches pos, so any 2 bytes do) and 2 after the 64: straight from the
  // text where it has them, else from a copy with spaces around the text.
  const char* bytes = text.data() + pos;
  alignas(64) char edge[2 + kN + 16];
  if (pos < 2 || left < kN + 2) {
    std::memset(edge, ' ', sizeof edge);
    std::memcpy(edge + 2, bytes, std::min(left, kN + 2));
    bytes = edge + 2;
  }
  std::memcpy(w.bytes, bytes, kN);
  std::memset(w.bytes + kN, ' ', sizeof w.bytes - kN);
  simd::CutClasses c;
  simd::cut_classes64(bytes, &c);

  // Every boundary's cut, branch-free: a table byte (0 or 1) per boundary,
  // 3 instructions (the pair's index, the table's load, a store; the index
  // was two loads and an add before the kernel made it: 1,292 -> 1,258 M
  // instructions for bpe_bytefallback.model on 20 MB), then eight of them to
  // eight bits by one multiply (each byte's bit lands on its own bit of the
  // top byte, with no carries).
  alignas(8) uint8_t cut_at[kN];
  cut_at[0] = 0;
#pragma GCC unroll 16
  for (size_t i = 1; i < kN; ++i) cut_at[i] = cut_[c.pairs[i]];
  uint64_t cuts = 0;
  for (size_t k = 0; k < kN; k += 8) {
    uint64_t eight;
    std::memcpy(&eight, cut_at + k, 8);
    cuts |= ((eight * 0x0102040810204080ull) >> 56) << k;
  }
  cuts &= c.starts;  // only between characters
  if (left < kN) cuts &= (uint64_t{1} << left) - 1;

  // piece_end's rule from each piece's start a: the first cut at a + 2 or
  // later, or at a + 1 before a U+2581. So a cut is dropped exactly when the
  // byte before it starts a piece and it is not before a U+2581, and in a run
  // of such cuts every other one is dropped: the first, the third ... after
  // the piece start that leads the run. Found for all runs at once with the
  // carry of an add (as simdjson finds the escaped characters after runs of
  // backslashes), where a loop took ~12 instructions a piece.
  constexpr uint64_t kEven = 0x5555555555555555ull;  // bits 0, 2, 4 ...
  const uint64_t cut = cuts | 1;                                // byte 0 starts a piece
  const uint64_t droppable = cut & ~c.meta & ~uint64_t{1};
  const uint64_t leads = cut & ~(droppable & (cut << 1));       // always start a piece
  const uint64_t follows = cut & ~leads;                        // right after another cut
  const uint64_t firsts = follows & ~(follows << 1);            // the first of each run of them
  const uint64_t even_runs = follows & ~(follows + (firsts & kEven));  // runs that begin at an even byte
  const uint64_t starts = leads | (even_runs & ~kEven) | (follows & ~even_runs & kEven);
  const size_t a = 63 - static_cast<size_t>(std::countl_zero(starts));  // the last piece's start
  if (left <= kN) {  // the last piece ends with the text
    w.starts = starts;
    w.covered = avail;
    return avail;
  }
  if (a == 0) {
    w.covered = 0;
    return 0;
  }
  w.starts = starts & ~(uint64_t{1} << a);
  w.covered = a;
  return a;
}

}  // namespace sp
