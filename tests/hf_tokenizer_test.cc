// HuggingFaceTokenizer (hf_tokenizer.cc): small hand-written tokenizer.json
// files whose ids follow by hand from HF tokenizers' rules, refusals with
// their messages, linear time on pathological text, and the real models
// from third_party/tokenizers/fetch_models.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "sp/bpe.h"
#include "sp/error.h"
#include "test_support.h"
#include "tokenizer_families.h"

namespace sp {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += static_cast<char>(c);
    else if (c < 0x20)
      out += "\\u00" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    else
      out += static_cast<char>(c);
  }
  return out + "\"";
}

// GPT-2's unicode spelling of raw bytes.
std::string byte_level(const std::string& bytes) {
  std::string out;
  for (unsigned char b : bytes) out += test::utf8(gpt2_byte_to_codepoint(b));
  return out;
}

struct Spec {
  std::string normalizer = "null", pre_tokenizer = "null", post_processor = "null", added_tokens = "[]";
  std::string model_extra;  // more "key": value pairs of the model
  std::string config = R"({"eos_token": "</s>"})";
};

// A byte-level BPE: ids 0..255 the bytes, then he(256) ll(257) hell(258) " w"(259) </s>(260) "  "(261).
std::string byte_level_json(const Spec& s) {
  std::string vocab;
  for (int b = 0; b < 256; ++b)
    vocab += json_string(byte_level(std::string(1, static_cast<char>(b)))) + ": " + std::to_string(b) + ", ";
  vocab += json_string("he") + ": 256, " + json_string("ll") + ": 257, " + json_string("hell") + ": 258, " +
           json_string(byte_level(" w")) + ": 259, \"</s>\": 260, " + json_string(byte_level("  ")) + ": 261";
  const std::string merges = "[\"h e\", \"l l\", [\"he\", \"ll\"], " + json_string(byte_level(" ") + " w") + ", " +
                             json_string(byte_level(" ") + " " + byte_level(" ")) + "]";
  return R"({"version": "1.0", "added_tokens": )" + s.added_tokens + R"(, "normalizer": )" + s.normalizer +
         R"(, "pre_tokenizer": )" + s.pre_tokenizer + R"(, "post_processor": )" + s.post_processor +
         R"(, "model": {"type": "BPE", "dropout": null, "unk_token": null)" + s.model_extra + R"(, "vocab": {)" +
         vocab + R"(}, "merges": )" + merges + "}}";
}

// A SentencePiece-style BPE with byte fallback: <unk> <s> </s>, <0x00>..<0xFF> (3..258), then pieces.
std::string sentencepiece_json(const Spec& s) {
  std::string vocab = R"("<unk>": 0, "<s>": 1, "</s>": 2, )";
  char name[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab.append(1, '"').append(name).append("\": ").append(std::to_string(3 + b)).append(", ");
  }
  vocab +=
      R"("▁": 259, "h": 260, "e": 261, "l": 262, "o": 263, "▁h": 264, "ll": 265, "▁he": 266, )"
          R"("▁hell": 267, "▁hello": 268, "▁▁": 269)";
  const std::string merges = R"(["▁ h", "l l", "▁h e", "▁he ll", "▁hell o", "▁ ▁"])";
  return R"({"version": "1.0", "added_tokens": )" + s.added_tokens + R"(, "normalizer": )" + s.normalizer +
         R"(, "pre_tokenizer": )" + s.pre_tokenizer + R"(, "post_processor": )" + s.post_processor +
         R"(, "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true, )"
             R"("byte_fallback": true)" +
         s.model_extra + R"(, "vocab": {)" + vocab + R"(}, "merges": )" + merges + "}}";
}

constexpr const char* kSpAdded =
    R"([{"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, )"
        R"("normalized": false, "special": true},
        {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, )"
            R"("normalized": false, "special": true},
        {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, )"
            R"("normalized": false, "special": true}])";
constexpr const char* kLlama2Normalizer =
    R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", )"
        R"("pattern": {"String": " "}, "content": "▁"}]})";
constexpr const char* kBosTemplate =
    R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, )"
        R"({"Sequence": {"id": "A", "type_id": 0}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}})";

