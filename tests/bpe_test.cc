// GPT-2 byte-level BPE: loading (and its errors), merge semantics on a toy
// vocabulary, hand-checked GPT-2 ids, token-for-token equality with tiktoken on
// the golden corpus, round trips, cache independence, and megabyte-long
// pre-tokens against an independent implementation of GPT-2's encoder.py.
#include "sp/bpe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "bpe_engine.h"
#include "sp/error.h"
#include "sp/pretokenizer.h"
#include "test_support.h"

namespace sp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using test::TempDir;
using test::write_file;

std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3F)), s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F)), s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// Raw bytes -> the unicode-ized form vocab.json and merges.txt use.
std::string unicodeize(std::string_view bytes) {
  std::string s;
  for (char c : bytes) s += utf8(gpt2_byte_to_codepoint(static_cast<uint8_t>(c)));
  return s;
}

std::string json_key(std::string_view bytes) {
  std::string s = "\"";
  for (char c : unicodeize(bytes)) {
    if (c == '"' || c == '\\') s += '\\';
    s += c;
  }
  return s + "\"";
}

// A toy vocabulary: the 256 bytes, then the results of `merges` (raw-byte
// pairs, in rank order), then <|endoftext|>.
struct ToyFiles {
  std::string vocab, merges;
};
ToyFiles write_toy(const TempDir& dir, const std::vector<std::pair<std::string, std::string>>& merges) {
  std::string vocab = "{";
  int id = 0;
  for (int b = 0; b < 256; ++b) vocab += json_key(std::string(1, char(b))) + ": " + std::to_string(id++) + ", ";
  std::string merges_txt = "#version: 0.2\n";
  for (const auto& [a, b] : merges) {
    vocab += json_key(a + b) + ": " + std::to_string(id++) + ", ";
    merges_txt += unicodeize(a) + " " + unicodeize(b) + "\n";
  }
  vocab += "\"<|endoftext|>\": " + std::to_string(id) + "}";
  ToyFiles f{dir / "vocab.json", dir / "merges.txt"};
  write_file(f.vocab, vocab);
  write_file(f.merges, merges_txt);
  return f;
}

std::vector<uint32_t> encode_piece(const BpeModel& m, std::string_view piece, size_t cache_entries = 0) {
  BpeCache cache(cache_entries);
  std::vector<uint32_t> ids;
  m.encode_piece(piece, ids, cache);
  return ids;
}

// Whether the engine may emit the token with these bytes whole, unmerged.
bool emitted_whole(const BpeModel& m, std::string_view bytes) {
  const int64_t word = m.engine().find_token(bytes, PieceKey(bytes));
  return word >= 0 && (word & BpeEngine::kWholeToken) != 0;
}

std::vector<std::string> token_strings(const BpeModel& m, const std::vector<uint32_t>& ids) {
  std::vector<std::string> s;
  for (uint32_t id : ids) s.emplace_back(m.token_bytes(id));
  return s;
}

// ------------------------------------------------------------------ bytes_to_unicode

TEST(Gpt2ByteToCodepoint, MatchesGpt2Table) {
  EXPECT_EQ(gpt2_byte_to_codepoint('A'), U'A');
  EXPECT_EQ(gpt2_byte_to_codepoint('!'), U'!');
  EXPECT_EQ(gpt2_byte_to_codepoint(0xA1), char32_t{0xA1});
  EXPECT_EQ(gpt2_byte_to_codepoint(0x00), char32_t{0x100});
  EXPECT_EQ(gpt2_byte_to_codepoint(' '), char32_t{0x120});  // "Ġ"
  EXPECT_EQ(gpt2_byte_to_codepoint('\n'), char32_t{0x10A}); // "Ċ"
  EXPECT_EQ(gpt2_byte_to_codepoint(0x7F), char32_t{0x121});
  EXPECT_EQ(gpt2_byte_to_codepoint(0xAD), char32_t{0x143});  // the 68th and last
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) seen.insert(gpt2_byte_to_codepoint(uint8_t(b)));
  EXPECT_EQ(seen.size(), 256u);
}

// ------------------------------------------------------------------ load errors

TEST(BpeLoad, MissingFilesNameThePath) {
  TempDir dir;
  auto toy = write_toy(dir, {{"a", "b"}});
  try {
    BpeModel::load_gpt2(dir / "nope.json", toy.merges);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir / "nope.json"));
  }
  try {
    BpeModel::load_gpt2(toy.vocab, dir / "nope.txt");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir / "nope.txt"));
  }
}

