// SentencePieceTokenizer, GPTSentencePieceTokenizer, Llama2Tokenizer: the
// three names encode as Megatron-LM's main branch does (EncodeAsIds, no BOS or
// EOS added; eod = the model's </s>; vocab_size = its piece count), the EOD
// overrides, bad model files, thread safety, and the goldens of Python's
// sentencepiece on a BPE (byte fallback) and a unigram (NFKC) model.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <chrono>
#include <thread>
#include <vector>

#include "sp/error.h"
#include "sp/tokenizer.h"
#include "test_support.h"

namespace sp {
namespace {

constexpr const char* kTypes[] = {"SentencePieceTokenizer", "GPTSentencePieceTokenizer", "Llama2Tokenizer"};

std::vector<uint32_t> ids(const TextTokenizer::Encode& encode, std::string_view text) {
  const auto span = encode(text);
  return {span.begin(), span.end()};
}

// Small models trained once per test binary on a few kilobytes of text (a
// fraction of a second): one with </s>, one without.
class SentencePiece : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = new test::TempDir;
    std::string text;
    const char* lines[] = {"The quick brown fox jumps over the lazy dog.", "Pack my box with five dozen liquor jugs!",
                           "Sphinx of black quartz, judge my vow 12345.", "Ünïcödé text: naïve café, 東京, Ελλάδα."};
    for (int i = 0; i < 40; ++i) text += std::string(lines[i % 4]) + " " + std::to_string(i * 37) + "\n";
    test::write_file(*dir / "train.txt", text);
    for (const auto& [name, extra] : {std::pair{"bpe", "--model_type=bpe --byte_fallback=true"},
                                      std::pair{"noeos", "--model_type=unigram --eos_id=-1"}}) {
      const auto status = sentencepiece::SentencePieceTrainer::Train(
          "--input=" + *dir / "train.txt" + " --model_prefix=" + *dir / name +
          " --vocab_size=400 --num_threads=1 --minloglevel=2 --hard_vocab_limit=false " + extra);
      ASSERT_TRUE(status.ok()) << status.ToString();
    }
  }
  static void TearDownTestSuite() {
    delete dir;
    dir = nullptr;
  }
  static TokenizerOptions options(const std::string& type, const std::string& model) {
    TokenizerOptions o;
    o.type = type;
    o.model = model;
    return o;
  }
  static test::TempDir* dir;
};
test::TempDir* SentencePiece::dir = nullptr;

TEST_F(SentencePiece, AllThreeTypesAreEncodeAsIdsWithEosAsEod) {
  sentencepiece::SentencePieceProcessor reference;
  ASSERT_TRUE(reference.Load(*dir / "bpe.model").ok());
  ASSERT_EQ(reference.bos_id(), 1);
  ASSERT_EQ(reference.eos_id(), 2);
  for (const char* type : kTypes) {
    const TextTokenizer t = load_tokenizer(options(type, *dir / "bpe.model"));
    EXPECT_EQ(t.name, type);
    EXPECT_EQ(t.vocab_size, static_cast<uint64_t>(reference.GetPieceSize())) << type;
    EXPECT_EQ(t.eod_id, 2u) << type;
    // Trained with the default nmt_nfkc normalizer: libsentencepiece encodes it, and the note says so.
    ASSERT_EQ(t.notes.size(), 1u) << type;
    EXPECT_NE(t.notes[0].find("libsentencepiece"), std::string::npos) << t.notes[0];
    const auto encode = t.make_encoder();
    for (const char* text : {"The quick brown fox", "  spaces  around  ", "東京 and 🙂 (byte fallback)", "", "</s><s>"}) {
      const std::vector<int> want = reference.EncodeAsIds(text);
      const auto got = ids(encode, text);
      EXPECT_EQ(got, std::vector<uint32_t>(want.begin(), want.end())) << type << ": " << text;
      if (!got.empty()) {
        EXPECT_NE(got.front(), 1u) << type << ": Megatron's main branch adds no BOS";
      }
    }
  }
}

TEST_F(SentencePiece, VocabSizeChangesNothing) {
  // Megatron passes --vocab-size to TikTokenizer only; scripts give it for every type.
  auto o = options("Llama2Tokenizer", *dir / "bpe.model");
  const TextTokenizer plain = load_tokenizer(o);
  o.vocab_size = 32000;
  const TextTokenizer with = load_tokenizer(o);
  EXPECT_EQ(with.vocab_size, plain.vocab_size);
  EXPECT_EQ(with.identity, plain.identity);
}

TEST_F(SentencePiece, IdentityNamesTheTypeAndTheModel) {
  const auto a = load_tokenizer(options("Llama2Tokenizer", *dir / "bpe.model")).identity;
  EXPECT_NE(a, load_tokenizer(options("GPTSentencePieceTokenizer", *dir / "bpe.model")).identity);
  auto noeos = options("Llama2Tokenizer", *dir / "noeos.model");
  noeos.eod_id = 0;
  EXPECT_NE(a, load_tokenizer(noeos).identity);
}