class HfTokenizerTest : public ::testing::Test {
 protected:
  TextTokenizer load(const std::string& json, const Spec& spec = {}, TokenizerOptions options = {}) {
    test::write_file(dir_ / "tokenizer.json", json);
    if (!spec.config.empty()) test::write_file(dir_ / "tokenizer_config.json", spec.config);
    options.type = "HuggingFaceTokenizer";
    options.model = dir_.path();
    return load_hf_tokenizer(options);
  }
  static std::vector<uint32_t> ids(const TextTokenizer& t, std::string_view text) {
    auto encode = t.make_encoder();
    const auto span = encode(text);
    return {span.begin(), span.end()};
  }
  std::string load_error(const std::string& json, const Spec& spec = {}) {
    try {
      load(json, spec);
    } catch (const InputError& e) {
      return e.what();
    }
    return "(no error)";
  }
  test::TempDir dir_;
};

TEST_F(HfTokenizerTest, ByteLevelMergesByPriorityAfterTheGpt2Split) {
  Spec s;
  s.pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})";
  const TextTokenizer t = load(byte_level_json(s), s);
  // "hello" -> h e l l o -> he ll -> hell o; " world" -> " w" o r l d.
  EXPECT_THAT(ids(t, "hello world"), ElementsAre(258, 'o', 259, 'o', 'r', 'l', 'd'));
  EXPECT_EQ(t.eod_id, 260u);
  EXPECT_EQ(t.vocab_size, 262u);
  EXPECT_TRUE(t.notes.empty());
}

TEST_F(HfTokenizerTest, ByteLevelAddPrefixSpaceAppliesToEachStretchBetweenAddedTokens) {
  Spec s;
  s.pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": true})";
  s.added_tokens = R"([{"id": 260, "content": "</s>", "normalized": false, "special": true}])";
  const TextTokenizer t = load(byte_level_json(s), s);
  EXPECT_THAT(ids(t, "wo</s>wo"), ElementsAre(259, 'o', 260, 259, 'o'));
}

TEST_F(HfTokenizerTest, SplitScannerThenByteLevelIsTheFastPathAndAgreesWithTheGeneralOne) {
  Spec fast, general;
  const std::string llama3 =
      R"("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|)"
      R"( ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")";
  fast.pre_tokenizer =
      R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": )" + llama3 +
      R"(}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", )"
          R"("add_prefix_space": false, "use_regex": false}]})";
  // The same split through PCRE2 (a spelling the scanners do not know: an extra group).
  general.pre_tokenizer =
      R"j({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?:))j" +
      llama3.substr(1, llama3.size() - 2) +
      R"j("}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", )j"
          R"j("add_prefix_space": false, "use_regex": false}]})j";
  const TextTokenizer a = load(byte_level_json(fast), fast);
  EXPECT_TRUE(a.notes.empty());
  const std::string text = "hello 12345 world!!\n\n  hell's wo\xC3\xA9";
  const auto expected = ids(a, text);
  // Digits in threes, the contraction split off.
  EXPECT_THAT(expected, ElementsAre(258, 'o', ' ', '1', '2', '3', '4', '5', 259, 'o', 'r', 'l', 'd', '!', '!', '\n',
                                    '\n', ' ', ' ', 258, '\'', 's', 259, 'o', 0xC3, 0xA9));
  const TextTokenizer b = load(byte_level_json(general), general);
  ASSERT_EQ(b.notes.size(), 1u);
  EXPECT_THAT(b.notes[0], HasSubstr("PCRE2"));
  EXPECT_EQ(ids(b, text), expected);
}

