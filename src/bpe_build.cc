// BpeModel::build: a parsed vocabulary (BpeVocabulary, from any family's
// loader) indexed for the encoder in bpe.cc, with the checks that make its
// fast paths exact for this vocabulary:
//   - which tokens may be emitted whole without merging (every token under
//     ignore_merges; else those whose bytes merge back to themselves);
//   - whether merges are ordered (every merge's parts exist before it), which
//     merge_long and merge_runs need;
//   - whether merged ids are rank + a constant (merged_id's shortcut).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdio>

#include "bpe_engine.h"
#include "sp/error.h"
#include "sp/unicode.h"

namespace sp {

namespace {

constexpr uint64_t kEmptyPair = UINT64_MAX;

// A token's text for messages: printable ASCII as is, other bytes as \xNN.
std::string shown(std::string_view bytes) {
  std::string s = "'";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      s += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      s += hex;
    }
  }
  return s + "'";
}

}  // namespace

BpeModel BpeModel::build(BpeVocabulary v, const std::string& source) {
  using E = BpeEngine;
  auto fail = [&](const std::string& reason) { throw InputError(source, 0, reason); };
  auto engine = std::make_shared<BpeEngine>();
  BpeEngine& m = *engine;
  const size_t vocab = v.tokens.size();
  constexpr size_t kMaxTokens = (size_t{1} << E::kIdBits) - 2;
  constexpr size_t kMaxRank = (size_t{1} << E::kRankBits) - 2;
  if (vocab == 0) fail("the vocabulary is empty");
  if (vocab > kMaxTokens) fail("more than " + std::to_string(kMaxTokens) + " tokens are not supported");
  m.units_ = v.units;

  // Token bytes, id order; the specials stay out of the lookup table.
  std::vector<bool> special(vocab, false);
  for (uint32_t id : v.specials) {
    if (id >= vocab) fail("special token id " + std::to_string(id) + " is outside the vocabulary");
    special[id] = true;
  }
  for (uint32_t id = 0; id < vocab; ++id)
    if (special[id]) m.specials_.push_back(id);
  size_t blob = 0;
  for (const std::string& t : v.tokens) blob += t.size();
  if (blob >= UINT32_MAX) fail("the vocabulary's tokens hold 4 GiB or more");
  m.token_blob_.reserve(blob);
  m.token_offsets_.reserve(vocab + 1);
  m.token_offsets_.push_back(0);
  for (const std::string& t : v.tokens) {
    m.token_blob_ += t;
    m.token_offsets_.push_back(static_cast<uint32_t>(m.token_blob_.size()));
  }
  std::vector<std::string>().swap(v.tokens);
  m.token_slots_.assign_zero(2 * std::bit_ceil(vocab));
  // Keys of a run of ids first, their slots prefetched, then inserted in id
  // order: the table is megabytes (Gemma, o200k_base: 12 MB) and each insert
  // missed the cache in turn.
  constexpr uint32_t kAhead = 16;
  const size_t slot_mask = m.token_slots_.size() - 1;
  PieceKey keys[kAhead];
  for (uint32_t id0 = 0; id0 < vocab; id0 += kAhead) {
    const uint32_t id1 = static_cast<uint32_t>(std::min<size_t>(vocab, size_t{id0} + kAhead));
    for (uint32_t id = id0; id < id1; ++id) {
      keys[id - id0] = PieceKey(m.token_bytes(id));
      __builtin_prefetch(&m.token_slots_[keys[id - id0].hash & slot_mask]);
    }
    for (uint32_t id = id0; id < id1; ++id) {
      const std::string_view bytes = m.token_bytes(id);
      if (special[id] || bytes.empty()) continue;  // an empty token is unreachable from text
      // One walk of the probe sequence both finds a token of the same bytes
      // (find_token's test) and the free slot after it.
      const PieceKey& key = keys[id - id0];
      size_t i = key.hash & slot_mask;
      for (; m.token_slots_[i].len != 0; i = (i + 1) & slot_mask) {
        const E::TokenSlot& s = m.token_slots_[i];
        if (s.head == key.head && s.tail == key.tail && m.token_bytes(s.id) == bytes)
          fail("token " + shown(bytes) + " appears twice (ids " + std::to_string(s.id) + " and " +
               std::to_string(id) + ")");
      }
      m.token_slots_[i] = E::TokenSlot{key.head, key.tail, static_cast<uint32_t>(bytes.size()), id};
    }
  }
  auto token_of = [&](std::string_view bytes) -> int64_t {
    const int64_t word = m.find_token(bytes, PieceKey(bytes));
    return word < 0 ? -1 : word & ~E::kWholeToken;
  };

  // Initial symbols: every byte (kBytes), or byte fallback and unknown tokens.
  if (v.units == BpeVocabulary::Units::kBytes) {
    for (int b = 0; b < 256; ++b) {
      const int64_t id = token_of(std::string(1, static_cast<char>(b)));
      if (id < 0) fail("no token for byte " + std::to_string(b) + " (a byte-level vocabulary needs all 256)");
      m.byte_ids_[b] = static_cast<uint32_t>(id);
    }
  } else {
    m.byte_fallback_ = v.byte_fallback;
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const int64_t id = token_of(name);
      m.byte_fallback_ids_[b] = id < 0 ? E::kNoRank : static_cast<uint32_t>(id);
    }
    if (v.unk_id) {
      if (*v.unk_id >= vocab) fail("unknown token id " + std::to_string(*v.unk_id) + " is outside the vocabulary");
      m.unk_id_ = *v.unk_id;
    }
    m.fuse_unk_ = v.fuse_unk;
    // Every token that is one character of two or three bytes, by code point.
    m.bmp_tokens_.assign(size_t{1} << 16, E::kNoRank);
    for (uint32_t id = 0; id < vocab; ++id) {
      const std::string_view t = m.token_bytes(id);
      if (!special[id] && (t.size() == 2 || t.size() == 3) && utf8_sequence_length(t, 0) == t.size())
        m.bmp_tokens_[E::bmp_code_point(t.data(), t.size())] = id;
    }
  }
  for (int b = 0; b < 128; ++b) {
    const int64_t id = token_of(std::string(1, static_cast<char>(b)));
    m.ascii_tokens_[b] = id < 0 ? E::kNoRank : static_cast<uint32_t>(id);
  }

  std::vector<BpeVocabulary::Merge> kept;  // the merges that count
  if (v.merges_from_ranks) {
    // tiktoken's rule: each split of a token into two tokens is a merge that
    // makes it, at the token's id as priority. Found here with the token
    // table (no string per split); pairs are unique by construction.
    if (!v.merges.empty()) fail("a vocabulary with merges_from_ranks takes no merge list");
    // In blocks on the threads, joined in id order (cl100k_base: 100,256
    // tokens, ~600,000 lookups, ~80 ms on one core of the dev VM).
    m.rules_.assign(vocab, E::MergeRule{E::kNoRank, E::kNoRank, E::kNoRank});
    constexpr uint32_t kBlock = 8192;
    const uint32_t blocks = static_cast<uint32_t>((vocab + kBlock - 1) / kBlock);
    std::vector<std::vector<BpeVocabulary::Merge>> found(blocks);
    std::vector<uint8_t> block_one_pair(blocks, 1);
    tbb::parallel_for(tbb::blocked_range<uint32_t>(0, blocks, 1), [&](const tbb::blocked_range<uint32_t>& r) {
      for (uint32_t block = r.begin(); block != r.end(); ++block) {
        const uint32_t end = static_cast<uint32_t>(std::min<size_t>(vocab, size_t{block + 1} * kBlock));
        for (uint32_t id = block * kBlock; id < end; ++id) {
          const std::string_view t = m.token_bytes(id);
          if (special[id] || t.size() < 2) continue;
          uint32_t pairs = 0;
          // The lookups miss the cache (o200k_base: a 12 MB table), so each
          // run of splits has its slots prefetched before it is probed.
          constexpr size_t kAhead = 16;
          for (size_t k0 = 1; k0 < t.size(); k0 += kAhead) {
            const size_t k1 = std::min(t.size(), k0 + kAhead);
            PieceKey heads[kAhead], tails[kAhead];
            for (size_t k = k0; k < k1; ++k) {
              heads[k - k0] = PieceKey(t.substr(0, k));
              tails[k - k0] = PieceKey(t.substr(k));
              __builtin_prefetch(&m.token_slots_[heads[k - k0].hash & (m.token_slots_.size() - 1)]);
              __builtin_prefetch(&m.token_slots_[tails[k - k0].hash & (m.token_slots_.size() - 1)]);
            }
            for (size_t k = k0; k < k1; ++k) {
              const int64_t a = m.find_token(t.substr(0, k), heads[k - k0]);
              if (a < 0) continue;
              const int64_t b = m.find_token(t.substr(k), tails[k - k0]);
              if (b < 0) continue;
              const auto left = static_cast<uint32_t>(a & ~E::kWholeToken);
              const auto right = static_cast<uint32_t>(b & ~E::kWholeToken);
              found[block].push_back({left, right, id});
              m.rules_[id] = {left, right, id};
              ++pairs;
            }
          }
          if (pairs > 1) block_one_pair[block] = 0;
        }
      }
    });
    size_t total = 0;
    for (const auto& f : found) total += f.size();
    kept.reserve(total);
    for (auto& f : found) {
      kept.insert(kept.end(), f.begin(), f.end());
      std::vector<BpeVocabulary::Merge>().swap(f);
    }
    const bool one_pair = std::all_of(block_one_pair.begin(), block_one_pair.end(), [](uint8_t b) { return b; });
    if (kept.size() > kMaxRank) fail("more than " + std::to_string(kMaxRank) + " merges are not supported");
    m.one_pair_per_rank_ = one_pair;
  } else {
    // Merges: each pair once (the last priority given wins, as HF tokenizers'
    // merge map does), each rank making one token. Load time is mostly fresh
    // memory here (a page fault costs ~13 us on the dev VM), so the pass
    // keeps little: the duplicate table holds merge indexes (4 bytes, at most
    // 2/3 full: Gemma's 580,604 merges take 4 MB where pair words at half
    // full took 16 MB), a replaced merge is marked in place, and the kept
    // merges are the list compacted in place.
    if (v.merges.size() > kMaxRank) fail("more than " + std::to_string(kMaxRank) + " merges are not supported");
    std::vector<uint32_t> pair_slots(std::bit_ceil(v.merges.size() + v.merges.size() / 2 + 1), 0);  // index + 1
    const int pair_shift = 64 - std::countr_zero(pair_slots.size());
    auto pair_slot = [&](const BpeVocabulary::Merge& g) {
      const uint64_t pair = (uint64_t{g.left} << E::kIdBits) | g.right;
      return static_cast<size_t>((pair * 0x9E3779B97F4A7C15ull) >> pair_shift);
    };
    // The slots are probed at random: each is prefetched kAhead merges before
    // (as the token table's inserts above).
    constexpr size_t kAheadMerges = 16;
    uint32_t max_rank = 0;
    for (size_t i = 0; i < v.merges.size(); ++i) {
      if (i + kAheadMerges < v.merges.size()) __builtin_prefetch(&pair_slots[pair_slot(v.merges[i + kAheadMerges])]);
      const BpeVocabulary::Merge& g = v.merges[i];
      auto name = [&](uint32_t id) { return id < vocab ? shown(m.token_bytes(id)) : std::to_string(id); };
      if (g.left >= vocab || g.right >= vocab)
        fail("merge " + std::to_string(i) + " names token id " + std::to_string(std::max(g.left, g.right)) +
             ", outside the vocabulary");
      if (special[g.left] || special[g.right])
        fail("merge " + name(g.left) + " " + name(g.right) + " uses a special token");
      if (g.priority > kMaxRank) fail("merge priority " + std::to_string(g.priority) + " is too large");
      size_t s = pair_slot(g);
      for (;; s = (s + 1) & (pair_slots.size() - 1)) {
        if (pair_slots[s] == 0) break;
        BpeVocabulary::Merge& earlier = v.merges[pair_slots[s] - 1];
        if (earlier.left == g.left && earlier.right == g.right) {
          earlier.priority = E::kNoRank;  // a duplicate: the earlier one no longer counts
          break;
        }
      }
      pair_slots[s] = static_cast<uint32_t>(i + 1);
      max_rank = std::max(max_rank, g.priority);
    }
    std::vector<uint32_t>().swap(pair_slots);
    m.rules_.assign(v.merges.empty() ? 0 : size_t{max_rank} + 1, E::MergeRule{E::kNoRank, E::kNoRank, E::kNoRank});
    bool one_pair = true;
    std::string joined;
    uint32_t last_made = 0;
    size_t count = 0;
    for (size_t i = 0; i < v.merges.size(); ++i) {
      const BpeVocabulary::Merge g = v.merges[i];
      if (g.priority == E::kNoRank) continue;
      const std::string_view left = m.token_bytes(g.left), right = m.token_bytes(g.right);
      // Merge lists follow the order of the tokens they make (each merge
      // makes the last merge's token or the next id: Gemma 580,600 of
      // 580,604), so those two are tried before hashing: a token of these
      // bytes that is not special is the one token_of finds (a second such
      // token was refused above).
      int64_t merged = -1;
      for (const uint32_t id : {last_made, last_made + 1}) {
        if (id >= vocab || special[id]) continue;
        const std::string_view t = m.token_bytes(id);
        if (!t.empty() && t.size() == left.size() + right.size() && t.starts_with(left) && t.ends_with(right)) {
          merged = id;
          break;
        }
      }
      if (merged < 0) {
        joined.assign(left).append(right);
        merged = token_of(joined);
        if (merged < 0)
          fail("merge " + shown(left) + " " + shown(right) + " makes " + shown(joined) +
               ", which is not in the vocabulary");
      }
      last_made = static_cast<uint32_t>(merged);
      E::MergeRule& rule = m.rules_[g.priority];
      if (rule.merged != E::kNoRank && rule.merged != merged)
        fail("merges of priority " + std::to_string(g.priority) + " make different tokens (" +
             shown(m.token_bytes(rule.merged)) + " and " + shown(std::string(left) + std::string(right)) + ")");
      one_pair = one_pair && rule.merged == E::kNoRank;  // a second pair of this rank
      rule = {g.left, g.right, static_cast<uint32_t>(merged)};
      v.merges[count++] = g;
    }
    v.merges.resize(count);
    kept = std::move(v.merges);
    m.one_pair_per_rank_ = one_pair;
  }
  m.merge_count_ = kept.size();

  // The merges by pair (find_rank), at most 80% full: probing starts at a
  // line of kPairBucket words, and the table stays small.
  {
    const size_t size = std::max<size_t>(2 * E::kPairBucket, std::bit_ceil(kept.size() + kept.size() / 4));
    m.pair_table_.assign_zero(size);
    std::fill(m.pair_table_.data(), m.pair_table_.data() + size, E::kNoPair);
    m.pair_shift_ = 64 - std::countr_zero(size / E::kPairBucket);
    m.merge_lefts_.assign(m.vocab_size() / 64 + 1, 0);
    m.merge_rights_.assign(m.vocab_size() / 64 + 1, 0);
    const size_t filter_words = std::bit_ceil(std::max<size_t>(kept.size() * E::kPairFilterBits / 64, 2));
    m.pair_filter_.assign(filter_words, 0);
    m.pair_filter_shift_ = 64 - std::countr_zero(filter_words);
    for (size_t j = 0; j < kept.size(); ++j) {
      if (j + 16 < kept.size())  // prefetched ahead, as the token table's inserts
        __builtin_prefetch(&m.pair_table_[m.pair_slot(uint64_t{kept[j + 16].left} << E::kIdBits | kept[j + 16].right)]);
      const BpeVocabulary::Merge& r = kept[j];
      m.merge_lefts_[r.left >> 6] |= uint64_t{1} << (r.left & 63);
      m.merge_rights_[r.right >> 6] |= uint64_t{1} << (r.right & 63);
      const uint64_t key = uint64_t{r.left} << E::kIdBits | r.right;
      const uint64_t h = E::pair_filter_hash(key);
      m.pair_filter_[h >> m.pair_filter_shift_] |= E::pair_filter_bits(h);
      size_t i = m.pair_slot(key);
      while (m.pair_table_[i] != E::kNoPair) i = (i + 1) & (size - 1);
      m.pair_table_[i] = key << E::kRankBits | r.priority;
    }
  }

  // Ordered: every merge's parts are initial symbols or made by a merge of
  // lower rank. A token no merge makes and no piece starts as never takes
  // part in merging, so it does not count against the order.
  {
    constexpr uint32_t kInitial = 0, kNever = E::kNoRank;
    std::vector<uint32_t> created(vocab, kNever);  // 1 + lowest rank that makes the token
    for (const BpeVocabulary::Merge& r : kept) {
      const uint32_t merged = m.rules_[r.priority].merged;
      created[merged] = std::min(created[merged], r.priority + 1);
    }
    if (v.units == BpeVocabulary::Units::kBytes) {
      for (uint32_t id : m.byte_ids_) created[id] = kInitial;
    } else {
      for (uint32_t id : m.byte_fallback_ids_)
        if (id != E::kNoRank) created[id] = kInitial;
      if (m.unk_id_ != E::kNoRank) created[m.unk_id_] = kInitial;
      for (uint32_t id = 0; id < vocab; ++id) {
        const std::string_view t = m.token_bytes(id);
        if (!special[id] && !t.empty() && utf8_sequence_length(t, 0) == t.size()) created[id] = kInitial;
      }
    }
    m.ranks_ordered_ = std::all_of(kept.begin(), kept.end(), [&](const BpeVocabulary::Merge& r) {
      return (created[r.left] == kNever || created[r.left] <= r.priority) &&
             (created[r.right] == kNever || created[r.right] <= r.priority);
    });
  }
  {
    bool first = true, plus = true;
    uint32_t offset = 0;
    for (uint32_t rank = 0; rank < m.rules_.size() && plus; ++rank) {
      if (m.rules_[rank].merged == E::kNoRank) continue;
      if (first) offset = m.rules_[rank].merged - rank, first = false;
      plus = m.rules_[rank].merged == offset + rank;
    }
    if (plus && !first) m.merged_is_rank_plus_ = offset;
  }
  if (v.units == BpeVocabulary::Units::kCharacters) {
    uint32_t class_token[E::kCharClasses];
    for (int c = 0; c < 128; ++c) class_token[c] = m.ascii_tokens_[c];
    class_token[E::kMetaspaceClass] = m.bmp_tokens_[0x2581];
    m.char_pair_rank_.assign(E::kCharClasses * E::kCharClasses, E::kNoRank);
    for (int a = 0; a < E::kCharClasses; ++a)
      for (int b = 0; b < E::kCharClasses; ++b)
        if (class_token[a] != E::kNoRank && class_token[b] != E::kNoRank)
          m.char_pair_rank_[a * E::kCharClasses + b] = m.find_rank(class_token[a], class_token[b]);
  }
  if (v.units == BpeVocabulary::Units::kBytes) {
    m.byte_pair_rank_.resize(256 * 256);
    for (int a = 0; a < 256; ++a)
      for (int b = 0; b < 256; ++b) m.byte_pair_rank_[a << 8 | b] = m.find_rank(m.byte_ids_[a], m.byte_ids_[b]);
  }
  // Single-byte pieces, fixed here once: their initial symbols (nothing to merge).
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    const PieceKey key(std::string_view(&byte, 1));
    BpeScratch::Front& f = m.byte_front_[b];
    f = BpeScratch::Front{key.head, key.tail, {}};
    std::vector<uint32_t> symbols{m.byte_ids_[b]};
    const size_t n = v.units == BpeVocabulary::Units::kBytes
                         ? 1
                         : m.character_symbols(std::string_view(&byte, 1), symbols);  // one symbol at most
    if (n == 1) f.ids[0] = symbols[0] | uint32_t{1} << BpeScratch::kFrontCountShift;
  }

  // Which tokens may be emitted whole. Without ignore_merges, a token is
  // when its own bytes merge back to exactly it: 50,000 short merges for
  // GPT-2, about 10 ms on one core, so spread over the threads the process
  // may use (startup is serial time for every worker).
  std::vector<uint8_t> whole(vocab, 0);
  if (v.ignore_merges) {
    for (uint32_t id = 0; id < vocab; ++id) whole[id] = !special[id];
  } else {
    tbb::parallel_for(tbb::blocked_range<uint32_t>(0, static_cast<uint32_t>(vocab), 2048),
                      [&](const tbb::blocked_range<uint32_t>& r) {
                        BpeScratch scratch(0);
                        std::vector<uint32_t> ids;
                        for (uint32_t id = r.begin(); id != r.end(); ++id) {
                          const std::string_view t = m.token_bytes(id);
                          if (special[id] || t.empty()) continue;
                          ids.resize(t.size() + E::kIdSlack);
                          const uint32_t* end = m.merge_piece(t, ids.data(), scratch);
                          whole[id] = end - ids.data() == 1 && ids[0] == id;
                        }
                      });
  }
  for (size_t i = 0; i < m.token_slots_.size(); ++i) {
    E::TokenSlot& s = m.token_slots_[i];
    if (s.len != 0 && whole[s.id]) s.id |= E::kWholeToken, m.whole_tokens_ = true;
  }
  m.shared_memo_ = std::make_unique<BpeSharedMemo>();
  return BpeModel(std::move(engine));
}

}  // namespace sp
