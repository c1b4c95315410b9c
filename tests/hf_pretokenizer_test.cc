// hf::PreTokenizer (hf_pretokenizer.cc): tokenizer.json pre-tokenizers as HF
// tokenizers splits with them.
#include "hf_pretokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sp/error.h"

namespace sp::hf {
namespace {

using ::testing::ElementsAre;

PreTokenizer parse(const std::string& json) {
  simdjson::dom::parser parser;
  return PreTokenizer::parse(parser.parse(json).value(), "tokenizer.json");
}

std::vector<std::string> pieces(const PreTokenizer& p, std::string_view text, bool first = true) {
  std::string buffer;
  std::vector<Piece> out, spare;
  p.split(text, first, buffer, out, spare);
  std::vector<std::string> result;
  for (const Piece& piece : out) result.push_back(buffer.substr(piece.offset, piece.length));
  return result;
}

std::string split_json(const std::string& pattern, const std::string& behavior, bool invert) {
  return R"({"type": "Split", "pattern": )" + pattern + R"(, "behavior": ")" + behavior + R"(", "invert": )" +
         (invert ? "true" : "false") + "}";
}

TEST(HfPreTokenizer, SplitBehaviors) {
  const std::string space = R"({"String": " "})";
  const std::string text = "a  b c";
  EXPECT_THAT(pieces(parse(split_json(space, "Removed", false)), text), ElementsAre("a", "b", "c"));
  EXPECT_THAT(pieces(parse(split_json(space, "Isolated", false)), text), ElementsAre("a", " ", " ", "b", " ", "c"));
  EXPECT_THAT(pieces(parse(split_json(space, "MergedWithPrevious", false)), text),
              ElementsAre("a ", " ", "b ", "c"));
  EXPECT_THAT(pieces(parse(split_json(space, "MergedWithNext", false)), text), ElementsAre("a", " ", " b", " c"));
  EXPECT_THAT(pieces(parse(split_json(space, "Contiguous", false)), text), ElementsAre("a", "  ", "b", " ", "c"));
  EXPECT_THAT(pieces(parse(split_json(space, "Removed", true)), text), ElementsAre(" ", " ", " "));
  EXPECT_THAT(pieces(parse(split_json(R"({"Regex": "\\d+"})", "Isolated", false)), "ab12cd3"),
              ElementsAre("ab", "12", "cd", "3"));
}

TEST(HfPreTokenizer, CharacterClassSplits) {
  EXPECT_THAT(pieces(parse(R"({"type": "Digits", "individual_digits": false})"), "a12b3"),
              ElementsAre("a", "12", "b", "3"));
  EXPECT_THAT(pieces(parse(R"({"type": "Digits", "individual_digits": true})"), "a12"), ElementsAre("a", "1", "2"));
  EXPECT_THAT(pieces(parse(R"({"type": "Punctuation"})"), "hi!?\xE3\x80\x82x"),
              ElementsAre("hi", "!", "?", "\xE3\x80\x82", "x"));
  EXPECT_THAT(pieces(parse(R"({"type": "Whitespace"})"), "Hey man!! \xC3\xA9t\xC3\xA9\n"),
              ElementsAre("Hey", "man", "!!", "\xC3\xA9t\xC3\xA9"));
  EXPECT_THAT(pieces(parse(R"({"type": "WhitespaceSplit"})"), " a\t\xC2\xA0" "b "), ElementsAre("a", "b"));
}

TEST(HfPreTokenizer, MetaspaceSchemes) {
  const auto always =
      parse(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true})");
  EXPECT_THAT(pieces(always, "a  b"), ElementsAre("▁a", "▁", "▁b"));
  EXPECT_THAT(pieces(always, "a", false), ElementsAre("▁a"));
  const auto first = parse(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"})");
  EXPECT_THAT(pieces(first, "a b"), ElementsAre("▁a", "▁b"));
  EXPECT_THAT(pieces(first, "a b", false), ElementsAre("a", "▁b"));
  const auto whole = parse(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": false})");
  EXPECT_THAT(pieces(whole, "a b"), ElementsAre("a▁b"));
  EXPECT_THAT(pieces(parse(R"({"type": "Metaspace", "replacement": "_", "add_prefix_space": true})"), "x"),
              ElementsAre("_x"));
  EXPECT_THROW(parse(R"({"type": "Metaspace", "replacement": "▁", "add_prefix_space": false})"), InputError);
}

TEST(HfPreTokenizer, ByteLevelAndTheFastPath) {
  const auto gpt2 = parse(R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": true})");
  EXPECT_THAT(pieces(gpt2, "Hi there's"), ElementsAre(" Hi", " there", "'s"));
  ASSERT_TRUE(gpt2.fast().has_value());
  EXPECT_EQ(gpt2.fast()->pattern, PretokenPattern::kGpt2);
  EXPECT_TRUE(gpt2.fast()->add_prefix_space);
  EXPECT_TRUE(gpt2.byte_level());
  const auto qwen = parse(
      R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|)"
      R"([^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},)"
      R"( "behavior": "Isolated", "invert": false},)"
      R"( {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})");
  ASSERT_TRUE(qwen.fast().has_value());
  EXPECT_EQ(qwen.fast()->pattern, PretokenPattern::kQwen2);
  EXPECT_THAT(pieces(qwen, "ab 123"), ElementsAre("ab", " ", "1", "2", "3"));
  EXPECT_TRUE(qwen.general_regexes().empty());
  // Anything more than that is the general path.
  EXPECT_FALSE(parse(R"({"type": "ByteLevel", "use_regex": false})").fast().has_value());
  EXPECT_FALSE(parse(R"({"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "ByteLevel"}]})")
                   .fast()
                   .has_value());
  EXPECT_THAT(parse(split_json(R"({"Regex": "x+"})", "Isolated", false)).general_regexes(), ElementsAre("x+"));
}

TEST(HfPreTokenizer, RefusesUnknownKindsNamingThem) {
  try {
    parse(R"({"type": "Sequence", "pretokenizers": [{"type": "BertPreTokenizer"}]})");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("pre_tokenizer type BertPreTokenizer is not supported"));
  }
  EXPECT_THROW(parse(R"({"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]})"),
               InputError);
  EXPECT_THROW(parse(split_json(R"({"String": " "})", "Sideways", false)), InputError);
}

}  // namespace
}  // namespace sp::hf
