// load_tokenizer: the flag combinations it refuses, the dispatch by type, the
// EOD overrides, and GPT2BPETokenizer exactly as before (ids, EOD, defaults).
#include "sp/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "sp/bpe.h"
#include "sp/error.h"
#include "test_support.h"

namespace sp {
namespace {

TokenizerOptions typed(const std::string& type, const std::string& model = "") {
  TokenizerOptions o;
  o.type = type;
  o.model = model;
  return o;
}

std::string usage_error(const TokenizerOptions& o) {
  try {
    load_tokenizer(o);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no UsageError)";
}

TEST(LoadTokenizer, RefusesUnknownAndUnsupportedTypes) {
  EXPECT_NE(usage_error(typed("GPT3Tokenizer")).find("unknown --tokenizer-type 'GPT3Tokenizer'"), std::string::npos);
  const std::string bert = usage_error(typed("BertWordPieceCase"));
  EXPECT_NE(bert.find("BertWordPieceCase is not supported"), std::string::npos) << bert;
  EXPECT_NE(bert.find("TikTokenizer"), std::string::npos) << "the message lists the supported types: " << bert;
  EXPECT_NE(usage_error(typed("NullTokenizer")).find("not supported"), std::string::npos);
}

TEST(LoadTokenizer, RefusesFlagsThatDoNotApplyToTheType) {
  EXPECT_NE(usage_error(typed("GPT2BPETokenizer", "x.model")).find("--tokenizer-model does not apply"),
            std::string::npos);
  for (const char* type : {"TikTokenizer", "SentencePieceTokenizer", "GPTSentencePieceTokenizer", "Llama2Tokenizer",
                           "HuggingFaceTokenizer"})
    EXPECT_NE(usage_error(typed(type)).find("needs --tokenizer-model"), std::string::npos) << type;
  TokenizerOptions o = typed("SentencePieceTokenizer", "x.model");
  o.vocab_file = "vocab.json";
  EXPECT_NE(usage_error(o).find("--vocab-file and --merge-file do not apply"), std::string::npos);
  o = typed("Llama2Tokenizer", "x.model");
  o.tiktoken_pattern = "v2";
  EXPECT_NE(usage_error(o).find("--tiktoken-pattern applies only to"), std::string::npos);
  o = typed("GPT2BPETokenizer");
  o.tiktoken_num_special_tokens = 1000;
  EXPECT_NE(usage_error(o).find("--tiktoken-num-special-tokens applies only to"), std::string::npos);
  o = typed("TikTokenizer", "x.tiktoken");
  o.eod_id = 1;
  o.eod_token = "</s>";
  EXPECT_NE(usage_error(o).find("either --eod-id or --eod-token"), std::string::npos);
}

TEST(LoadTokenizer, MissingModelFileIsAnInputErrorNamingIt) {
  for (const char* type : {"TikTokenizer", "SentencePieceTokenizer"}) {
    try {
      load_tokenizer(typed(type, "/nonexistent/model.file"));
      ADD_FAILURE() << type << ": no error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.file, "/nonexistent/model.file") << type;
    }
  }
}

class Gpt2 : public ::testing::Test {
 protected:
  void SetUp() override {
    SP_REQUIRE_FIXTURE(!test::gpt2_dir().empty(), "GPT-2 vocab not fetched (third_party/gpt2/fetch_vocab.sh)");
    vocab = test::gpt2_dir() + "/vocab.json";
    merges = test::gpt2_dir() + "/merges.txt";
  }
  std::vector<uint32_t> encode(const TextTokenizer& t, std::string_view text) {
    const auto encode = t.make_encoder();  // owns the buffer the span points into
    const auto span = encode(text);
    return {span.begin(), span.end()};
  }
  std::string vocab, merges;
};

TEST_F(Gpt2, SameIdsEodAndVocabSizeAsTheBpeModel) {
  TokenizerOptions o;
  o.vocab_file = vocab;
  o.merge_file = merges;
  const TextTokenizer t = load_tokenizer(o);
  EXPECT_EQ(t.name, "GPT2BPETokenizer");
  EXPECT_EQ(t.vocab_size, 50257u);
  EXPECT_EQ(t.eod_id, 50256u);
  EXPECT_TRUE(t.notes.empty());
  const BpeModel model = BpeModel::load_gpt2(vocab, merges);
  BpeCache cache;
  for (const char* text : {"Hello world", " the <|endoftext|> is text here", "naïve café 1234", ""}) {
    std::vector<uint32_t> want;
    model.encode(text, want, cache);
    EXPECT_EQ(encode(t, text), want) << text;
  }
  EXPECT_EQ(encode(t, "Hello world"), (std::vector<uint32_t>{15496, 995}));
  // The public loader by paths gives the same tokenizer.
  const TextTokenizer direct = load_gpt2_tokenizer(vocab, merges);
  EXPECT_EQ(direct.identity, t.identity);
  EXPECT_EQ(encode(direct, "Hello world"), encode(t, "Hello world"));
}

TEST_F(Gpt2, MergesDefaultToBesideTheVocab) {
  TokenizerOptions o;
  o.vocab_file = vocab;
  EXPECT_EQ(encode(load_tokenizer(o), "Hello world"), (std::vector<uint32_t>{15496, 995}));
}

TEST_F(Gpt2, VocabDefaultsToSpGpt2Dir) {
  const char* old = std::getenv("SP_GPT2_DIR");
  const std::string saved = old ? old : "";
  setenv("SP_GPT2_DIR", test::gpt2_dir().c_str(), 1);
  EXPECT_EQ(encode(load_tokenizer(TokenizerOptions{}), "Hello world"), (std::vector<uint32_t>{15496, 995}));
  setenv("SP_GPT2_DIR", "/nonexistent", 1);
  EXPECT_NE(usage_error(TokenizerOptions{}).find("no --vocab-file given"), std::string::npos);
  if (old) setenv("SP_GPT2_DIR", saved.c_str(), 1);
  else unsetenv("SP_GPT2_DIR");
}

TEST_F(Gpt2, EodOverridesChangeTheEodAndTheIdentity) {
  TokenizerOptions o;
  o.vocab_file = vocab;
  const TextTokenizer plain = load_tokenizer(o);
  o.eod_id = 198;
  const TextTokenizer by_id = load_tokenizer(o);
  EXPECT_EQ(by_id.eod_id, 198u);
  EXPECT_NE(by_id.identity, plain.identity);
  o.eod_id.reset();
  o.eod_token = "Hello";
  const TextTokenizer by_token = load_tokenizer(o);
  EXPECT_EQ(by_token.eod_id, 15496u);
  EXPECT_NE(by_token.identity, plain.identity);
  o.eod_token = "not a token at all";
  EXPECT_NE(usage_error(o).find("is not a token of"), std::string::npos);
  o.eod_token.reset();
  o.eod_id = 50257;
  EXPECT_NE(usage_error(o).find("not below the vocabulary size 50257"), std::string::npos);
}

}  // namespace
}  // namespace sp
