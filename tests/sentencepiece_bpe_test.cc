// The native SentencePiece BPE encoder (src/sentencepiece_bpe.h) against
// libsentencepiece's EncodeAsIds: tens of thousands of random strings (mixed
// scripts, runs of spaces, digits, characters outside the vocabulary for byte
// fallback, emoji, literal ▁, leading and trailing spaces, empty) through the
// Llama-2-like fixture and through models trained here with each normalizer
// and trainer option the encoder reproduces; and the models it must leave to
// the library.
#include "sentencepiece_bpe.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "sentencepiece_proto.h"
#include "sp/error.h"
#include "sp/tokenizer.h"
#include "sentencepiece_testing.h"
#include "test_support.h"

namespace sp {
namespace {

using Loaded = test::LoadedSentencePiece;
using test::load_sentencepiece;

// Random text from fragments chosen to hit every normalizer and merge edge.
std::string random_text(std::mt19937& rng) {
  static const char* const kFragments[] = {
      " ", " ", " ", "  ", "   ", "the", "The", " quick", "brown", "fox", "jumps", "over", "lazy", "dog", "ing",
      "tion", "a", "e", "s", ".", ",", "!", "?", "'s", "\"", "(", ")", "-", "_", "/", ":", ";", "\n", "\n\n", "\t",
      "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "12345", "2024", "3.14", "caf\xC3\xA9", "na\xC3\xAFve",
      "\xC3\x9C", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",  // Привет
      "\xCE\x95\xCE\xBB\xCE\xBB\xCE\xAC\xCE\xB4\xCE\xB1",              // Ελλάδα
      "\xE6\x9D\xB1\xE4\xBA\xAC", "\xE4\xB8\xAD\xE6\x96\x87",          // 東京 中文
      "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF",  // こんにちは
      "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",                          // 한국어
      "\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82\xE0\xA4\xA6\xE0\xA5\x80",  // हिंदी
      "\xF0\x9F\x99\x82", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xE2\x80\x8D", "\xEF\xBF\xBD", "\xC2\xA0",
      "\xE2\x96\x81", "\xE2\x96\x81\xE2\x96\x81", "\xE2\x96\x82", "<s>", "</s>", "<unk>", "<0x41>", "\x01", "\x7F",
      "\xF0\x90\x8D\x88", "\xE1\x88\xB4", "x", "q", "Z", "<tag>", "<ta", "g>", "<tag>>"};
  constexpr size_t kCount = sizeof kFragments / sizeof kFragments[0];
  std::string text;
  const size_t parts = std::uniform_int_distribution<size_t>(0, 40)(rng);
  for (size_t i = 0; i < parts; ++i) text += kFragments[std::uniform_int_distribution<size_t>(0, kCount - 1)(rng)];
  return text;
}

// Native and library ids on `n` random strings and a few fixed ones; returns
// the number of strings that differ (the first few reported).
size_t compare(const Loaded& m, const SentencePieceBpe& native, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> texts = {"", " ", "   ", "a", " a", "a ", "  a  b  ", "\xE2\x96\x81", " \xE2\x96\x81 ",
                                    "x\xE2\x96\x81", "1 2  3", "\xF0\x9F\x99\x82\xF0\x9F\x99\x82"};
  for (size_t i = 0; i < n; ++i) texts.push_back(random_text(rng));
  return test::texts_differing(m, native, texts);
}

TEST(SentencePieceBpe, FixtureIsNativeAndExactOnRandomText) {
  const std::string models = test::tokenizers_dir();
  const std::string path = models + "/spm/bpe_bytefallback.model";
  SP_REQUIRE_FIXTURE(!models.empty() && test::file_exists(path),
                     "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  Loaded m;
  load_sentencepiece(path, m);
  std::string why;
  const auto native = SentencePieceBpe::build(m.spec, path, &why);
  ASSERT_TRUE(native) << why;
  EXPECT_TRUE(native->cuts_pieces()) << "the Llama-2-like vocabulary allows cuts at ▁ runs and digits";
  EXPECT_EQ(compare(m, *native, 30000, 1), 0u);
  // Through the tokenizer too: the native path, with no note.
  TokenizerOptions o;
  o.type = "Llama2Tokenizer";
  o.model = path;
  const TextTokenizer t = load_tokenizer(o);
  EXPECT_TRUE(t.notes.empty());
  const auto encode = t.make_encoder();
  const std::vector<int> want = m.library.EncodeAsIds(" Hello  world 42 \xF0\x9F\x99\x82 ");
  const auto got = encode(" Hello  world 42 \xF0\x9F\x99\x82 ");
  EXPECT_EQ(std::vector<uint32_t>(got.begin(), got.end()), std::vector<uint32_t>(want.begin(), want.end()));
}

// Models trained here, one per option the native encoder reproduces.
class TrainedModels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = new test::TempDir;
    const std::string base = "--input=" + std::string(SP_SOURCE_DIR) +
                             "/tests/data/spm_train.txt --vocab_size=1500 --num_threads=1 --minloglevel=2 "
                             "--model_type=bpe --character_coverage=0.995 ";
    const std::string identity = "--normalization_rule_name=identity ";
    const std::vector<std::pair<const char*, std::string>> models = {
        {"extra_ws", identity + "--byte_fallback=true --split_digits=true"},
        {"unk", identity + "--byte_fallback=false --remove_extra_whitespaces=false --add_dummy_prefix=false"},
        {"suffix", identity + "--byte_fallback=true --treat_whitespace_as_suffix=true --split_digits=true"},
        {"unsplit", identity + "--byte_fallback=true --split_by_whitespace=false --remove_extra_whitespaces=false"},
        {"nfkc", "--byte_fallback=true --normalization_rule_name=nmt_nfkc"},
        {"user", identity + "--byte_fallback=true --user_defined_symbols=<tag>"}};
    // Code-like text with runs of spaces, so that the trainer makes pieces of ▁ runs.
    std::string code = test::read_file(std::string(SP_SOURCE_DIR) + "/tests/data/spm_train.txt");
    for (int i = 0; i < 3000; ++i)
      code += std::string(static_cast<size_t>(i % 17), ' ') + "if (x" + std::to_string(i % 7) + ") return;\n";
    test::write_file(*dir / "code.txt", code);
    test::train_sentencepiece_model("--input=" + *dir / "code.txt" +
                                        " --vocab_size=1500 --num_threads=1 --minloglevel=2 --model_type=bpe "
                                        "--character_coverage=0.995 " + identity +
                                        "--byte_fallback=true --split_digits=true --remove_extra_whitespaces=false "
                                        "--allow_whitespace_only_pieces=true",
                                    *dir / "runs");
    if (::testing::Test::HasFatalFailure()) return;
    test::train_sentencepiece_models(base, dir->path(), models);
  }
  static void TearDownTestSuite() {
    delete dir;
    dir = nullptr;
  }
  static test::TempDir* dir;
};
test::TempDir* TrainedModels::dir = nullptr;

TEST_F(TrainedModels, EachSupportedOptionIsExact) {
  for (const char* name : {"extra_ws", "unk", "suffix", "unsplit", "user"}) {
    SCOPED_TRACE(name);
    Loaded m;
    load_sentencepiece(*dir / (std::string(name) + ".model"), m);
    std::string why;
    const auto native = SentencePieceBpe::build(m.spec, name, &why);
    ASSERT_TRUE(native) << why;
    EXPECT_EQ(compare(m, *native, 5000, 7), 0u);
  }
}

// The serialized model with the score of every piece of two or more ▁ set to
// `score` (Llama-2 and Mistral give them all -1e9), patched in place: a
// float is four bytes whatever its value.
std::string with_run_scores(std::string proto, float score) {
  auto varint = [&](size_t& at) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const auto b = static_cast<uint8_t>(proto[at++]);
      v |= uint64_t{b & 0x7Fu} << shift;
      if (b < 0x80) return v;
    }
  };
  for (size_t at = 0; at < proto.size();) {
    const uint64_t key = varint(at);
    const uint32_t wire = key & 7;
    if (wire == 0) {
      varint(at);
      continue;
    }
    if (wire == 5) {
      at += 4;
      continue;
    }
    if (wire == 1) {
      at += 8;
      continue;
    }
    const size_t len = varint(at), end = at + len;
    if ((key >> 3) == 1) {  // a piece: text (field 1), score (field 2, fixed32)
      std::string text;
      size_t score_at = 0;
      for (size_t p = at; p < end;) {
        const uint64_t k = varint(p);
        if ((k & 7) == 2) {
          const size_t l = varint(p);
          if ((k >> 3) == 1) text = proto.substr(p, l);
          p += l;
        } else if ((k & 7) == 5) {
          if ((k >> 3) == 2) score_at = p;
          p += 4;
        } else {
          varint(p);
        }
      }
      bool run = text.size() >= 6 && score_at != 0;
      for (size_t i = 0; run && i < text.size(); i += 3) run = text.compare(i, 3, "\xE2\x96\x81") == 0;
      if (run) std::memcpy(proto.data() + score_at, &score, 4);
    }
    at = end;
  }
  return proto;
}

