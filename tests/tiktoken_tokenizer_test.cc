// TikTokenizer: tiktoken's merge rule on small hand-made rank files, both
// file formats with every malformation refused by file and line, Megatron's
// special tokens / id shift / vocabulary size / EOD, the split rule chosen by
// --tiktoken-pattern, and the golden ids of cl100k_base, o200k_base (tiktoken's
// encode_ordinary) and Megatron's TikTokenizer over cl100k.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "sp/error.h"
#include "sp/tokenizer.h"
#include "test_support.h"

namespace sp {
namespace {

// The 256 bytes as ranks 0..255, then `extra` in rank order from 256.
std::vector<std::string> with_bytes(const std::vector<std::string>& extra) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  tokens.insert(tokens.end(), extra.begin(), extra.end());
  return tokens;
}

std::string tiktoken_file(const std::vector<std::string>& tokens) {
  std::string out;
  for (size_t r = 0; r < tokens.size(); ++r) out += test::base64(tokens[r]) + " " + std::to_string(r) + "\n";
  return out;
}

std::string megatron_json(const std::vector<std::string>& tokens) {
  std::string out = "[";
  for (size_t r = 0; r < tokens.size(); ++r)
    out += std::string(r ? ",\n" : "") + "{\"rank\": " + std::to_string(r) + ", \"token_bytes\": \"" +
           test::base64(tokens[r]) + "\", \"token_str\": \"\"}";
  return out + "]";
}

// Merges of the hand-made vocabulary (ranks after the bytes): "ab" < "bc" <
// "abc" < "aa" < "xb", and "pqr" whose halves are not tokens.
const std::vector<std::string> kSmall = {"ab", "bc", "abc", "aa", "xb", "pqr", " ab"};
constexpr uint32_t kAb = 256, kBc = 257, kAbc = 258, kAa = 259, kPqr = 261, kSpaceAb = 262;

class TikToken : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    test::write_file(dir / name, content);
    return dir / name;
  }
  TextTokenizer load(const std::string& path, const std::string& pattern = "gpt2") {
    TokenizerOptions o;
    o.type = "TikTokenizer";
    o.model = path;
    o.tiktoken_pattern = pattern;
    return load_tokenizer(o);
  }
  static std::vector<uint32_t> ids(const TextTokenizer::Encode& encode, std::string_view text) {
    const auto span = encode(text);
    return {span.begin(), span.end()};
  }
  static std::vector<uint32_t> ids(const TextTokenizer& t, std::string_view text) {
    return ids(t.make_encoder(), text);
  }
  std::string input_error(const TokenizerOptions& o) {
    try {
      load_tokenizer(o);
    } catch (const InputError& e) {
      return e.what();
    } catch (const Error& e) {
      return std::string("(not an InputError) ") + e.what();
    }
    return "(no error)";
  }
  std::string input_error(const std::string& path, const std::string& pattern = "gpt2") {
    TokenizerOptions o;
    o.type = "TikTokenizer";
    o.model = path;
    o.tiktoken_pattern = pattern;
    return input_error(o);
  }
  test::TempDir dir;
};

TEST_F(TikToken, LowestRankMergesFirstLeftmostOnTiesWholePieceIsItsToken) {
  const TextTokenizer t = load(write("small.tiktoken", tiktoken_file(with_bytes(kSmall))));
  EXPECT_EQ(ids(t, "abc"), std::vector<uint32_t>{kAbc});           // a whole piece that is a token
  EXPECT_EQ(ids(t, "abcd"), (std::vector<uint32_t>{kAbc, 'd'}));   // ab first (lowest), then ab+c
  EXPECT_EQ(ids(t, "xbc"), (std::vector<uint32_t>{'x', kBc}));     // bc (257) before xb (260)
  EXPECT_EQ(ids(t, "aaaa"), (std::vector<uint32_t>{kAa, kAa}));    // leftmost of equal ranks
  EXPECT_EQ(ids(t, "aaa"), (std::vector<uint32_t>{kAa, 'a'}));
  EXPECT_EQ(ids(t, "pqr"), std::vector<uint32_t>{kPqr});           // reachable only as a whole piece
  EXPECT_EQ(ids(t, "pqrs"), (std::vector<uint32_t>{'p', 'q', 'r', 's'}));
  EXPECT_EQ(ids(t, "ab ab"), (std::vector<uint32_t>{kAb, kSpaceAb}));  // GPT-2 pieces "ab", " ab"
  // No specials by default for .tiktoken files: Megatron's names are text.
  EXPECT_EQ(ids(t, "<s>").size(), 3u);
  EXPECT_EQ(t.vocab_size, 264u);  // 263 ranks, then <|endoftext|>
  EXPECT_EQ(t.eod_id, 263u);
  ASSERT_EQ(t.notes.size(), 1u) << "the EOD of an unknown encoding is stated";
  EXPECT_NE(t.notes[0].find("<|endoftext|> is id 263"), std::string::npos) << t.notes[0];
}