TEST_F(HfTokenizerTest, SentencePieceStyleWithByteFallbackBosAndRawSpecials) {
  Spec s;
  s.normalizer = kLlama2Normalizer;
  s.post_processor = kBosTemplate;
  s.added_tokens = kSpAdded;
  const TextTokenizer t = load(sentencepiece_json(s), s);
  // "▁hello▁é": ▁hello, then ▁ and é by its bytes (no piece for it).
  EXPECT_THAT(ids(t, "hello \xC3\xA9"), ElementsAre(1, 268, 259, 3 + 0xC3, 3 + 0xA9));
  // </s> is matched in the raw text; the text after it is normalized on its own (Prepend again).
  EXPECT_THAT(ids(t, "hello</s>hello"), ElementsAre(1, 268, 2, 268));
  EXPECT_THAT(ids(t, "  hello"), ElementsAre(1, 269, 268));  // ▁▁ ▁hello: ▁h merges before ▁▁
  EXPECT_THAT(ids(t, ""), ElementsAre(1));
  EXPECT_EQ(t.eod_id, 2u);
  EXPECT_EQ(t.vocab_size, 270u);

  TokenizerOptions no_special;
  no_special.hf_include_special_tokens = false;
  const TextTokenizer u = load(sentencepiece_json(s), s, no_special);
  EXPECT_THAT(ids(u, "hello"), ElementsAre(268));
  EXPECT_NE(t.identity, u.identity);
}

TEST_F(HfTokenizerTest, UnknownCharactersWithoutByteFallbackFuseIntoOneUnk) {
  Spec s;
  s.normalizer = kLlama2Normalizer;
  s.added_tokens = kSpAdded;
  std::string json = sentencepiece_json(s);
  json.replace(json.find("\"byte_fallback\": true"), 21, "\"byte_fallback\": false");
  const TextTokenizer t = load(json, s);
  EXPECT_THAT(ids(t, "hello \xC3\xA9\xC3\xA8h"), ElementsAre(268, 259, 0, 260));
}

TEST_F(HfTokenizerTest, MetaspacePreTokenizerPrependsFirstOnlyAndSplitsBeforeEachReplacement) {
  Spec s;
  s.pre_tokenizer = R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true})";
  s.added_tokens = kSpAdded;
  const TextTokenizer t = load(sentencepiece_json(s), s);
  // After </s> the stretch does not start the text: no ▁ put in front.
  EXPECT_THAT(ids(t, "hello hello</s>hello"), ElementsAre(268, 268, 2, 260, 261, 265, 263));
}

TEST_F(HfTokenizerTest, AddedTokenFlags) {
  Spec s;
  s.pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  s.added_tokens =
      R"([{"id": 262, "content": "<mask>", "lstrip": true, "rstrip": false, "normalized": false, "special": true},
      {"id": 263, "content": "wor", "single_word": true, "normalized": false, "special": false},
      {"id": 264, "content": "[R]", "rstrip": true, "normalized": false, "special": false},
      {"id": 265, "content": "HEL", "normalized": true, "special": false},
      {"id": 266, "content": "<mask>x", "normalized": false, "special": true}])";
  s.normalizer = R"({"type": "Lowercase"})";
  const TextTokenizer t = load(byte_level_json(s), s);
  EXPECT_THAT(ids(t, "a  <mask>b"), ElementsAre('a', 262, 'b'));                   // lstrip takes both spaces
  EXPECT_THAT(ids(t, "a <mask>xb"), ElementsAre('a', ' ', 266, 'b'));              // the longest match wins
  EXPECT_THAT(ids(t, "world"), ElementsAre('w', 'o', 'r', 'l', 'd'));  // "wor" inside a word: text
  EXPECT_THAT(ids(t, "x wor."), ElementsAre('x', ' ', 263, '.'));
  EXPECT_THAT(ids(t, "[R]   hel"), ElementsAre(264, 265));  // rstrip; HEL normalized (lowercased) matches "hel"
  EXPECT_THAT(ids(t, "HELL"), ElementsAre(265, 'l'));       // matched in the normalized text
  EXPECT_EQ(t.vocab_size, 267u);
}

TEST_F(HfTokenizerTest, NormalizersInOrder) {
  Spec s;
  s.pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": false})";
  s.normalizer = R"({"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": true, "strip_right": true},
      {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "#"},
      {"type": "Prepend", "prepend": "<"}]})";
  const TextTokenizer t = load(byte_level_json(s), s);
  // "  ＨＥ12ｌ\t" -> "ＨＥ12ｌ" -> "HE12l" -> "he12l" -> "he#l" -> "<he#l"
  EXPECT_THAT(ids(t,
                  "  \xEF\xBC\xA8\xEF\xBC\xA5"
                  "12\xEF\xBD\x8C\t"),
              ElementsAre('<', 256, '#', 'l'));
  EXPECT_THAT(t.notes, ElementsAre(HasSubstr("PCRE2")));
  Spec nfd;
  nfd.pre_tokenizer = s.pre_tokenizer;
  nfd.normalizer = R"({"type": "NFD"})";
  EXPECT_THAT(ids(load(byte_level_json(nfd), nfd), "\xC3\xA9"), ElementsAre('e', 0xCC, 0x81));
  nfd.normalizer = R"({"type": "NFC"})";
  EXPECT_THAT(ids(load(byte_level_json(nfd), nfd), "e\xCC\x81"), ElementsAre(0xC3, 0xA9));
}