void expect_load_error(const std::string& vocab, const std::string& merges, const std::string& path_in_message,
                       const std::string& reason) {
  try {
    BpeModel::load_gpt2(vocab, merges);
    ADD_FAILURE() << "no exception; expected " << reason;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path_in_message));
    EXPECT_THAT(e.what(), HasSubstr(reason));
  }
}

TEST(BpeLoad, MalformedVocab) {
  TempDir dir;
  auto toy = write_toy(dir, {{"a", "b"}});
  const std::string bad = dir / "bad.json";
  write_file(bad, "{\"a\": 0, ");
  expect_load_error(bad, toy.merges, bad, "JSON");
  write_file(bad, "[1, 2]");
  expect_load_error(bad, toy.merges, bad, "JSON object");
  write_file(bad, "{\"a\": \"zero\"}");
  expect_load_error(bad, toy.merges, bad, "valid integer id");
  write_file(bad, "{\"a\": 0, \"b\": 0}");
  expect_load_error(bad, toy.merges, bad, "used twice");
  write_file(bad, "{\"a\": 0, \"b\": 2}");
  expect_load_error(bad, toy.merges, bad, "id 1 is missing");
  write_file(bad, "{\"a\": 0, \" \": 1}");  // a raw space is not byte-level text
  expect_load_error(bad, toy.merges, bad, "byte-level");
  // Everything but <|endoftext|>.
  std::string vocab = test::read_file(toy.vocab);
  write_file(bad, vocab.substr(0, vocab.rfind(", \"<|endoftext|>\"")) + "}");
  expect_load_error(bad, toy.merges, bad, "<|endoftext|>");
}

TEST(BpeLoad, MalformedMerges) {
  TempDir dir;
  auto toy = write_toy(dir, {{"a", "b"}, {"ab", "c"}});
  const std::string bad = dir / "bad.txt";
  write_file(bad, "#version: 0.2\na b\nq z\n");  // "qz" is not a token
  expect_load_error(toy.vocab, bad, bad + ":3:", "not in the vocabulary");
  write_file(bad, "#version: 0.2\na b\nab xyz\n");
  expect_load_error(toy.vocab, bad, bad + ":3:", "unknown token xyz");
  write_file(bad, "#version: 0.2\na b\na b\n");
  expect_load_error(toy.vocab, bad, bad + ":3:", "duplicate merge");
  write_file(bad, "#version: 0.2\na b c\n");
  expect_load_error(toy.vocab, bad, bad + ":2:", "two tokens");
  write_file(bad, "#version: 0.2\n");
  expect_load_error(toy.vocab, bad, bad, "no merges");
}

// ------------------------------------------------------------------ merge rule on a toy vocabulary

TEST(BpeToy, LowestRankMergesFirstNotLeftmost) {
  TempDir dir;
  // "b c" outranks "a b", so "abc" becomes a|bc, and the token "abc" (made by
  // "ab c") is unreachable from its own bytes: the whole-token shortcut must
  // be off for this vocabulary.
  auto toy = write_toy(dir, {{"b", "c"}, {"a", "b"}, {"ab", "c"}});
  auto m = BpeModel::load_gpt2(toy.vocab, toy.merges);
  EXPECT_EQ(m.vocab_size(), 256u + 3 + 1);
  EXPECT_EQ(m.token_id("<|endoftext|>"), 259);
  EXPECT_FALSE(emitted_whole(m, "abc"));
  EXPECT_TRUE(emitted_whole(m, "bc"));
  EXPECT_THAT(token_strings(m, encode_piece(m, "abc")), ElementsAre("a", "bc"));
  EXPECT_THAT(token_strings(m, encode_piece(m, "abd")), ElementsAre("ab", "d"));
  EXPECT_THAT(token_strings(m, encode_piece(m, "ababc")), ElementsAre("ab", "a", "bc"));
}