TEST_F(TikToken, RanksMayHaveGaps) {
  // Ranks 0..255, then 258 and 260 (p50k_base skips 50256, its <|endoftext|>).
  std::string file = tiktoken_file(with_bytes({}));
  file += test::base64("ab") + " 258\n" + test::base64("abc") + " 260\n";
  const TextTokenizer t = load(write("gaps.tiktoken", file));
  EXPECT_EQ(ids(t, "abc"), std::vector<uint32_t>{260});
  EXPECT_EQ(ids(t, "abcab"), (std::vector<uint32_t>{260, 258}));
  EXPECT_EQ(t.eod_id, 261u);
  EXPECT_EQ(t.vocab_size, 262u);
}

TEST_F(TikToken, TiktokenFileErrorsNameFileAndLine) {
  auto lines = tiktoken_file(with_bytes({"ab"}));
  EXPECT_NE(input_error(write("b64.tiktoken", lines + "YW$j 257\n")).find("b64.tiktoken:258: the token is not base64"),
            std::string::npos);
  EXPECT_NE(input_error(write("pad.tiktoken", lines + "YWJj= 257\n")).find(":258: the token is not base64"),
            std::string::npos);
  EXPECT_NE(input_error(write("rank.tiktoken", lines + test::base64("xy") + " 256\n"))
                .find(":258: rank 256 given twice"),
            std::string::npos);
  EXPECT_NE(input_error(write("dup.tiktoken", lines + test::base64("ab") + " 300\n")).find(":258: token given twice"),
            std::string::npos);
  EXPECT_NE(input_error(write("num.tiktoken", lines + test::base64("xy") + " 2x\n"))
                .find(":258: the rank is not a number"),
            std::string::npos);
  EXPECT_NE(input_error(write("shape.tiktoken", lines + test::base64("xy") + "\n"))
                .find(":258: expected 'base64 rank'"),
            std::string::npos);
  EXPECT_NE(input_error(write("empty.tiktoken", "\n\n")).find("empty.tiktoken: no tokens"), std::string::npos);
  // Every byte must be a token (byte-level BPE): byte 'z' dropped.
  auto tokens = with_bytes({"ab"});
  tokens['z'] = "zz";
  const std::string missing = input_error(write("missing.tiktoken", tiktoken_file(tokens)));
  EXPECT_NE(missing.find("missing.tiktoken"), std::string::npos) << missing;
  EXPECT_EQ(missing.find("(not an InputError)"), std::string::npos) << missing;
  EXPECT_EQ(missing.find("(no error)"), std::string::npos) << missing;
}

TEST_F(TikToken, UnknownEncodingNeedsAPatternAndKnownOnesAreRecognized) {
  TokenizerOptions o;
  o.type = "TikTokenizer";
  o.model = write("small.tiktoken", tiktoken_file(with_bytes(kSmall)));
  try {
    load_tokenizer(o);
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("give --tiktoken-pattern"), std::string::npos) << e.what();
  }
  o.tiktoken_pattern = "(unclosed";
  try {
    load_tokenizer(o);
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--tiktoken-pattern"), std::string::npos) << e.what();
  }
  o.tiktoken_pattern = "v1";
  o.tiktoken_num_special_tokens = 3;
  EXPECT_THROW(load_tokenizer(o), UsageError) << "Megatron's 7 special tokens need at least 7 ids";
}