TEST_F(HfTokenizerTest, SplittingPreTokenizers) {
  Spec s;
  auto with = [&](const std::string& pre) {
    s.pre_tokenizer = R"({"type": "Sequence", "pretokenizers": [)" + pre +
                      R"(, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})";
    return load(byte_level_json(s), s);
  };
  // Without a split "he ll" would merge across; each split shows in where merges stop.
  EXPECT_THAT(ids(with(R"({"type": "Digits", "individual_digits": true})"), "he12ll"), ElementsAre(256, '1', '2', 257));
  EXPECT_THAT(ids(with(R"({"type": "Digits", "individual_digits": false})"), "hell12hell"),
              ElementsAre(258, '1', '2', 258));
  EXPECT_THAT(ids(with(R"({"type": "Punctuation", "behavior": "Isolated"})"), "he,ll"), ElementsAre(256, ',', 257));
  EXPECT_THAT(ids(with(R"({"type": "Whitespace"})"), "hell  ,,ll"), ElementsAre(258, ',', ',', 257));
  EXPECT_THAT(ids(with(R"({"type": "WhitespaceSplit"})"), "he \t ll"), ElementsAre(256, 257));
  EXPECT_THAT(
      ids(with(R"({"type": "Split", "pattern": {"String": "l"}, "behavior": "Removed", "invert": false})"), "hello"),
      ElementsAre(256, 'o'));
  EXPECT_THAT(
      ids(with(R"({"type": "Split", "pattern": {"String": "e"}, "behavior": "MergedWithPrevious", "invert": false})"),
          "hell"),
      ElementsAre(256, 257));
  EXPECT_THAT(
      ids(with(R"({"type": "Split", "pattern": {"String": "l"}, "behavior": "MergedWithNext", "invert": false})"),
          "hell"),
      ElementsAre(256, 'l', 'l'));
  EXPECT_THAT(
      ids(with(R"({"type": "Split", "pattern": {"String": "l"}, "behavior": "Contiguous", "invert": false})"), "hello"),
      ElementsAre(256, 257, 'o'));
  EXPECT_THAT(
      ids(with(R"({"type": "Split", "pattern": {"Regex": "l+"}, "behavior": "Removed", "invert": true})"), "hellohell"),
      ElementsAre(257, 257));
}

TEST_F(HfTokenizerTest, PostProcessors) {
  Spec s;
  s.pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  s.post_processor = R"({"type": "Sequence", "processors": [{"type": "ByteLevel", "trim_offsets": false},
      {"type": "RobertaProcessing", "sep": ["</s>", 260], "cls": ["<s>", 1], "trim_offsets": true, )"
          R"("add_prefix_space": false}]})";
  EXPECT_THAT(ids(load(byte_level_json(s), s), "he"), ElementsAre(1, 256, 260));
  s.post_processor = R"({"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}},
      {"SpecialToken": {"id": "</s>", "type_id": 0}}], "special_tokens": {"</s>": {"id": "</s>", )"
          R"("ids": [260], "tokens": ["</s>"]}}})";
  EXPECT_THAT(ids(load(byte_level_json(s), s), "he"), ElementsAre(256, 260));
}

