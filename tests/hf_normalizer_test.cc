// hf::Normalizer (hf_normalizer.cc): tokenizer.json normalizers as HF
// tokenizers applies them.
#include "hf_normalizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <utf8proc.h>

#include <cstdlib>
#include <random>
#include <string>

#include "sp/error.h"

namespace sp::hf {
namespace {

Normalizer parsed(const std::string& json) {
  simdjson::dom::parser parser;
  return Normalizer::parse(parser.parse(json).value(), "tokenizer.json");
}

std::string normalize(const std::string& json, std::string_view text) {
  const Normalizer n = parsed(json);
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

std::string utf8(char32_t c) {
  utf8proc_uint8_t buf[4];
  const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::string utf8proc_nfc(std::string_view s) {
  utf8proc_uint8_t* mapped = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                              static_cast<utf8proc_ssize_t>(s.size()), &mapped,
                              static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  EXPECT_GE(n, 0);
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  return out;
}

// What nfc_append's skip rests on: every code point below U+0300 is its own
// NFC and a starter, and none is the second part of any composition (no
// canonical decomposition of two or more code points holds one after its first).
TEST(HfNormalizer, CodePointsBelowU0300AreNfcStableStartersThatNothingComposesWith) {
  for (char32_t c = 0; c < 0x300; ++c) {
    EXPECT_EQ(utf8proc_nfc(utf8(c)), utf8(c)) << std::hex << static_cast<uint32_t>(c);
    EXPECT_EQ(utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class, 0)
        << std::hex << static_cast<uint32_t>(c);
  }
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    utf8proc_int32_t parts[8];
    int last_boundclass = 0;
    const auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), parts, 8,
                                           static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), &last_boundclass);
    ASSERT_GT(n, 0);
    for (utf8proc_ssize_t i = 1; i < n; ++i) EXPECT_GE(parts[i], 0x300) << std::hex << static_cast<uint32_t>(c);
  }
}

// nfc_append against utf8proc on whole strings: random mixes of ASCII,
// Latin-1, combining marks (in and out of canonical order), Hangul jamo and
// syllables, CJK, composition-excluded and singleton code points.
TEST(HfNormalizer, NfcSkipGivesUtf8procsNfc) {
  const std::vector<char32_t> pool = {'a', 'e', 'o', 'A', ' ', '\n', 0xE9, 0xC5, 0xFF, 0x2FF, 0x300, 0x301, 0x308,
                                      0x323, 0x327, 0x345, 0x5B0, 0x93C, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xD4DB,
                                      0x4E2D, 0x212B, 0x2126, 0x0958, 0x1E0A, 0x1E0C, 0x0F73, 0x3099, 0x304B, 0x1F600,
                                      0x0B47, 0x0B3E, 0x0CD5, 0x0CBF, 0x0344};
  std::mt19937 rng(7);
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int length = static_cast<int>(rng() % 12);
    for (int i = 0; i < length; ++i) text += utf8(pool[rng() % pool.size()]);
    std::string fast = "kept:";
    nfc_append(text, fast);
    ASSERT_EQ(fast, "kept:" + utf8proc_nfc(text)) << text;
  }
  std::string plain = "Caf\xC3\xA9 na\xC3\xAFve \xC3\x85ngstr\xC3\xB6m", out;
  nfc_append(plain, out);
  EXPECT_EQ(out, plain);
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

// Prepend then a one-byte Replace (Llama-2, Mistral) is done in one pass: the
// same text as the two steps, whatever the prefix, the text and the buffers
// left by earlier texts.
TEST(HfNormalizer, PrependThenReplaceInOnePassGivesTheStepsText) {
  const Normalizer fused = parsed(R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "x y"},
                                       {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})");
  std::mt19937 rng(7);
  std::string out, scratch;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (size_t i = rng() % 40; i > 0; --i) text += " ab\xC3\xA9"[rng() % 5];
    std::string want = text.empty() ? "" : "x y" + text;  // Prepend, then every space replaced
    for (size_t at; (at = want.find(' ')) != std::string::npos;) want.replace(at, 1, "▁");
    fused.normalize(text, out, scratch);
    ASSERT_EQ(out, want) << "'" << text << "'";
  }
}

// Gemma's normalizer: the one-byte Replace alone, in the same one pass; and a
// one-byte Replace after another step (NFC), step by step. Both give every
// space replaced, whatever the scratch held before.
TEST(HfNormalizer, ReplaceAloneAndAfterAnotherStepGiveTheStepsText) {
  const Normalizer alone = parsed(R"({"type": "Replace", "pattern": {"String": " "}, "content": "▁"})");
  const Normalizer after = parsed(R"({"type": "Sequence", "normalizers": [{"type": "NFC"},
                                       {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})");
  std::mt19937 rng(11);
  std::string out, scratch;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    static const char* const kPieces[] = {" ", "a", "b", "\xC3\xA9"};  // valid UTF-8, as normalize requires
    for (size_t i = rng() % 40; i > 0; --i) text += kPieces[rng() % 4];
    std::string want = text;
    for (size_t at; (at = want.find(' ')) != std::string::npos;) want.replace(at, 1, "▁");
    alone.normalize(text, out, scratch);
    ASSERT_EQ(out, want) << "'" << text << "'";
    after.normalize(text, out, scratch);
    ASSERT_EQ(out, want) << "'" << text << "'";
  }
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