TEST_F(TrainedModels, TiedScoresOfRunsAreLeftmostFirst) {
  sentencepiece::SentencePieceProcessor trained;
  ASSERT_TRUE(trained.Load(*dir / "runs.model").ok());
  Loaded m;
  ASSERT_TRUE(m.library.LoadFromSerializedProto(with_run_scores(trained.serialized_model_proto(), -1e9f)).ok());
  m.spec = parse_sentencepiece_model(m.library.serialized_model_proto(), "runs");
  size_t runs = 0;
  for (const auto& p : m.spec.pieces) runs += p.score == -1e9f;
  ASSERT_GE(runs, 3u) << "the trainer made too few ▁ runs to tie";
  std::string why;
  const auto native = SentencePieceBpe::build(m.spec, "runs", &why);
  ASSERT_TRUE(native) << why;
  EXPECT_EQ(compare(m, *native, 5000, 11), 0u);
  std::mt19937 rng(5);
  SentencePieceBpe::Scratch scratch;
  size_t wrong = 0;
  for (size_t n = 0; n < 200; ++n) {  // long runs take the tie phase's general path
    const std::string text = std::string(n, ' ') + "x" + std::string(n % 90, ' ') + "y" + std::string(n / 2, ' ');
    const std::vector<int> want = m.library.EncodeAsIds(text);
    const auto got = native->encode(text, scratch);
    if (std::vector<uint32_t>(got.begin(), got.end()) != std::vector<uint32_t>(want.begin(), want.end()) &&
        ++wrong <= 3)
      ADD_FAILURE() << "run of " << n;
  }
  EXPECT_EQ(wrong, 0u);
  // A tie between pieces that are not runs of one character stays with the library.
  for (auto& p : m.spec.pieces)
    if (p.text == "if") p.score = -1e9f;
  EXPECT_FALSE(SentencePieceBpe::build(m.spec, "runs", &why));
  EXPECT_NE(why.find("same score"), std::string::npos) << why;
}