TEST(BpeToy, LeftmostWinsTiesAndMergesChain) {
  TempDir dir;
  auto toy = write_toy(dir, {{"a", "a"}, {"aa", "aa"}, {"aaaa", "a"}});
  auto m = BpeModel::load_gpt2(toy.vocab, toy.merges);
  EXPECT_TRUE(emitted_whole(m, "aaaaa"));
  EXPECT_THAT(token_strings(m, encode_piece(m, "aaa")), ElementsAre("aa", "a"));
  EXPECT_THAT(token_strings(m, encode_piece(m, "aaaaa")), ElementsAre("aaaaa"));
  // Seven: aa|aa|aa|a, then aaaa|aa|a; "aaaa a" never becomes adjacent.
  EXPECT_THAT(token_strings(m, encode_piece(m, "aaaaaaa")), ElementsAre("aaaa", "aa", "a"));
  // Long pieces take the heap path: 200 = 50 x "aaaa"; 203 = 50 x "aaaa",
  // "aa", "a" (the leftover single "a" is last, as leftmost-first demands).
  const auto aaaa = static_cast<uint32_t>(m.token_id("aaaa"));
  EXPECT_EQ(encode_piece(m, std::string(200, 'a')), std::vector<uint32_t>(50, aaaa));
  auto ids = encode_piece(m, std::string(203, 'a'));
  ASSERT_EQ(ids.size(), 52u);
  EXPECT_EQ(std::vector<uint32_t>(ids.begin(), ids.begin() + 50), std::vector<uint32_t>(50, aaaa));
  EXPECT_EQ(m.token_bytes(ids[50]), "aa");
  EXPECT_EQ(m.token_bytes(ids[51]), "a");
}

TEST(BpeToy, TokenWithManyPartnersFindsEachPairAndOnlyThose) {
  // "m" is the left side of merges with every other letter of "bdfh...z", in
  // scrambled rank order, so the pair lookup searches a long partner list
  // and must find every partner and reject the letters between, before and
  // after them; the reversed pairs ("xm") have no merge at all.
  TempDir dir;
  std::vector<std::pair<std::string, std::string>> merges;
  const std::string partners = "bdfhjlnprtvxz";
  for (size_t i = 0; i < partners.size(); ++i) {
    const size_t k = (i * 5) % partners.size();  // 5 is coprime to 13: a permutation
    merges.push_back({"m", std::string(1, partners[k])});
  }
  auto toy = write_toy(dir, merges);
  auto m = BpeModel::load_gpt2(toy.vocab, toy.merges);
  for (int c = 0; c < 256; ++c) {
    const std::string right(1, char(c));
    const bool merges_with_m = partners.find(char(c)) != std::string::npos;
    if (merges_with_m) {
      EXPECT_THAT(token_strings(m, encode_piece(m, "m" + right)), ElementsAre("m" + right)) << c;
    } else {
      EXPECT_THAT(token_strings(m, encode_piece(m, "m" + right)), ElementsAre("m", right)) << c;
    }
    if (c != 'm') {
      EXPECT_THAT(token_strings(m, encode_piece(m, right + "m")), ElementsAre(right, "m")) << c;
    }
  }
  // Two lookups in one piece: "mb" (rank 0) and "md" (rank 8) both merge.
  EXPECT_THAT(token_strings(m, encode_piece(m, "mbmd")), ElementsAre("mb", "md"));
}

// ------------------------------------------------------------------ GPT-2

class Gpt2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = test::gpt2_dir();
    if (dir.empty()) return;
    model_ = new BpeModel(BpeModel::load_gpt2(dir + "/vocab.json", dir + "/merges.txt"));
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    SP_REQUIRE_FIXTURE(model_, "GPT-2 vocab not found; run third_party/gpt2/fetch_vocab.sh");
  }
  static std::vector<uint32_t> encode(std::string_view text, size_t cache_entries = BpeCache::kDefaultEntries) {
    BpeCache cache(cache_entries);
    std::vector<uint32_t> ids;
    model_->encode(text, ids, cache);
    return ids;
  }
  static const BpeModel& model() { return *model_; }
  static BpeModel* model_;
};
BpeModel* Gpt2::model_ = nullptr;

TEST_F(Gpt2, Shape) {
  EXPECT_EQ(model().vocab_size(), 50257u);
  EXPECT_EQ(model().token_id("<|endoftext|>"), 50256);  // a special: decodable, never made from text
  EXPECT_EQ(model().merge_count(), 50000u);
  const BpeEngine& e = model().engine();
  EXPECT_TRUE(e.ranks_ordered_ && e.one_pair_per_rank_);  // merge_long and merge_runs apply
  EXPECT_EQ(e.merged_is_rank_plus_, 256u);                // GPT-2's merge of rank r is token 256 + r
  for (uint32_t id = 0; id < 50256; ++id) EXPECT_TRUE(emitted_whole(model(), model().token_bytes(id))) << id;
  EXPECT_EQ(model().token_bytes(50256), "<|endoftext|>");
  EXPECT_EQ(model().token_bytes(220), " ");
  EXPECT_EQ(model().token_bytes(198), "\n");
  EXPECT_EQ(model().token_bytes(15496), "Hello");
  EXPECT_EQ(model().token_bytes(995), " world");
}