TEST_F(HfTokenizerTest, EodFromConfigOrOptions) {
  Spec s;
  s.pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  s.config = R"({"eos_token": {"content": "he", "__type": "AddedToken"}})";
  EXPECT_EQ(load(byte_level_json(s), s).eod_id, 256u);
  TokenizerOptions o;
  o.eod_token = "hell";
  EXPECT_EQ(load(byte_level_json(s), s, o).eod_id, 258u);
  o.eod_token = "nope";
  EXPECT_THROW(load(byte_level_json(s), s, o), UsageError);
  o.eod_token.reset();
  o.eod_id = 7;
  const TextTokenizer t = load(byte_level_json(s), s, o);
  EXPECT_EQ(t.eod_id, 7u);
  EXPECT_THAT(t.identity, ::testing::Contains(std::pair<std::string, std::string>("eod_id", "7")));
}

TEST_F(HfTokenizerTest, LlamaAndGemmaClassesTakeBosAndEosFromTheConfig) {
  // transformers' LlamaTokenizerFast replaces the post-processor by its own
  // BOS / EOS template (add_bos_token default true, add_eos_token false).
  Spec s;
  s.normalizer = kLlama2Normalizer;
  s.added_tokens = kSpAdded;
  s.config = R"({"tokenizer_class": "LlamaTokenizer", "add_eos_token": true})";
  const TextTokenizer t = load(sentencepiece_json(s), s);
  EXPECT_THAT(ids(t, "hello"), ElementsAre(1, 268, 2));  // no post_processor in tokenizer.json
  EXPECT_EQ(t.eod_id, 2u);                               // the class's default eos_token "</s>"
  s.config = R"({"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": false})";
  s.post_processor = kBosTemplate;
  EXPECT_THAT(ids(load(sentencepiece_json(s), s), "hello"), ElementsAre(268));
  // Other classes keep tokenizer.json's post-processor; special_tokens_map.json fills in eos_token.
  s.config = R"({"tokenizer_class": "PreTrainedTokenizerFast"})";
  test::write_file(dir_ / "special_tokens_map.json", R"({"eos_token": {"content": "<unk>"}})");
  const TextTokenizer u = load(sentencepiece_json(s), s);
  EXPECT_THAT(ids(u, "hello"), ElementsAre(1, 268));
  EXPECT_EQ(u.eod_id, 0u);
  EXPECT_THAT(u.identity, ::testing::Contains(::testing::Key("special_tokens_map.json sha256")));
}

TEST_F(HfTokenizerTest, RefusesWhatItDoesNotSupport) {
  Spec s;
  s.pre_tokenizer = R"({"type": "ByteLevel"})";
  std::string json = byte_level_json(s);
  std::string unigram = json;
  unigram.replace(unigram.find("\"type\": \"BPE\""), 13, "\"type\": \"Unigram\"");
  EXPECT_THAT(load_error(unigram, s),
              HasSubstr("tokenizer.json: model type Unigram is not supported (supported: BPE)"));
  std::string dropout = json;
  dropout.replace(dropout.find("\"dropout\": null"), 15, "\"dropout\": 0.1");
  EXPECT_THAT(load_error(dropout, s), HasSubstr("BPE dropout is not supported"));
  std::string prefix = json;
  prefix.replace(prefix.find("\"dropout\": null"), 15, "\"continuing_subword_prefix\": \"##\"");
  EXPECT_THAT(load_error(prefix, s), HasSubstr("BPE continuing_subword_prefix is not supported"));
  Spec bad = s;
  bad.normalizer = R"({"type": "BertNormalizer"})";
  EXPECT_THAT(load_error(byte_level_json(bad), bad), HasSubstr("normalizer type BertNormalizer is not supported"));
  bad = s;
  bad.pre_tokenizer = R"({"type": "UnicodeScripts"})";
  EXPECT_THAT(load_error(byte_level_json(bad), bad), HasSubstr("pre_tokenizer type UnicodeScripts is not supported"));
  bad = s;
  bad.post_processor = R"({"type": "Weird"})";
  EXPECT_THAT(load_error(byte_level_json(bad), bad), HasSubstr("post_processor type Weird is not supported"));
  bad.post_processor = R"({"type": "BertProcessing", "sep": ["[SEP]", 3]})";
  EXPECT_THAT(load_error(byte_level_json(bad), bad), HasSubstr("post_processor BertProcessing has no \"cls\""));
  std::string merge = json;
  merge.replace(merge.find("\"h e\""), 5, "\"h q\"");
  EXPECT_THAT(load_error(merge, s), HasSubstr("merge 0 (h q) names a token that is not in the vocab"));
  EXPECT_THAT(load_error("{\"model\": ", s), HasSubstr("not JSON"));
}