TEST_F(TrainedModels, UserDefinedPiecesAreMatchedWholeUnlessTheyHoldASpace) {
  Loaded m;
  load_sentencepiece(*dir / "user.model", m);
  std::string why;
  const auto native = SentencePieceBpe::build(m.spec, "user", &why);
  ASSERT_TRUE(native) << why;
  SentencePieceBpe::Scratch scratch;
  const int tag = m.library.PieceToId("<tag>");
  const auto ids = native->encode("a<tag>b<tag><tag>", scratch);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), static_cast<uint32_t>(tag)), 3);
  for (SentencePieceModelSpec::Piece& p : m.spec.pieces)
    if (p.type == SentencePieceModelSpec::PieceType::kUserDefined) p.text = "<t g>";
  EXPECT_FALSE(SentencePieceBpe::build(m.spec, "user", &why));
  EXPECT_NE(why.find("space"), std::string::npos) << why;
}

TEST_F(TrainedModels, OptionsReachTheEncoder) {
  Loaded m;
  load_sentencepiece(*dir / "extra_ws.model", m);
  EXPECT_TRUE(m.spec.remove_extra_whitespaces);
  EXPECT_TRUE(m.spec.byte_fallback);
  load_sentencepiece(*dir / "unk.model", m);
  EXPECT_FALSE(m.spec.add_dummy_prefix);
  EXPECT_FALSE(m.spec.byte_fallback);
  load_sentencepiece(*dir / "suffix.model", m);
  EXPECT_TRUE(m.spec.treat_whitespace_as_suffix);
  EXPECT_EQ(m.spec.model_type, 2);
  EXPECT_EQ(m.spec.normalizer_name, "identity");
}