TEST_F(Gpt2, HandCheckedIds) {
  // Values from tiktoken 1.0.22's gpt2 encode_ordinary.
  EXPECT_THAT(encode("Hello world"), ElementsAre(15496, 995));
  EXPECT_THAT(encode(" "), ElementsAre(220));
  EXPECT_THAT(encode("  "), ElementsAre(220, 220));
  EXPECT_THAT(encode("hello  world"), ElementsAre(31373, 220, 995));
  EXPECT_THAT(encode("I'm"), ElementsAre(40, 1101));
  EXPECT_THAT(encode(" 2024"), ElementsAre(48609));
  EXPECT_THAT(encode("\n\n"), ElementsAre(628));
  EXPECT_THAT(encode("\xF0\x9F\x99\x82"), ElementsAre(8582, 25081));  // U+1F642, two byte-level tokens
  EXPECT_THAT(encode("<|endoftext|>"), ElementsAre(27, 91, 437, 1659, 5239, 91, 29));
  EXPECT_TRUE(encode("").empty());
}

TEST_F(Gpt2, DecodeRejectsOutOfRangeIds) {
  EXPECT_EQ(model().decode(std::vector<uint32_t>{15496, 995, 50256}), "Hello world<|endoftext|>");
  try {
    model().decode(std::vector<uint32_t>{15496, 50257});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("50257"));
  }
}

struct GoldenCase {
  std::string text;
  std::vector<uint32_t> ids;
};

std::vector<GoldenCase> load_golden() {
  const std::string path = std::string(SP_SOURCE_DIR) + "/tests/golden/gpt2_golden.jsonl";
  const std::string data = test::read_file(path);
  std::vector<GoldenCase> cases;
  simdjson::dom::parser parser;
  size_t line_no = 0;
  for (size_t pos = 0; pos < data.size();) {
    size_t eol = data.find('\n', pos);
    if (eol == std::string::npos) eol = data.size();
    simdjson::padded_string line(data.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    simdjson::dom::element doc;
    std::string_view text;
    simdjson::dom::array ids;
    if (parser.parse(line).get(doc) || doc["text"].get_string().get(text) || doc["ids"].get_array().get(ids)) {
      ADD_FAILURE() << path << ":" << line_no << ": bad golden line";
      continue;
    }
    GoldenCase c{std::string(text), {}};
    for (auto id : ids) c.ids.push_back(static_cast<uint32_t>(uint64_t(id.get_uint64())));
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 120)) {
    if (c < 0x20 || c == 0x7F) out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    else out += char(c);
  }
  return s.size() > 120 ? out + "..." : out;
}

// Ids k-2 .. k+3 with their bytes: enough to see where two encodings part.
std::string window(const BpeModel& m, const std::vector<uint32_t>& ids, size_t k) {
  std::string s;
  for (size_t i = k < 2 ? 0 : k - 2; i < ids.size() && i < k + 4; ++i)
    s += std::to_string(ids[i]) + "\"" + escaped(m.token_bytes(ids[i])) + "\" ";
  return s;
}

TEST_F(Gpt2, GoldenTextsMatchTiktokenTokenForToken) {
  const auto cases = load_golden();
  ASSERT_GT(cases.size(), 1000u);
  BpeCache cache;  // one cache across all texts, as a worker thread would
  int failures = 0;
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < cases.size() && failures < 10; ++i) {
    ids.clear();
    model().encode(cases[i].text, ids, cache);
    if (ids != cases[i].ids) {
      ++failures;
      size_t k = 0;
      while (k < ids.size() && k < cases[i].ids.size() && ids[k] == cases[i].ids[k]) ++k;
      ADD_FAILURE() << "golden text #" << i << " \"" << escaped(cases[i].text) << "\": first difference at token "
                    << k << ":\n  got      " << window(model(), ids, k) << "\n  tiktoken " << window(model(), cases[i].ids, k);
    }
  }
}

TEST_F(Gpt2, GoldenTextsRoundTripAndNeverEmitEod) {
  for (const auto& c : load_golden()) {
    auto ids = encode(c.text);
    EXPECT_EQ(model().decode(ids), c.text) << escaped(c.text);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 50256u), 0) << escaped(c.text);
  }
}

