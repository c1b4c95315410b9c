// The native SentencePiece unigram encoder (src/sentencepiece_unigram.h)
// against libsentencepiece's EncodeAsIds: random strings over an alphabet of
// normalizer edge cases (space runs, tabs, NBSP, U+3000, fullwidth forms,
// ligatures, circled digits, half-width katakana, combining marks, Hangul,
// CJK, emoji, characters outside the vocabulary) and every golden document,
// through the nmt_nfkc fixture and through unigram models trained here with
// each normalizer and trainer option the encoder reproduces; and the models
// it must leave to the library.
#include "sentencepiece_unigram.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <vector>

#include "sentencepiece_proto.h"
#include "sp/tokenizer.h"
#include "sentencepiece_testing.h"
#include "test_support.h"

namespace sp {
namespace {

using Loaded = test::LoadedSentencePiece;
using test::load_sentencepiece;

// Random text of 0..200 characters, each drawn from fragments that exercise
// the charsmap (NFKC folds, space-like characters), the whitespace rules and
// unknown characters.
std::string random_text(std::mt19937& rng) {
  static const char* const kAlphabet[] = {
      " ", " ", " ", " ", "  ", "   ", "\t", "\n", "\r", "\r\n", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\x83",
      "a", "b", "e", "t", "s", "n", "T", "Z", "q", "x", "the", "ing", "tion", ".", ",", "!", "?", "'", "\"", "-",
      "0", "1", "7", "42", "\xEF\xBC\xA1", "\xEF\xBD\x81", "\xEF\xBC\x91", "\xEF\xBC\x9F",  // Ａ ａ １ ？
      "\xEF\xAC\x81", "\xEF\xAC\x80", "\xE2\x91\xA0", "\xE2\x85\xA2", "\xC2\xBD", "\xC2\xB2",  // ﬁ ﬀ ① Ⅲ ½ ²
      "\xEF\xBD\xB6", "\xEF\xBE\x9E", "\xEF\xBD\xB1", "\xEF\xBE\x8A\xEF\xBE\x9F",              // ｶ ﾞ ｱ ﾊﾟ
      "\xCC\x81", "\xCC\x88", "e\xCC\x81", "\xC3\xA9", "A\xCC\x8A", "\xE2\x84\xAB",           // combining, Å
      "\xED\x95\x9C", "\xEA\xB5\xAD", "\xE1\x84\x80\xE1\x85\xA1",                             // 한 국 jamo
      "\xE6\x9D\xB1", "\xE4\xBA\xAC", "\xE4\xB8\xAD", "\xE9\xBE\x98", "\xE3\x81\x93", "\xE3\x82\xA2",
      "\xD0\x9F", "\xD1\x80", "\xCE\xB1", "\xD7\x90", "\xD8\xB9", "\xE0\xA4\xB9",
      "\xF0\x9F\x99\x82", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xE2\x80\x8D", "\xE2\x80\x8B", "\xEF\xBB\xBF",
      "\xEF\xBF\xBD", "\xE2\x96\x81", "\xE2\x96\x81\xE2\x96\x81", "\xF0\x90\x8D\x88", "\xF0\x9D\x90\x80",
      "\x01", "\x7F", "\xC2\x85", "\xE2\x80\xA8", "<unk>", "<s>", "<tag>", "<ta", "g>", "ab", "x y",
      "\xE2\x80\x9C", "\xE2\x80\xA6", "\xE3\x8D\xBF"};
  constexpr size_t kCount = sizeof kAlphabet / sizeof kAlphabet[0];
  std::string text;
  const size_t chars = std::uniform_int_distribution<size_t>(0, 200)(rng);
  for (size_t i = 0; i < chars; ++i) text += kAlphabet[std::uniform_int_distribution<size_t>(0, kCount - 1)(rng)];
  return text;
}

std::vector<std::string> random_texts(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> texts = {"", " ", "   ", "a", " a", "a ", "  a  b  ", "\xE2\x96\x81", " \xE2\x96\x81 ",
                                    "\xC2\xA0", "\xC2\xA0x\xC2\xA0", "\xE3\x80\x80\xE3\x80\x80", "\t\n",
                                    "\xEF\xAC\x81"};
  for (size_t i = 0; i < n; ++i) texts.push_back(random_text(rng));
  return texts;
}

// The "text" of every line of every tests/golden/*.jsonl.
std::vector<std::string> golden_texts() {
  std::vector<std::string> texts;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SP_SOURCE_DIR) + "/tests/golden")) {
    if (entry.path().extension() != ".jsonl") continue;
    simdjson::dom::parser parser;
    simdjson::dom::document_stream stream;
    const auto json = simdjson::padded_string(test::read_file(entry.path().string()));
    EXPECT_FALSE(parser.parse_many(json).get(stream)) << entry.path();
    for (auto doc : stream) {
      std::string_view text;
      if (!doc["text"].get_string().get(text)) texts.emplace_back(text);
    }
  }
  return texts;
}

std::string fixture_path() { return test::tokenizers_dir() + "/spm/unigram_nfkc.model"; }