TEST_F(SentencePiece, EodOverrides) {
  auto o = options("GPTSentencePieceTokenizer", *dir / "bpe.model");
  o.eod_token = "<s>";
  EXPECT_EQ(load_tokenizer(o).eod_id, 1u);
  o.eod_token = "no such piece";
  EXPECT_THROW(load_tokenizer(o), UsageError);
  o.eod_token.reset();
  o.eod_id = 5;
  EXPECT_EQ(load_tokenizer(o).eod_id, 5u);
  o.eod_id = 100000;
  EXPECT_THROW(load_tokenizer(o), UsageError);
}

TEST_F(SentencePiece, ModelWithoutEosNeedsAnEod) {
  try {
    load_tokenizer(options("SentencePieceTokenizer", *dir / "noeos.model"));
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no end-of-sentence piece"), std::string::npos) << e.what();
  }
  auto o = options("SentencePieceTokenizer", *dir / "noeos.model");
  o.eod_id = 0;
  EXPECT_EQ(load_tokenizer(o).eod_id, 0u);
}

TEST_F(SentencePiece, BadModelFilesAreInputErrors) {
  test::write_file(*dir / "junk.model", "this is not a protobuf");
  for (const std::string& path : {*dir / "junk.model", *dir / "missing.model", dir->path()}) {
    try {
      load_tokenizer(options("Llama2Tokenizer", path));
      ADD_FAILURE() << path << ": no error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.file, path);
    }
  }
}

TEST_F(SentencePiece, EncodersRunInParallel) {
  const TextTokenizer t = load_tokenizer(options("SentencePieceTokenizer", *dir / "bpe.model"));
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) texts.push_back("Pack my box " + std::to_string(i * 7919) + " with jugs, Ελλάδα " +
                                                std::string(static_cast<size_t>(i % 13), 'x'));
  std::vector<std::vector<uint32_t>> want;
  const auto encode = t.make_encoder();
  for (const auto& text : texts) want.push_back(ids(encode, text));
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      const auto mine = t.make_encoder();
      for (int round = 0; round < 5; ++round)
        for (size_t i = 0; i < texts.size(); ++i) wrong[k] += ids(mine, texts[i]) != want[i];
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

// The library's encoders on 256 KB pieces of one character, of spaces, of
// CJK without spaces: bounded time (a quadratic encoder would take minutes).
TEST(SentencePieceModels, PathologicalPiecesTakeBoundedTime) {
  const std::string models = test::tokenizers_dir();
  SP_REQUIRE_FIXTURE(!models.empty() && test::file_exists(models + "/spm/bpe_bytefallback.model"),
                     "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  std::string cjk;
  while (cjk.size() < (size_t{1} << 18)) cjk += "\xE4\xB8\xAD";
  const auto start = std::chrono::steady_clock::now();
  for (const char* model : {"bpe_bytefallback.model", "unigram_nfkc.model"}) {
    TokenizerOptions o;
    o.type = "SentencePieceTokenizer";
    o.model = models + "/spm/" + model;
    const TextTokenizer t = load_tokenizer(o);
    const auto encode = t.make_encoder();
    for (const std::string& text : {std::string(size_t{1} << 18, 'a'), std::string(size_t{1} << 18, ' ') + "x", cjk})
      EXPECT_FALSE(ids(encode, text).empty()) << model;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 60.0);
}

// Python's sentencepiece (tests/golden/tok_spm_*.jsonl) on the trained
// models of third_party/tokenizers/train_spm.sh.
class SentencePieceGolden : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(SentencePieceGolden, EqualsPythonEncodeAsIds) {
  const std::string models = test::tokenizers_dir();
  const std::string model = models + "/spm/" + GetParam().second;
  SP_REQUIRE_FIXTURE(!models.empty() && test::file_exists(model),
                     "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  const auto lines =
      test::read_golden(std::string(SP_SOURCE_DIR) + "/tests/golden/tok_" + GetParam().first + ".jsonl");
  ASSERT_GT(lines.size(), 800u);
  for (const char* type : kTypes) {
    TokenizerOptions o;
    o.type = type;
    o.model = model;
    const TextTokenizer t = load_tokenizer(o);
    // Both are encoded natively: the BPE model (identity normalizer) and the unigram one (nmt_nfkc).
    EXPECT_TRUE(t.notes.empty()) << type;
    const auto encode = t.make_encoder();
    size_t wrong = 0;
    for (size_t i = 0; i < lines.size(); ++i)
      if (ids(encode, lines[i].text) != lines[i].ids && ++wrong <= 5)
        ADD_FAILURE() << type << " line " << i + 1 << ": " << lines[i].text.substr(0, 80);
    EXPECT_EQ(wrong, 0u) << type;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, SentencePieceGolden,
                         ::testing::Values(std::pair{"spm_bpe", "bpe_bytefallback.model"},
                                           std::pair{"spm_unigram", "unigram_nfkc.model"}),
                         [](const auto& info) { return std::string(info.param.first).substr(4); });

}  // namespace
}  // namespace sp