TEST_F(Gpt2, CacheSizeDoesNotChangeIds) {
  const auto cases = load_golden();
  BpeCache off(0), one(1), small(8), big;
  std::vector<uint32_t> a, b, c, d;
  for (const auto& gc : cases) {
    model().encode(gc.text, a, off);
    model().encode(gc.text, b, one);
    model().encode(gc.text, c, small);
    model().encode(gc.text, d, big);
    EXPECT_LE(small.size(), 8u);
  }
  EXPECT_EQ(off.size(), 0u);
  EXPECT_GT(big.size(), 1000u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(a, d);
}

// encode_span with a pattern: its window path (and, with caches off, its
// scanner) gives the ids of its pieces, for every pattern, windowed or not.
TEST_F(Gpt2, PatternPathGivesThePatternsPiecesIds) {
  std::vector<std::string> texts;
  for (const auto& gc : load_golden()) texts.push_back(gc.text);
  texts.push_back("It's  12345 caf\xC3\xA9s!!\r\n\n  x\t(y) 'LL\n \n " + std::string(70, ' ') + "end \n ");
  for (int i = 0; i <= static_cast<int>(PretokenPattern::kMegatronV2); ++i) {
    const auto p = static_cast<PretokenPattern>(i);
    BpeCache windowed, scanned, split, off(0);
    for (const std::string& text : texts) {
      const std::vector<std::string_view> pieces = pretokenize(p, text);
      const auto want = model().encode_pieces(pieces, split);
      const std::vector<uint32_t> expected(want.begin(), want.end());
      const auto a = model().encode_span(text, p, windowed);
      EXPECT_EQ(std::vector<uint32_t>(a.begin(), a.end()), expected) << i << " on \"" << text << "\"";
      const auto b = model().encode_span(text, pretoken_end_function(p), scanned);
      EXPECT_EQ(std::vector<uint32_t>(b.begin(), b.end()), expected) << i << " on \"" << text << "\"";
      const auto c = model().encode_span(text, p, off);
      EXPECT_EQ(std::vector<uint32_t>(c.begin(), c.end()), expected) << i << " on \"" << text << "\"";
    }
  }
}

TEST_F(Gpt2, FullMemoKeepsPiecesThatWereReused) {
  // Pieces over 15 bytes skip the front cache, so every lookup reaches the memo.
  BpeCache cache(4);
  std::vector<uint32_t> ids;
  const std::string reused = "Supercalifragilistic", once[] = {"Antidisestablishment", "Floccinaucinihilipil",
                                                                 "Pneumonoultramicrosc", "Hippopotomonstrosesq"};
  model().encode_piece(reused, ids, cache);
  model().encode_piece(reused, ids, cache);  // found again: marked as reused
  for (int i = 0; i < 3; ++i) model().encode_piece(once[i], ids, cache);
  EXPECT_EQ(cache.size(), 4u);
  model().encode_piece(once[3], ids, cache);  // full: compaction keeps only the reused piece
  EXPECT_EQ(cache.size(), 2u);
  ids.clear();
  model().encode_piece(reused, ids, cache);
  EXPECT_EQ(model().decode(ids), reused);
  EXPECT_EQ(cache.size(), 2u);  // still there: found, not stored again
}

TEST_F(Gpt2, EncodeAppendsAndOneCacheSurvivesHugeTexts) {
  // encode() writes through a scratch buffer in the cache that a text over a
  // million bytes makes it give back; texts before and after must not notice,
  // and what `out` held before must stay.
  const auto cases = load_golden();
  std::string huge;
  while (huge.size() <= (size_t{1} << 21))
    for (const auto& gc : cases) huge += gc.text + "\n";
  BpeCache cache;
  std::vector<uint32_t> out = {1, 2, 3}, expected = {1, 2, 3};
  for (const std::string* text : std::initializer_list<const std::string*>{&cases[0].text, &huge, &cases[1].text,
                                                                            &huge, &cases[2].text}) {
    model().encode(*text, out, cache);
    const auto fresh = encode(*text);
    expected.insert(expected.end(), fresh.begin(), fresh.end());
    ASSERT_EQ(out, expected);
  }
}

TEST_F(Gpt2, RandomUtf8RoundTrips) {
  std::mt19937 rng(12345);
  BpeCache cache;
  for (int t = 0; t < 500; ++t) {
    std::string text;
    int n = std::uniform_int_distribution<int>(1, 200)(rng);
    for (int i = 0; i < n; ++i) {
      char32_t cp;
      switch (rng() % 4) {
        case 0: cp = rng() % 0x80; break;                  // ASCII, controls included
        case 1: cp = rng() % 0x800; break;                 // 2-byte
        case 2: cp = rng() % 0x10000; break;               // BMP
        default: cp = rng() % 0x110000; break;             // any plane
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;       // no surrogates in UTF-8
      text += utf8(cp);
    }
    std::vector<uint32_t> ids;
    model().encode(text, ids, cache);
    ASSERT_EQ(model().decode(ids), text) << "random text #" << t;
  }
}

// GPT-2's encoder.py bpe(), on byte strings: find the lowest-ranked adjacent
// pair, merge every occurrence of it left to right, repeat. A different
// algorithm from the library's (one merge at a time), read from merges.txt by
// the test itself.
class ReferenceBpe {
 public:
  explicit ReferenceBpe(const std::string& merges_path) {
    std::map<std::string, uint8_t> byte_of;  // unicode-ized character -> byte
    for (int b = 0; b < 256; ++b) byte_of[utf8(gpt2_byte_to_codepoint(uint8_t(b)))] = uint8_t(b);
    auto raw = [&](std::string_view s) {
      std::string out;
      for (size_t i = 0; i < s.size();) {
        size_t len = (uint8_t(s[i]) < 0x80) ? 1 : 2;
        out += char(byte_of.at(std::string(s.substr(i, len))));
        i += len;
      }
      return out;
    };
    std::string text = test::read_file(merges_path);
    size_t rank = 0;
    for (size_t pos = text.find('\n') + 1; pos < text.size();) {
      size_t eol = text.find('\n', pos);
      std::string_view line(text.data() + pos, eol - pos);
      pos = eol + 1;
      if (line.empty()) continue;
      size_t sp = line.find(' ');
      ranks_[key(raw(line.substr(0, sp)), raw(line.substr(sp + 1)))] = rank++;
    }
  }
  std::vector<std::string> bpe(std::string_view piece) const {
    std::vector<std::string> word;
    for (char c : piece) word.emplace_back(1, c);
    while (word.size() > 1) {
      size_t best = SIZE_MAX;
      std::string first, second;
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        auto it = ranks_.find(key(word[i], word[i + 1]));
        if (it != ranks_.end() && it->second < best) best = it->second, first = word[i], second = word[i + 1];
      }
      if (best == SIZE_MAX) break;
      std::vector<std::string> next;
      for (size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
          next.push_back(first + second);
          i += 2;
        } else {
          next.push_back(std::move(word[i]));
          i += 1;
        }
      }
      word = std::move(next);
    }
    return word;
  }

 private:
  static std::string key(const std::string& a, const std::string& b) {
    return std::to_string(a.size()) + ":" + a + b;
  }
  std::unordered_map<std::string, size_t> ranks_;
};