TEST_F(TikToken, OtherRegexesRunThroughPcre2AndDropTextBetweenMatches) {
  const TextTokenizer t = load(write("small.tiktoken", tiktoken_file(with_bytes(kSmall))), "[a-c]+|[ ]");
  ASSERT_FALSE(t.notes.empty());
  EXPECT_NE(t.notes[0].find("the slower path"), std::string::npos) << t.notes[0];
  // tiktoken encodes the matches only: "!" and "x" match nothing and are dropped.
  EXPECT_EQ(ids(t, "ab!x abc"), (std::vector<uint32_t>{kAb, ' ', kAbc}));
  // A regex the scanners know is not the slow path.
  EXPECT_TRUE(load(dir / "small.tiktoken", "v2").notes.size() == 1);  // only the EOD note
}

class MegatronJson : public TikToken {
 protected:
  TokenizerOptions options(const std::string& path, uint64_t vocab_size) {
    TokenizerOptions o;
    o.type = "TikTokenizer";
    o.model = path;
    o.vocab_size = vocab_size;
    return o;
  }
};

TEST_F(MegatronJson, IdsShiftedPastSpecialTokensWhichTextCanName) {
  const std::string path = write("small.json", megatron_json(with_bytes(kSmall)));
  const TextTokenizer t = load_tokenizer(options(path, 1000 + 263));
  EXPECT_EQ(t.vocab_size, 1263u);
  EXPECT_EQ(t.eod_id, 2u);  // </s>
  EXPECT_TRUE(t.notes.empty());
  EXPECT_EQ(ids(t, "abcd"), (std::vector<uint32_t>{1000 + kAbc, 1000 + 'd'}));
  // Special tokens in the text are those tokens (encode(..., allowed_special="all")).
  EXPECT_EQ(ids(t, "<s>ab</s>"), (std::vector<uint32_t>{1, 1000 + kAb, 2}));
  EXPECT_EQ(ids(t, "<unk><mask><pad><cls><sep>"), (std::vector<uint32_t>{0, 3, 4, 5, 6}));
  EXPECT_EQ(ids(t, "x<SPECIAL_7><SPECIAL_999>"), (std::vector<uint32_t>{1000 + 'x', 7, 999}));
  // Not special: past the last, leading zeros, Megatron's first seven by number, unclosed.
  for (const char* text : {"<SPECIAL_1000>", "<SPECIAL_07>", "<SPECIAL_2>", "<SPECIAL_7", "<s", "< s>"}) {
    const auto got = ids(t, text);
    for (uint32_t id : got) EXPECT_GE(id, 1000u) << text;
  }
  // Text between specials is pre-tokenized on its own: " ab" after </s> is one piece.
  EXPECT_EQ(ids(t, "ab</s> ab"), (std::vector<uint32_t>{1000 + kAb, 2, 1000 + kSpaceAb}));
  EXPECT_EQ(ids(t, ""), std::vector<uint32_t>{});
  EXPECT_EQ(ids(t, "</s>"), std::vector<uint32_t>{2});
}

TEST_F(MegatronJson, VocabSizeCutsTheListAndMustBeCovered) {
  const std::string path = write("small.json", megatron_json(with_bytes(kSmall)));
  // Cut to the first 257 ranks: "abc" is no longer a token.
  const TextTokenizer cut = load_tokenizer(options(path, 1000 + 257));
  EXPECT_EQ(cut.vocab_size, 1257u);
  EXPECT_EQ(ids(cut, "abc"), (std::vector<uint32_t>{1000 + kAb, 1000 + 'c'}));
  // Megatron's default 131072 needs 130072 ranks.
  TokenizerOptions o = options(path, 0);
  o.vocab_size.reset();
  const std::string e = input_error(o);
  EXPECT_NE(e.find("has 263 tokens"), std::string::npos) << e;
  EXPECT_NE(e.find("give --vocab-size 1263"), std::string::npos) << e;
  // Fewer special tokens shift less.
  o = options(path, 10 + 263);
  o.tiktoken_num_special_tokens = 10;
  const TextTokenizer ten = load_tokenizer(o);
  EXPECT_EQ(ids(ten, "abc<SPECIAL_9><SPECIAL_10>")[0], 10 + kAbc);
  EXPECT_EQ(ids(ten, "abc<SPECIAL_9>")[1], 9u);
  EXPECT_GE(ids(ten, "<SPECIAL_10>")[0], 10u);
  EXPECT_NE(ten.identity, load_tokenizer(options(path, 1263)).identity);
}

