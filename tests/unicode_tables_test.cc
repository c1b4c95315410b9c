// The generated class tables: the committed file is what the generator makes
// from the installed UCD, and the classes are right across scripts, planes
// and the First/Last ranges of UnicodeData.txt.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "sp/unicode.h"
#include "test_support.h"

namespace sp {
namespace {

constexpr const char* kUcdDir = "/usr/share/unicode";

// "15.0.0" from the first line of PropList.txt, or "" when unreadable.
std::string installed_ucd_version() {
  const std::string path = std::string(kUcdDir) + "/PropList.txt";
  if (!test::file_exists(path)) return "";
  const std::string text = test::read_file(path);
  std::smatch m;
  const std::string first = text.substr(0, text.find('\n'));
  if (!std::regex_search(first, m, std::regex(R"(PropList-(\d+\.\d+\.\d+)\.txt)"))) return "";
  return m[1];
}

TEST(UnicodeTables, CommittedFileMatchesGenerator) {
  SP_REQUIRE_FIXTURE(test::file_exists(std::string(kUcdDir) + "/UnicodeData.txt"), "unicode-data not installed");
  const std::string version = installed_ucd_version();
  SP_REQUIRE_FIXTURE(version == unicode_version(),
                     "installed UCD is " + version + ", tables are " + std::string(unicode_version()));
  SP_REQUIRE_FIXTURE(test::run_command("command -v python3").exit_code == 0, "no python3");
  test::TempDir dir;
  const std::string out = dir / "unicode_tables.inc";
  const auto r = test::run_command("python3 " + test::shell_quote(std::string(SP_SOURCE_DIR) +
                                                                   "/scripts/gen_unicode_tables.py") +
                                   " --ucd-dir " + kUcdDir + " --output " + test::shell_quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string committed = test::read_file(std::string(SP_SOURCE_DIR) + "/src/unicode_tables.inc");
  const std::string regenerated = test::read_file(out);
  EXPECT_GT(committed.size(), 10000u);
  EXPECT_TRUE(committed == regenerated)
      << "src/unicode_tables.inc is stale: rerun scripts/gen_unicode_tables.py";
}

TEST(UnicodeTables, VersionIsNamed) {
  EXPECT_EQ(unicode_version(), "15.0.0");
}

void expect_class(const std::vector<char32_t>& cps, CharClass want, const char* what) {
  for (char32_t cp : cps) {
    EXPECT_EQ(static_cast<int>(char_class(cp)), static_cast<int>(want))
        << what << " U+" << std::hex << std::uppercase << static_cast<uint32_t>(cp);
  }
}

TEST(UnicodeTables, Letters) {
  expect_class({U'A', U'Z', U'a', U'z',
                0x00AA,   // ª Lo
                0x00B5,   // µ Ll
                0x00C0, 0x00DF, 0x00FF,
                0x01C5,   // ǅ Lt
                0x02B0,   // ʰ Lm
                0x0391, 0x03C9,          // Greek
                0x0416, 0x044F,          // Cyrillic
                0x0531,                  // Armenian
                0x05D0, 0x05EA,          // Hebrew
                0x0627, 0x064A,          // Arabic
                0x0905, 0x0939,          // Devanagari
                0x0E01,                  // Thai
                0x10D0,                  // Georgian
                0x1100,                  // Hangul Jamo (Lo)
                0x3005,                  // 々 Lm
                0x3042, 0x30A2,          // Hiragana, Katakana
                0x3400, 0x4DBF,          // CJK Ext A: a First/Last range, both ends
                0x4E00, 0x4E2D, 0x9FFF,  // CJK Unified Ideographs range
                0xAC00, 0xD7A3,          // Hangul syllables range, both ends
                0xF900,                  // CJK compatibility ideograph
                0xFF21,                  // fullwidth A
                0x10400,                 // Deseret
                0x17000, 0x187F7,        // Tangut range
                0x1D400, 0x1D7CB,        // mathematical alphanumerics
                0x1E030,                 // Cyrillic modifier letter, new in 15.0
                0x20000, 0x2A6DF,        // CJK Ext B range
                0x31350, 0x323AF},       // CJK Ext H, new in 15.0
               CharClass::kLetter, "letter");
}

TEST(UnicodeTables, Numbers) {
  expect_class({U'0', U'9',
                0x00B2, 0x00B3, 0x00B9,  // superscripts (No)
                0x00BC,                  // ¼ No
                0x0660, 0x0663, 0x0669,  // Arabic-Indic digits
                0x06F0,                  // Extended Arabic-Indic
                0x0966,                  // Devanagari zero
                0x16EE,                  // runic Nl
                0x2160, 0x216B,          // Roman numerals Ⅰ, Ⅻ (Nl)
                0x2460,                  // ① No
                0x3007,                  // 〇 Nl
                0xFF10,                  // fullwidth zero
                0x10107,                 // Aegean number
                0x12400,                 // cuneiform numeric sign (Nl)
                0x1D7CE,                 // mathematical bold zero (Nd)
                0x1F100},                // digit zero full stop (No)
               CharClass::kNumber, "number");
}

TEST(UnicodeTables, WhiteSpaceIsExactlyThe25) {
  const std::vector<char32_t> expected = {
      0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
      0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
      0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  std::vector<char32_t> found;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (char_class(cp) == CharClass::kSpace) found.push_back(cp);
  }
  EXPECT_EQ(found, expected);
}

TEST(UnicodeTables, Other) {
  expect_class({0x0000, 0x0008, 0x000E,
                0x001C, 0x001D, 0x001E, 0x001F,  // separators: not White_Space
                U'\'', U'!', U'_', U'~', 0x007F,
                0x0080, 0x009F,                  // C1 controls
                0x00A9, 0x00AD, 0x00D7,          // © soft hyphen ×
                0x0301, 0x0308,                  // combining marks (Mn)
                0x0903,                          // Mc
                0x20DD,                          // Me
                0x180E,                          // Mongolian vowel separator (Cf since 6.3)
                0x200B, 0x200C, 0x200D,          // zero width space / non-joiner / joiner
                0x2018, 0x2019, 0x201C,          // curly quotes
                0x2764, 0x1F600, 0x1F468, 0x1F3FB,  // emoji and a skin-tone modifier
                0x2E80, 0x3002, 0x4DC0, 0xFF01,  // radical, 。, hexagram, ！
                0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF,
                0xE000, 0xF8FF, 0xF0000, 0x10FFFD,  // private use (ranges)
                0xD800, 0xDBFF, 0xDFFF,          // surrogates (a range too)
                0x0378, 0xD7A4, 0x2A6E0, 0x323B0, 0x2FFFF, 0xE0080,  // unassigned
                0x10FFFF},
               CharClass::kOther, "other");
}

TEST(UnicodeTables, OutOfRangeIsOther) {
  EXPECT_EQ(char_class(0x110000), CharClass::kOther);
  EXPECT_EQ(char_class(0xFFFFFFFF), CharClass::kOther);
}

TEST(UnicodeTables, ByteTableAgreesWithCodePointTable) {
  for (unsigned b = 0; b < 0x80; ++b) {
    EXPECT_EQ(detail::kByteClass[b], static_cast<uint8_t>(char_class(b))) << b;
  }
  for (unsigned b = 0x80; b < 0x100; ++b) EXPECT_EQ(detail::kByteClass[b], kMultiByteClass) << b;
}

// Cheap guard against a table that lost a whole range: the class counts of
// the Unicode 15.0 tables (letters include the ~97k CJK ideographs).
TEST(UnicodeTables, ClassCounts) {
  size_t counts[4] = {};
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) ++counts[static_cast<int>(char_class(cp))];
  EXPECT_EQ(counts[static_cast<int>(CharClass::kLetter)], 136104u);
  EXPECT_EQ(counts[static_cast<int>(CharClass::kNumber)], 1831u);
  EXPECT_EQ(counts[static_cast<int>(CharClass::kSpace)], 25u);
}

// The case classes refine the classes: letters split by case, marks out of
// "other"; numbers and White_Space are the same code points in both.
TEST(UnicodeTables, CaseClassesRefineClasses) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const CaseClass k = case_class(cp);
    CharClass want = CharClass::kOther;
    if (k == CaseClass::kLetter || k == CaseClass::kUpper || k == CaseClass::kLower) want = CharClass::kLetter;
    if (k == CaseClass::kNumber) want = CharClass::kNumber;
    if (k == CaseClass::kSpace) want = CharClass::kSpace;
    if (char_class(cp) != want) {
      ADD_FAILURE() << "U+" << std::hex << std::uppercase << static_cast<uint32_t>(cp);
      break;
    }
  }
}