TEST(SentencePieceUnigram, NfkcFixtureIsNativeAndExactOnRandomAndGoldenText) {
  const std::string models = test::tokenizers_dir();
  const std::string path = fixture_path();
  SP_REQUIRE_FIXTURE(!models.empty() && test::file_exists(path),
                     "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  Loaded m;
  load_sentencepiece(path, m);
  EXPECT_FALSE(m.spec.precompiled_charsmap.empty()) << "the fixture is an nmt_nfkc model";
  std::string why;
  const auto native = SentencePieceUnigram::build(m.spec, path, &why);
  ASSERT_TRUE(native) << why;
  EXPECT_EQ(test::texts_differing(m, *native, random_texts(30000, 1)), 0u);
  const std::vector<std::string> golden = golden_texts();
  EXPECT_GT(golden.size(), 5000u);
  EXPECT_EQ(test::texts_differing(m, *native, golden), 0u);
  // Through the tokenizer too: the native path, with no note.
  for (const char* type : {"SentencePieceTokenizer", "GPTSentencePieceTokenizer", "Llama2Tokenizer"}) {
    TokenizerOptions o;
    o.type = type;
    o.model = path;
    const TextTokenizer t = load_tokenizer(o);
    EXPECT_TRUE(t.notes.empty()) << type;
    const auto encode = t.make_encoder();
    const std::string text = " Ｈｅｌｌｏ  ﬁne ①\xC2\xA0world \xF0\x9F\x99\x82 ";
    const std::vector<int> want = m.library.EncodeAsIds(text);
    const auto got = encode(text);
    EXPECT_EQ(std::vector<uint32_t>(got.begin(), got.end()), std::vector<uint32_t>(want.begin(), want.end()));
  }
}

// Unigram models trained here, one per option the native encoder reproduces.
class TrainedUnigram : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = new test::TempDir;
    const std::string base = "--input=" + std::string(SP_SOURCE_DIR) +
                             "/tests/data/spm_train.txt --vocab_size=1200 --num_threads=1 --minloglevel=2 "
                             "--model_type=unigram --character_coverage=0.995 ";
    const std::string identity = "--normalization_rule_name=identity ";
    const std::vector<std::pair<const char*, std::string>> models = {
        {"identity", identity + "--byte_fallback=true"},
        {"unk", identity + "--remove_extra_whitespaces=false --add_dummy_prefix=false"},
        {"suffix", identity + "--byte_fallback=true --treat_whitespace_as_suffix=true --split_digits=true"},
        {"nfkc_cf", "--normalization_rule_name=nmt_nfkc_cf"},
        {"nfkc_bytes", "--normalization_rule_name=nmt_nfkc --byte_fallback=true --remove_extra_whitespaces=false"},
        {"user", "--user_defined_symbols=<tag>,ab,\xE6\x9D\xB1\xE4\xBA\xAC,\xE2\x96\x81x,\xEF\xBC\xA1"}};
    test::train_sentencepiece_models(base, dir->path(), models);
  }
  static void TearDownTestSuite() {
    delete dir;
    dir = nullptr;
  }
  static test::TempDir* dir;
};
test::TempDir* TrainedUnigram::dir = nullptr;

TEST_F(TrainedUnigram, EachSupportedOptionIsExact) {
  const std::vector<std::string> golden = golden_texts();
  for (const char* name : {"identity", "unk", "suffix", "nfkc_cf", "nfkc_bytes", "user"}) {
    SCOPED_TRACE(name);
    Loaded m;
    load_sentencepiece(*dir / (std::string(name) + ".model"), m);
    EXPECT_EQ(m.spec.model_type, 1);
    std::string why;
    const auto native = SentencePieceUnigram::build(m.spec, name, &why);
    ASSERT_TRUE(native) << why;
    EXPECT_EQ(test::texts_differing(m, *native, random_texts(6000, 7)), 0u);
    EXPECT_EQ(test::texts_differing(m, *native, golden), 0u);
  }
}

TEST_F(TrainedUnigram, OptionsReachTheEncoder) {
  Loaded m;
  load_sentencepiece(*dir / "identity.model", m);
  EXPECT_TRUE(m.spec.precompiled_charsmap.empty());
  EXPECT_TRUE(m.spec.byte_fallback);
  load_sentencepiece(*dir / "unk.model", m);
  EXPECT_FALSE(m.spec.add_dummy_prefix);
  EXPECT_FALSE(m.spec.remove_extra_whitespaces);
  load_sentencepiece(*dir / "suffix.model", m);
  EXPECT_TRUE(m.spec.treat_whitespace_as_suffix);
  load_sentencepiece(*dir / "nfkc_bytes.model", m);
  EXPECT_FALSE(m.spec.precompiled_charsmap.empty());
  EXPECT_TRUE(m.spec.byte_fallback);
}