std::vector<uint32_t> reference_encode(const BpeModel& m, const ReferenceBpe& ref, std::string_view text) {
  std::vector<uint32_t> ids;
  for (std::string_view piece : gpt2_pretokenize(text))
    for (const auto& tok : ref.bpe(piece)) {
      int64_t id = m.token_id(tok);
      EXPECT_GE(id, 0) << "reference produced a non-token";
      ids.push_back(uint32_t(id));
    }
  return ids;
}

TEST_F(Gpt2, RandomPiecesMatchReferenceOnBothMergePaths) {
  // Lengths straddle the short/long threshold (64 bytes), so both the stack
  // scan and the heap are compared with encoder.py's algorithm.
  ReferenceBpe ref(test::gpt2_dir() + "/merges.txt");
  std::mt19937 rng(7);
  const std::string alphabet = "aabeeehinorsttu  \n0123!.,'";
  for (int t = 0; t < 400; ++t) {
    size_t n = std::uniform_int_distribution<size_t>(2, 300)(rng);
    std::string piece;
    for (size_t i = 0; i < n; ++i)
      piece += (t % 4 == 3) ? char(rng() % 256) : alphabet[rng() % alphabet.size()];
    std::vector<uint32_t> want;
    for (const auto& tok : ref.bpe(piece)) want.push_back(uint32_t(model().token_id(tok)));
    ASSERT_EQ(encode_piece(model(), piece), want) << "piece #" << t << " \"" << escaped(piece) << "\"";
  }
}