TEST_F(MegatronJson, MalformedListsAreRefused) {
  auto tokens = with_bytes(kSmall);
  std::string bad = megatron_json(tokens);
  bad.replace(bad.find("\"rank\": 257,"), 12, "\"rank\": 258,");
  EXPECT_NE(input_error(options(write("rank.json", bad), 1263)).find("entry 257: rank 258 is not its position"),
            std::string::npos);
  std::swap(tokens[3], tokens[4]);
  EXPECT_NE(input_error(options(write("bytes.json", megatron_json(tokens)), 1263))
                .find("entry 3: the first 256 tokens must be the bytes"),
            std::string::npos);
  tokens = with_bytes({"ab", "ab"});
  EXPECT_NE(input_error(options(write("dup.json", megatron_json(tokens)), 1258)).find("token given twice"),
            std::string::npos);
  EXPECT_NE(input_error(options(write("obj.json", "{\"config\": {}, \"vocab\": []}"), 1258))
                .find("is a list of"),
            std::string::npos);
  EXPECT_NE(input_error(options(write("keys.json", "[{\"rank\": 0, \"token_bytes\": \"AA==\"}]"), 1001))
                .find("entry 0: expected exactly the keys"),
            std::string::npos);
  const std::string short_b64 = "[{\"rank\": 0, \"token_bytes\": \"A\", \"token_str\": \"\"}]";
  EXPECT_NE(input_error(options(write("b64.json", short_b64), 1001))
                .find("entry 0: \"token_bytes\" is not base64"),
            std::string::npos);
  EXPECT_NE(input_error(options(write("nojson.json", "[{\"rank\": 0,"), 1001)).find("not JSON"), std::string::npos);
}

