// hf::Normalizer (hf_normalizer.cc): tokenizer.json normalizers as HF
// tokenizers applies them.
#include "hf_normalizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sp/error.h"

namespace sp::hf {
namespace {

std::string normalize(const std::string& json, std::string_view text) {
  simdjson::dom::parser parser;
  const Normalizer n = Normalizer::parse(parser.parse(json).value(), "tokenizer.json");
  std::string out, scratch;
  n.normalize(text, out, scratch);
  return out;
}

TEST(HfNormalizer, UnicodeForms) {
  // "ﬁ" (U+FB01) and "é" decomposed / composed.
  const std::string text = "\xEF\xAC\x81" "e\xCC\x81";
  EXPECT_EQ(normalize(R"({"type": "NFC"})", text), "\xEF\xAC\x81\xC3\xA9");
  EXPECT_EQ(normalize(R"({"type": "NFD"})", "\xC3\xA9"), "e\xCC\x81");
  EXPECT_EQ(normalize(R"({"type": "NFKC"})", text), "fi\xC3\xA9");
  EXPECT_EQ(normalize(R"({"type": "NFKD"})", text), "fie\xCC\x81");
  EXPECT_EQ(normalize(R"({"type": "NFKC"})", "plain ascii"), "plain ascii");
}

TEST(HfNormalizer, LowercaseIsRustsCharToLowercase) {
  // U+0130 lowercases to two characters; final sigma stays σ (per character, no context).
  EXPECT_EQ(normalize(R"({"type": "Lowercase"})", "AB\xC4\xB0\xCE\xA3\xC3\x89"), "abi\xCC\x87\xCF\x83\xC3\xA9");
}

TEST(HfNormalizer, ReplacePrependStripAndSequenceInOrder) {
  EXPECT_EQ(normalize(R"({"type": "Replace", "pattern": {"String": "aa"}, "content": "b"})", "aaaaa"), "bba");
  EXPECT_EQ(normalize(R"({"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": "_"})", "a \t b\n"), "a_b_");
  EXPECT_EQ(normalize(R"({"type": "Prepend", "prepend": "▁"})", "x"), "▁x");
  EXPECT_EQ(normalize(R"({"type": "Prepend", "prepend": "▁"})", ""), "");
  EXPECT_EQ(normalize(R"({"type": "Strip", "strip_left": true, "strip_right": false})", " \xC2\xA0x "), "x ");
  EXPECT_EQ(normalize(R"({"type": "Strip", "strip_left": true, "strip_right": true})", "\n x y \xE3\x80\x80"), "x y");
  EXPECT_EQ(normalize(R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                          {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})",
                      "a b"),
            "▁a▁b");
  EXPECT_EQ(normalize("null", "As Is"), "As Is");
}

TEST(HfNormalizer, RefusesUnknownKindsNamingThem) {
  simdjson::dom::parser parser;
  auto error = [&](const std::string& json) -> std::string {
    try {
      Normalizer::parse(parser.parse(json).value(), "tokenizer.json");
    } catch (const InputError& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_THAT(error(R"({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Precompiled"}]})"),
              ::testing::HasSubstr("normalizer type Precompiled is not supported"));
  EXPECT_THAT(error(R"({"type": "Replace", "pattern": {"Regex": "("}, "content": ""})"),
              ::testing::HasSubstr("normalizer Replace: split regex does not compile"));
  EXPECT_THAT(error(R"({"type": "Replace", "pattern": {"String": ""}, "content": "x"})"),
              ::testing::HasSubstr("empty pattern"));
}

}  // namespace
}  // namespace sp::hf