TEST_F(Gpt2, FrontCacheHitsAndCollisionsMatchReference) {
  // Short pieces (tokens and merged pieces of 1 to 4+ ids) repeated so that
  // the front cache hits, through caches whose front tables are 1, 2, 64 and
  // kFrontEntries slots, so slots are overwritten constantly; every id list
  // must match encoder.py's algorithm and the uncached encoder.
  ReferenceBpe ref(test::gpt2_dir() + "/merges.txt");
  std::mt19937 rng(99);
  const std::string alphabet = "aabeeehinorsttu  \n0123!.,'";
  std::vector<std::string> pieces;
  for (int t = 0; t < 600; ++t) {
    size_t n = std::uniform_int_distribution<size_t>(2, 20)(rng);
    std::string piece;
    for (size_t i = 0; i < n; ++i)
      piece += (t % 5 == 4) ? char(rng() % 256) : alphabet[rng() % alphabet.size()];
    pieces.push_back(piece);
  }
  for (const char* word : {" the", " and", "ing", " international", " Hello", "zzzz", "ab", "abb", "abbb", "  ", "   ", "\xe4\xb8\xad\xe6\x96\x87"})
    pieces.push_back(word);
  std::vector<std::vector<uint32_t>> want;
  for (const auto& piece : pieces) {
    want.emplace_back();
    for (const auto& tok : ref.bpe(piece)) want.back().push_back(uint32_t(model().token_id(tok)));
  }
  BpeCache off(0), one(1), two(2), small(64), big;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < pieces.size(); ++i) {
      // Alternate directions so that neighbours in the table evict each other both ways.
      const size_t k = round % 2 ? pieces.size() - 1 - i : i;
      for (BpeCache* cache : {&off, &one, &two, &small, &big}) {
        std::vector<uint32_t> got;
        model().encode_piece(pieces[k], got, *cache);
        ASSERT_EQ(got, want[k]) << "round " << round << " piece \"" << escaped(pieces[k]) << "\"";
      }
    }
  }
}

TEST_F(Gpt2, MemoAtFullLoadAndCacheHitsAppendExactIds) {
  // Caches of every small size fill their memo to max_entries (3/4 of the
  // table for the larger ones) and clear it, and must never loop or change
  // ids; cache hits copy a fixed number of ids into slack room, so appends
  // after existing ids must leave exactly the piece's ids and nothing else.
  // The last two pieces have more ids than the front cache holds, so the memo
  // answers them from its side array.
  const std::vector<std::string> pieces = {"zzzz", " internationalization", "abbb", " the", "qxqxqx",
                                           "\xe4\xb8\xad\xe6\x96\x87", "ab", "!!!!", "xyzzy", " Hello",
                                           "\xe2\x98\x83\xe2\x98\x84\xe2\x98\x87",
                                           "\xe2\x98\x83\xe2\x98\x84\xe2\x98\x87\xe2\x98\x88\xe2\x98\x89\xe2\x98\x8a"};
  std::vector<std::vector<uint32_t>> want;
  for (const auto& piece : pieces) want.push_back(encode_piece(model(), piece));
  EXPECT_GT(want[want.size() - 2].size(), BpeScratch::kFrontIds);
  EXPECT_GT(want.back().size(), 2 * BpeScratch::kFrontIds);
  std::string text;
  std::vector<uint32_t> text_want;
  for (int r = 0; r < 50; ++r)
    for (size_t i = 0; i < pieces.size(); ++i) {
      text += pieces[i];
      text += ' ';
    }
  BpeCache off(0);
  model().encode(text, text_want, off);
  for (size_t entries : {1, 2, 3, 4, 5, 6, 7, 12, 13, 96, 97}) {
    BpeCache cache(entries);
    for (int round = 0; round < 4; ++round) {
      for (size_t i = 0; i < pieces.size(); ++i) {
        std::vector<uint32_t> got = {7, 8, 9};
        model().encode_piece(pieces[i], got, cache);
        ASSERT_EQ(got.size(), 3 + want[i].size()) << entries << " \"" << escaped(pieces[i]) << "\"";
        EXPECT_EQ(std::vector<uint32_t>(got.begin(), got.begin() + 3), (std::vector<uint32_t>{7, 8, 9}));
        EXPECT_EQ(std::vector<uint32_t>(got.begin() + 3, got.end()), want[i]) << entries;
        EXPECT_LE(cache.size(), entries);
      }
      std::vector<uint32_t> got = {1};
      model().encode(text, got, cache);
      ASSERT_EQ(got.size(), 1 + text_want.size()) << entries;
      EXPECT_EQ(std::vector<uint32_t>(got.begin() + 1, got.end()), text_want) << entries;
    }
  }
}