// The goldens: every line of tests/golden/tok_<name>.jsonl.
class TikTokenGolden : public TikToken {
 protected:
  void SetUp() override {
    models = test::tokenizers_dir();
    SP_REQUIRE_FIXTURE(!models.empty() && test::file_exists(models + "/tiktoken/cl100k_base.tiktoken"),
                       "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  }
  static std::vector<test::GoldenLine> golden(const std::string& name) {
    return test::read_golden(std::string(SP_SOURCE_DIR) + "/tests/golden/tok_" + name + ".jsonl");
  }
  // Compares every golden line, in two threads at once (encoders are per thread).
  static void expect_golden(const TextTokenizer& t, const std::vector<test::GoldenLine>& lines) {
    ASSERT_GT(lines.size(), 800u);
    std::vector<size_t> wrong[2];
    std::vector<std::thread> threads;
    for (size_t k = 0; k < 2; ++k)
      threads.emplace_back([&, k] {
        const auto encode = t.make_encoder();
        for (size_t i = k; i < lines.size(); i += 2)
          if (ids(encode, lines[i].text) != lines[i].ids) wrong[k].push_back(i);
      });
    for (auto& th : threads) th.join();
    for (const auto& w : wrong)
      for (size_t i : w) ADD_FAILURE() << "line " << i + 1 << ": " << lines[i].text.substr(0, 80);
  }
  std::string models;
};

TEST_F(TikTokenGolden, Cl100kIsEncodeOrdinary) {
  TokenizerOptions o;
  o.type = "TikTokenizer";
  o.model = models + "/tiktoken/cl100k_base.tiktoken";
  const TextTokenizer t = load_tokenizer(o);
  EXPECT_EQ(t.eod_id, 100257u);
  EXPECT_EQ(t.vocab_size, 100277u);
  EXPECT_TRUE(t.notes.empty());
  expect_golden(t, golden("cl100k"));
  EXPECT_EQ(ids(t, "<|endoftext|>").size(), 7u) << "encode_ordinary: the special token's text is text";
}

// tiktoken's own byte_pair_encode is quadratic in a piece's length; the
// engine must not be: 256 KB single pieces of each kind, through the real
// vocabulary whose merges are not ordered (the heap loop), in bounded time.
TEST_F(TikTokenGolden, PathologicalPiecesTakeNearLinearTime) {
  TokenizerOptions o;
  o.type = "TikTokenizer";
  o.model = models + "/tiktoken/o200k_base.tiktoken";
  const TextTokenizer t = load_tokenizer(o);
  std::string cjk;
  while (cjk.size() < (size_t{1} << 18)) cjk += "\xE4\xB8\xAD";
  std::string ab;
  while (ab.size() < (size_t{1} << 18)) ab += "ab";
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& text : {std::string(size_t{1} << 18, 'a'), std::string(size_t{1} << 18, ' '),
                                  std::string(size_t{1} << 18, '7'), cjk, ab}) {
    const auto encode = t.make_encoder();
    const auto first = ids(encode, text);
    EXPECT_FALSE(first.empty());
    EXPECT_LT(first.size(), text.size() / 2) << "runs merge";
    EXPECT_EQ(ids(t.make_encoder(), text), first);
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 60.0);
}

TEST_F(TikTokenGolden, O200kIsEncodeOrdinary) {
  TokenizerOptions o;
  o.type = "TikTokenizer";
  o.model = models + "/tiktoken/o200k_base.tiktoken";
  const TextTokenizer t = load_tokenizer(o);
  EXPECT_EQ(t.eod_id, 199999u);
  EXPECT_EQ(t.vocab_size, 200019u);
  expect_golden(t, golden("o200k"));
}

// Megatron's TikTokenizer over cl100k (convert_tiktoken.py's JSON) with 1000
// special tokens. The oracle encoded special-token text as text
// (encode_ordinary); Megatron's main branch encodes with
// allowed_special="all", so a line naming one of its special tokens must be
// the encodings of the text around them (lines without any match the oracle)
// with the special tokens' ids in between.
std::optional<std::pair<uint32_t, size_t>> special_token_at(const std::string& text, size_t pos) {
  static const char* kNames[] = {"<unk>", "<s>", "</s>", "<mask>", "<pad>", "<cls>", "<sep>"};
  if (text[pos] != '<') return std::nullopt;
  for (uint32_t id = 0; id < 7; ++id)
    if (text.compare(pos, std::strlen(kNames[id]), kNames[id]) == 0) return std::pair{id, std::strlen(kNames[id])};
  // "<SPECIAL_{id}>" for 7 <= id < 1000: read the number, then compare the whole name as Python formats it.
  uint32_t id = 0;
  for (size_t i = pos + 9; i < text.size() && i < pos + 12 && std::isdigit(static_cast<unsigned char>(text[i])); ++i)
    id = id * 10 + (text[i] - '0');
  const std::string name = "<SPECIAL_" + std::to_string(id) + ">";
  if (id >= 7 && id < 1000 && text.compare(pos, name.size(), name) == 0) return std::pair{id, name.size()};
  return std::nullopt;
}

void expect_megatron_golden(const TextTokenizer& t, const std::vector<test::GoldenLine>& lines) {
  ASSERT_GT(lines.size(), 800u);
  const auto encode = t.make_encoder();
  const auto ids_of = [&](const std::string& text) {
    const auto span = encode(text);
    return std::vector<uint32_t>(span.begin(), span.end());
  };
  size_t with_specials = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& text = lines[i].text;
    std::vector<uint32_t> want;
    size_t from = 0;
    for (size_t pos = 0; pos < text.size(); ++pos)
      if (const auto special = special_token_at(text, pos)) {
        const auto part = ids_of(text.substr(from, pos - from));
        want.insert(want.end(), part.begin(), part.end());
        want.push_back(special->first);
        from = pos + special->second;
        pos = from - 1;
      }
    if (from == 0) {
      EXPECT_EQ(ids_of(text), lines[i].ids) << "line " << i + 1 << ": " << text.substr(0, 80);
      continue;
    }
    ++with_specials;
    const auto rest = ids_of(text.substr(from));
    want.insert(want.end(), rest.begin(), rest.end());
    EXPECT_EQ(ids_of(text), want) << "line " << i + 1 << ": " << text.substr(0, 80);
  }
  EXPECT_GT(with_specials, 0u) << "the corpus names special tokens";
}

TEST_F(TikTokenGolden, MegatronCl100kV1AndV2) {
  for (const char* pattern : {"v1", "v2"}) {
    TokenizerOptions o;
    o.type = "TikTokenizer";
    o.model = models + "/tiktoken/cl100k_megatron.json";
    o.tiktoken_pattern = pattern;
    o.vocab_size = 100256 + 1000;
    const TextTokenizer t = load_tokenizer(o);
    EXPECT_EQ(t.eod_id, 2u);
    EXPECT_EQ(t.vocab_size, 101256u);
    expect_megatron_golden(t, golden(std::string("megatron_cl100k_") + pattern));
  }
}

}  // namespace
}  // namespace sp