void expect_case(const std::vector<char32_t>& cps, CaseClass want, const char* what) {
  for (char32_t cp : cps) {
    EXPECT_EQ(static_cast<int>(case_class(cp)), static_cast<int>(want))
        << what << " U+" << std::hex << std::uppercase << static_cast<uint32_t>(cp);
  }
}

TEST(UnicodeTables, CaseClasses) {
  expect_case({U'A', U'Z', 0x00C0, 0x0130, 0x0391, 0x0416, 0x1E9E, 0x212A, 0xFF21, 0x10400, 0x1D400,
               0x01C5, 0x1F88},  // ǅ and ᾈ are Lt
              CaseClass::kUpper, "Lu/Lt");
  expect_case({U'a', U'z', 0x00B5, 0x00DF, 0x017F, 0x03C9, 0x044F, 0x1D41A, 0xFF41}, CaseClass::kLower, "Ll");
  expect_case({0x00AA, 0x02B0, 0x3005, 0x4E2D, 0x3042, 0xAC00, 0x05D0, 0x0627, 0x20000, 0x31350},
              CaseClass::kLetter, "Lm/Lo");
  expect_case({0x0301, 0x0308, 0x0903, 0x093F, 0x20DD, 0xFE0F, 0x0E31, 0xE0100},
              CaseClass::kMark, "M*");
  expect_case({U'0', U'9', 0x00B2, 0x0663, 0x2160, 0xFF10}, CaseClass::kNumber, "N*");
  expect_case({0x09, 0x0A, 0x0D, 0x20, 0x85, 0xA0, 0x2028, 0x3000}, CaseClass::kSpace, "White_Space");
  expect_case({U'\'', U'!', 0x1C, 0x180E, 0x200D, 0x2019, 0x1F600, 0x1F3FB, 0xE000, 0x0378}, CaseClass::kOther,
              "other");
  EXPECT_EQ(case_class(0x110000), CaseClass::kOther);
}

TEST(UnicodeTables, CaseByteTableAgreesWithCodePointTable) {
  for (unsigned b = 0; b < 0x80; ++b) {
    EXPECT_EQ(detail::kCaseByteClass[b], static_cast<uint8_t>(case_class(b))) << b;
  }
  for (unsigned b = 0x80; b < 0x100; ++b) EXPECT_EQ(detail::kCaseByteClass[b], kMultiByteCaseClass) << b;
}

TEST(UnicodeTables, CaseClassCounts) {
  size_t counts[7] = {};
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) ++counts[static_cast<int>(case_class(cp))];
  EXPECT_EQ(counts[static_cast<int>(CaseClass::kUpper)], 1862u);  // Lu 1831 + Lt 31
  EXPECT_EQ(counts[static_cast<int>(CaseClass::kLower)], 2233u);
  EXPECT_EQ(counts[static_cast<int>(CaseClass::kLetter)], 132009u);
  EXPECT_EQ(counts[static_cast<int>(CaseClass::kMark)], 2450u);
  EXPECT_EQ(counts[static_cast<int>(CaseClass::kNumber)], 1831u);
  EXPECT_EQ(counts[static_cast<int>(CaseClass::kSpace)], 25u);
}

}  // namespace
}  // namespace sp