TEST_F(Gpt2, MegabyteRunsMatchReference) {
  // One pre-token each: a run of a letter, a digit, punctuation, spaces at the
  // end of text, newlines, a two-letter pattern, a 2-byte letter.
  ReferenceBpe ref(test::gpt2_dir() + "/merges.txt");
  const size_t mb = size_t{1} << 20;
  std::string ab;
  for (size_t i = 0; i < mb / 2; ++i) ab += "ab";
  std::string e_acute;
  for (size_t i = 0; i < mb / 2; ++i) e_acute += "\xC3\xA9";
  for (const std::string& text : {std::string(mb, 'a'), std::string(mb, '7'), std::string(mb, '!'),
                                  std::string(mb, ' '), std::string(mb, '\n'), ab, e_acute,
                                  std::string(mb, 'x') + "y"}) {
    auto ids = encode(text);
    EXPECT_EQ(model().decode(ids), text);
    EXPECT_EQ(ids, reference_encode(model(), ref, text)) << "run of \"" << escaped(text.substr(0, 4)) << "\"";
  }
}

// Long pieces that are runs of equal bytes take the run-length merge
// (merge_runs); these pin it to encoder.py's algorithm on every printable
// ASCII byte and the common whitespace, at every length up to 300 and at a few
// large ones, with cache and without.
TEST_F(Gpt2, RunsOfEveryAsciiByteMatchReference) {
  ReferenceBpe ref(test::gpt2_dir() + "/merges.txt");
  std::string bytes = "\n\t ";
  for (char c = 0x21; c < 0x7F; ++c) bytes += c;
  BpeCache cache;
  auto want = [&](std::string_view piece) {
    std::vector<uint32_t> ids;
    for (const auto& tok : ref.bpe(piece)) ids.push_back(uint32_t(model().token_id(tok)));
    return ids;
  };
  for (char c : bytes) {
    for (size_t n = 1; n <= 300; ++n) {
      const std::string piece(n, c);
      std::vector<uint32_t> ids;
      model().encode_piece(piece, ids, cache);
      ASSERT_EQ(ids, want(piece)) << n << " x \"" << escaped(std::string(1, c)) << "\"";
      ASSERT_EQ(encode_piece(model(), piece), ids) << n << " x \"" << escaped(std::string(1, c)) << "\" without cache";
    }
    for (size_t n : {4095, 4096, 65537}) {
      const std::string piece(n, c);
      ASSERT_EQ(encode_piece(model(), piece), want(piece)) << n << " x \"" << escaped(std::string(1, c)) << "\"";
    }
  }
  for (char c : {' ', '\t', 'Z', '0', '~'}) {
    const std::string piece(size_t{1} << 20, c);
    auto ids = encode_piece(model(), piece);
    EXPECT_EQ(model().decode(ids), piece);
    EXPECT_EQ(ids, want(piece)) << "1 MiB of \"" << escaped(std::string(1, c)) << "\"";
  }
}

TEST_F(Gpt2, RunsBeforeAnotherCharacterMatchReference) {
  // Through encode(): a run then a different character is two pieces or one
  // (" " * n + "x" is n - 1 spaces, then " x"; "!" * n + "?" is one piece).
  ReferenceBpe ref(test::gpt2_dir() + "/merges.txt");
  for (size_t n : {1, 2, 3, 15, 16, 17, 63, 64, 65, 66, 100, 127, 128, 129, 255, 256, 257, 1000, 4097, 100000})
    for (const char* tail : {"x", "y", "7", "!?", "\n", " \n", "é"})
      for (char c : {' ', '\n', '\t', 'a', 'x', '7', '!', '-', '='}) {
        const std::string text = std::string(n, c) + tail;
        ASSERT_EQ(encode(text), reference_encode(model(), ref, text))
            << n << " x \"" << escaped(std::string(1, c)) << "\" + \"" << escaped(tail) << "\"";
      }
}

TEST_F(Gpt2, PiecesOfFewLongRunsMatchReference) {
  // Random pieces of a few long runs (the run-length path) and of many short
  // ones (the bucket path), including runs that merge across boundaries.
  ReferenceBpe ref(test::gpt2_dir() + "/merges.txt");
  std::mt19937 rng(99);
  const std::string alphabet = "aaeeinst  \n\n0-=!*.";
  for (int t = 0; t < 300; ++t) {
    std::string piece;
    const size_t runs = std::uniform_int_distribution<size_t>(1, 12)(rng);
    const size_t max_len = t % 3 == 0 ? 20 : 400;
    for (size_t r = 0; r < runs; ++r)
      piece += std::string(std::uniform_int_distribution<size_t>(1, max_len)(rng), alphabet[rng() % alphabet.size()]);
    std::vector<uint32_t> want;
    for (const auto& tok : ref.bpe(piece)) want.push_back(uint32_t(model().token_id(tok)));
    ASSERT_EQ(encode_piece(model(), piece), want) << "piece #" << t << " \"" << escaped(piece) << "\"";
  }
}

}  // namespace
}  // namespace sp