TEST_F(HfTokenizerTest, PathologicalInputIsLinear) {
  const std::string mb_l(1 << 20, 'l'), mb_space(1 << 20, ' ');
  std::string cjk;
  while (cjk.size() < (1 << 20)) cjk += "\xE4\xB8\xAD\xE6\x96\x87";  // 中文, no spaces
  Spec sp;
  sp.normalizer = kLlama2Normalizer;
  sp.added_tokens = kSpAdded;
  Spec bl;
  bl.pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  const TextTokenizer a = load(sentencepiece_json(sp), sp);
  const TextTokenizer b = load(byte_level_json(bl), bl);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ids(a, mb_l).size(), 1 + mb_l.size() / 2);          // ▁ then ll ll ...
  EXPECT_EQ(ids(a, mb_space).size(), 1 + mb_space.size() / 2);  // ▁▁ ▁▁ ... ▁ (a prepended ▁ makes it odd)
  EXPECT_EQ(ids(a, cjk).size(), cjk.size() + 1);                 // ▁ then the bytes (byte fallback)
  EXPECT_EQ(ids(b, mb_l).size(), mb_l.size() / 2);
  EXPECT_EQ(ids(b, mb_space).size(), mb_space.size() / 2);
  EXPECT_EQ(ids(b, cjk).size(), cjk.size());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 60.0);
}

// Real models: known ids (HF tokenizers' encode) and, when present, the goldens.
std::string models_dir() {
  const char* env = std::getenv("SP_TOKENIZERS_DIR");
  std::string dir =
      env && *env ? env : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/sp_toolkit/tokenizers";
  return test::file_exists(dir + "/llama3/tokenizer.json") ? dir : "";
}

// Each real model loaded once per flag for the whole binary (a 256k vocabulary takes a second to load).
const TextTokenizer& model_tokenizer(const std::string& dir, const std::string& model, bool special) {
  static std::map<std::pair<std::string, bool>, TextTokenizer> loaded;
  auto it = loaded.find({model, special});
  if (it == loaded.end()) {
    TokenizerOptions o;
    o.type = "HuggingFaceTokenizer";
    o.model = dir + "/" + model;
    o.hf_include_special_tokens = special;
    it = loaded.emplace(std::pair{model, special}, load_hf_tokenizer(o)).first;
  }
  return it->second;
}

TEST(HfTokenizerModels, KnownIdsEodAndVocabularySize) {
  const std::string dir = models_dir();
  SP_REQUIRE_FIXTURE(!dir.empty(), "tokenizer models (third_party/tokenizers/fetch_models.sh)");
  struct Case {
    const char* model;
    std::vector<uint32_t> hello;
    uint32_t eod;
    uint64_t vocab;
  };
  for (const Case& c : {Case{"llama3", {9906, 1917}, 128001, 128256}, Case{"qwen3", {9707, 1879}, 151645, 151669},
                        Case{"llama2", {1, 22557, 1526}, 2, 32000}, Case{"gemma", {2, 4521, 2134}, 1, 256000}}) {
    const TextTokenizer& t = model_tokenizer(dir, c.model, true);
    auto encode = t.make_encoder();
    const auto span = encode("Hello world");
    EXPECT_THAT(std::vector<uint32_t>(span.begin(), span.end()), ElementsAreArray(c.hello)) << c.model;
    EXPECT_EQ(t.eod_id, c.eod) << c.model;
    EXPECT_EQ(t.vocab_size, c.vocab) << c.model;
    EXPECT_TRUE(t.notes.empty()) << c.model;
  }
}