TEST_F(TrainedModels, OthersStayWithTheLibraryWithANote) {
  const std::string models = test::tokenizers_dir();
  if (!models.empty() && test::file_exists(models + "/spm/unigram_nfkc.model")) {
    // Not BPE's to encode (sentencepiece_unigram.h takes it).
    Loaded m;
    load_sentencepiece(models + "/spm/unigram_nfkc.model", m);
    std::string why;
    EXPECT_FALSE(SentencePieceBpe::build(m.spec, "unigram", &why));
    EXPECT_NE(why.find("unigram"), std::string::npos) << why;
  }
  for (const auto& [path, reason] : {std::pair<std::string, std::string>{*dir / "nfkc.model", "charsmap"}}) {
    Loaded m;
    load_sentencepiece(path, m);
    std::string why;
    EXPECT_FALSE(SentencePieceBpe::build(m.spec, path, &why)) << path;
    EXPECT_NE(why.find(reason), std::string::npos) << why;
    TokenizerOptions o;
    o.type = "SentencePieceTokenizer";
    o.model = path;
    const TextTokenizer t = load_tokenizer(o);
    ASSERT_EQ(t.notes.size(), 1u) << path;
    EXPECT_NE(t.notes[0].find("libsentencepiece"), std::string::npos) << t.notes[0];
    const auto encode = t.make_encoder();
    const std::vector<int> want = m.library.EncodeAsIds("A <tag> ｆｕｌｌ width");
    const auto got = encode("A <tag> ｆｕｌｌ width");
    EXPECT_EQ(std::vector<uint32_t>(got.begin(), got.end()), std::vector<uint32_t>(want.begin(), want.end()));
  }
}

TEST(SentencePieceProto, MalformedBytesAreInputErrors) {
  EXPECT_THROW(parse_sentencepiece_model("\x0A\x05" "ab", "m"), InputError);  // field longer than the message
  EXPECT_THROW(parse_sentencepiece_model("\x08\xFF", "m"), InputError);         // truncated varint
  EXPECT_THROW(parse_sentencepiece_model("\x0B", "m"), InputError);             // group wire type
  const SentencePieceModelSpec empty = parse_sentencepiece_model("", "m");
  EXPECT_EQ(empty.model_type, 1);  // proto defaults
  EXPECT_TRUE(empty.add_dummy_prefix && empty.remove_extra_whitespaces && empty.escape_whitespaces);
  // An unknown field is listed, not guessed at; later training-only fields are not unknown.
  EXPECT_EQ(parse_sentencepiece_model("\x30\x01", "m").unknown_fields, std::vector<std::string>{"ModelProto.6"});
  EXPECT_EQ(parse_sentencepiece_model(std::string_view("\x12\x03\xAA\x03\x00", 5), "m").unknown_fields,  // 53 = ""
            std::vector<std::string>{});
  EXPECT_EQ(parse_sentencepiece_model("\x12\x03\xB8\x03\x01", "m").unknown_fields,  // TrainerSpec 55 = 1
            std::vector<std::string>{"TrainerSpec.55"});
}

}  // namespace
}  // namespace sp