TEST_F(TrainedUnigram, UnknownRunsFuseOrBecomeBytes) {
  // Characters no piece covers: one fused <unk> without byte fallback, their
  // UTF-8 bytes with it.
  const std::string unseen = "\xE9\xBE\x98\xE9\xBE\x98\xF0\x9F\x99\x82";  // 龘龘🙂
  Loaded m;
  load_sentencepiece(*dir / "unk.model", m);
  std::string why;
  auto native = SentencePieceUnigram::build(m.spec, "unk", &why);
  ASSERT_TRUE(native) << why;
  SentencePieceUnigram::Scratch scratch;
  auto ids = native->encode(unseen, scratch);
  EXPECT_EQ(std::vector<uint32_t>(ids.begin(), ids.end()),
            std::vector<uint32_t>{static_cast<uint32_t>(m.library.unk_id())});
  load_sentencepiece(*dir / "identity.model", m);
  native = SentencePieceUnigram::build(m.spec, "identity", &why);
  ASSERT_TRUE(native) << why;
  ids = native->encode(unseen, scratch);
  const std::vector<int> want = m.library.EncodeAsIds(unseen);
  EXPECT_EQ(std::vector<uint32_t>(ids.begin(), ids.end()), std::vector<uint32_t>(want.begin(), want.end()));
  EXPECT_GE(ids.size(), 10u) << "ten bytes, after the ▁";
}

TEST_F(TrainedUnigram, UserDefinedPiecesPassTheNormalizerAndWin) {
  Loaded m;
  load_sentencepiece(*dir / "user.model", m);
  std::string why;
  const auto native = SentencePieceUnigram::build(m.spec, "user", &why);
  ASSERT_TRUE(native) << why;
  SentencePieceUnigram::Scratch scratch;
  // "Ａ" is a user-defined piece: NFKC would fold it to "A", the matcher keeps it.
  size_t user_pieces = 0;
  for (const auto& p : m.spec.pieces) user_pieces += p.type == SentencePieceModelSpec::PieceType::kUserDefined;
  EXPECT_EQ(user_pieces, 5u);
  for (const std::string text : {"a<tag>b<tag><tag>ab", "\xEF\xBC\xA1\xEF\xBC\xA1", "x y \xE2\x96\x81x x"}) {
    const std::vector<int> want = m.library.EncodeAsIds(text);
    const auto got = native->encode(text, scratch);
    EXPECT_EQ(std::vector<uint32_t>(got.begin(), got.end()), std::vector<uint32_t>(want.begin(), want.end())) << text;
  }
  const auto ids = native->encode("a<tag>b<tag><tag>", scratch);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), static_cast<uint32_t>(m.library.PieceToId("<tag>"))), 3);
}

// The serialized model with escape_whitespaces off: a second normalizer_spec
// (field 3) holding only escape_whitespaces (field 5) = 0, which protobuf merges.
std::string unescaped(const std::string& proto) { return proto + std::string("\x1A\x02\x28\x00", 4); }

TEST_F(TrainedUnigram, OthersStayWithTheLibraryWithANote) {
  Loaded m;
  load_sentencepiece(*dir / "identity.model", m);
  const std::string path = *dir / "unescaped.model";
  test::write_file(path, unescaped(m.library.serialized_model_proto()));
  sentencepiece::SentencePieceProcessor library;
  ASSERT_TRUE(library.Load(path).ok());
  std::string why;
  EXPECT_FALSE(SentencePieceUnigram::build(parse_sentencepiece_model(library.serialized_model_proto(), path), path,
                                           &why));
  EXPECT_NE(why.find("escape_whitespaces"), std::string::npos) << why;
  TokenizerOptions o;
  o.type = "SentencePieceTokenizer";
  o.model = path;
  const TextTokenizer t = load_tokenizer(o);
  ASSERT_EQ(t.notes.size(), 1u);
  EXPECT_NE(t.notes[0].find("escape_whitespaces"), std::string::npos) << t.notes[0];
  const auto encode = t.make_encoder();
  const std::vector<int> want = library.EncodeAsIds("A <tag>  full width ");
  const auto got = encode("A <tag>  full width ");
  EXPECT_EQ(std::vector<uint32_t>(got.begin(), got.end()), std::vector<uint32_t>(want.begin(), want.end()));
  // A BPE model, unused pieces and a broken charsmap are refused too.
  load_sentencepiece(*dir / "nfkc_cf.model", m);
  SentencePieceModelSpec spec = m.spec;
  spec.model_type = 2;
  EXPECT_FALSE(SentencePieceUnigram::build(spec, "bpe", &why));
  EXPECT_NE(why.find("unigram"), std::string::npos) << why;
  spec = m.spec;
  spec.precompiled_charsmap.resize(3);
  EXPECT_FALSE(SentencePieceUnigram::build(spec, "broken", &why));
  EXPECT_NE(why.find("charsmap"), std::string::npos) << why;
  spec = m.spec;
  spec.pieces.back().type = SentencePieceModelSpec::PieceType::kUnused;
  EXPECT_FALSE(SentencePieceUnigram::build(spec, "unused", &why));
  EXPECT_NE(why.find("unused"), std::string::npos) << why;
}

}  // namespace
}  // namespace sp