// tests/golden/tok_<model>.jsonl: HF tokenizers' encode with and without special tokens, line by line.
void expect_golden(const TextTokenizer& with_special, const TextTokenizer& without_special, const std::string& model) {
  SCOPED_TRACE(model);
  auto with = with_special.make_encoder();
  auto without = without_special.make_encoder();
  const std::string golden = test::read_file(std::string(SP_SOURCE_DIR) + "/tests/golden/tok_" + model + ".jsonl");
  simdjson::dom::parser parser;
  size_t lines = 0, matched = 0;
  for (size_t pos = 0; pos < golden.size();) {
    size_t eol = golden.find('\n', pos);
    if (eol == std::string::npos) eol = golden.size();
    const std::string line = golden.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) continue;
    simdjson::dom::element e;
    std::string_view text;
    ASSERT_FALSE(parser.parse(line).get(e) || e["text"].get_string().get(text)) << "bad golden line " << lines + 1;
    bool same = true;
    for (const char* key : {"ids", "ids_no_special"}) {
      std::vector<uint32_t> expected;
      simdjson::dom::array list;
      ASSERT_FALSE(e[key].get_array().get(list)) << key << " missing at line " << lines + 1;
      for (simdjson::dom::element id : list) expected.push_back(static_cast<uint32_t>(int64_t(id)));
      const auto got = (key[3] == 0 ? with : without)(text);
      if (!std::equal(got.begin(), got.end(), expected.begin(), expected.end())) {
        same = false;
        ADD_FAILURE() << key << " differ at line " << lines + 1 << ": " << std::string(text.substr(0, 80));
      }
    }
    ++lines;
    matched += same;
  }
  EXPECT_GT(lines, 100u);
  EXPECT_EQ(matched, lines);
  std::printf("%s: %zu of %zu golden lines match\n", model.c_str(), matched, lines);
}

TEST(HfTokenizerModels, GoldenLlama3) {
  const std::string dir = models_dir();
  SP_REQUIRE_FIXTURE(!dir.empty(), "tokenizer models (third_party/tokenizers/fetch_models.sh)");
  expect_golden(model_tokenizer(dir, "llama3", true), model_tokenizer(dir, "llama3", false), "llama3");
}
TEST(HfTokenizerModels, GoldenQwen3) {
  const std::string dir = models_dir();
  SP_REQUIRE_FIXTURE(!dir.empty(), "tokenizer models (third_party/tokenizers/fetch_models.sh)");
  expect_golden(model_tokenizer(dir, "qwen3", true), model_tokenizer(dir, "qwen3", false), "qwen3");
}
TEST(HfTokenizerModels, GoldenLlama2) {
  const std::string dir = models_dir();
  SP_REQUIRE_FIXTURE(!dir.empty(), "tokenizer models (third_party/tokenizers/fetch_models.sh)");
  expect_golden(model_tokenizer(dir, "llama2", true), model_tokenizer(dir, "llama2", false), "llama2");
}
TEST(HfTokenizerModels, GoldenGemma) {
  const std::string dir = models_dir();
  SP_REQUIRE_FIXTURE(!dir.empty(), "tokenizer models (third_party/tokenizers/fetch_models.sh)");
  expect_golden(model_tokenizer(dir, "gemma", true), model_tokenizer(dir, "gemma", false), "gemma");
}

// Qwen3 with its split regex respelled so no scanner knows it: the general
// path (PCRE2 split, pieces through encode_pieces) must give the same ids.
TEST(HfTokenizerModels, GoldenQwen3ThroughTheGeneralPath) {
  const std::string dir = models_dir();
  SP_REQUIRE_FIXTURE(!dir.empty(), "tokenizer models (third_party/tokenizers/fetch_models.sh)");
  test::TempDir tmp;
  std::string json = test::read_file(dir + "/qwen3/tokenizer.json");
  const size_t at = json.find("\"Regex\": \"");
  ASSERT_NE(at, std::string::npos);
  json.insert(at + 10, "(?:)");
  test::write_file(tmp / "tokenizer.json", json);
  test::write_file(tmp / "tokenizer_config.json", test::read_file(dir + "/qwen3/tokenizer_config.json"));
  TokenizerOptions o;
  o.type = "HuggingFaceTokenizer";
  o.model = tmp.path();
  const TextTokenizer with = load_hf_tokenizer(o);
  ASSERT_THAT(with.notes, ElementsAre(HasSubstr("runs through PCRE2")));
  o.hf_include_special_tokens = false;
  SCOPED_TRACE("general path");
  expect_golden(with, load_hf_tokenizer(o), "qwen3");
}

}  // namespace
}  // namespace sp
