// TextTokenizer::decode for every family load_tokenizer loads, against the
// reference decoders: Hugging Face tokenizers and tiktoken through the goldens
// tests/golden/dec_*.jsonl (gen_decode_golden.mjs), libsentencepiece's
// DecodeIds called here, GPT-2 on its encode goldens. The corpus round trip
// (decode of the reference's ids of each corpus text) is part of each golden.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <simdjson.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hf_decoder.h"
#include "sentencepiece_decoder.h"
#include "sentencepiece_proto.h"
#include "sp/error.h"
#include "sp/tokenizer.h"
#include "sp/unicode.h"
#include "test_support.h"
#include "tokenizer_families.h"

namespace sp {
namespace {

const std::string kGolden = std::string(SP_SOURCE_DIR) + "/tests/golden/";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// One line of a dec_*.jsonl file (see gen_decode_golden.mjs).
struct DecodeGolden {
  std::string what;            // constructed ids: what they are
  std::vector<uint32_t> ids;   // constructed ids (empty for corpus lines)
  int64_t line = -1;           // corpus lines: the tok_*.jsonl line
  std::string field;           // corpus lines: "ids" or "ids_no_special"
  bool same = false, error = false;
  std::string text, bytes_b64;  // "text" (HF's string) or "bytes" (base64 of tiktoken's bytes)
  bool has_text = false, has_bytes = false;
  std::string decoder;  // dec_synthetic: the decoder as JSON
};

std::vector<DecodeGolden> read_decode_golden(const std::string& name) {
  const std::string path = kGolden + "dec_" + name + ".jsonl";
  simdjson::dom::parser parser;
  simdjson::dom::document_stream stream;
  const simdjson::padded_string json(test::read_file(path));
  if (parser.parse_many(json).get(stream)) throw std::runtime_error(path + ": not JSON lines");
  std::vector<DecodeGolden> out;
  for (auto doc : stream) {
    simdjson::dom::element e;
    if (doc.get(e)) throw std::runtime_error(path + ": bad JSON line");
    DecodeGolden g;
    std::string_view s;
    int64_t n;
    simdjson::dom::array ids;
    simdjson::dom::element d;
    if (!e["what"].get_string().get(s)) g.what = std::string(s);
    if (!e["ids"].get_array().get(ids))
      for (auto id : ids) g.ids.push_back(static_cast<uint32_t>(id.get_uint64().value()));
    if (!e["line"].get_int64().get(n)) g.line = n;
    if (!e["field"].get_string().get(s)) g.field = std::string(s);
    bool flag;
    g.same = !e["same"].get_bool().get(flag) && flag;
    g.error = !e["error"].get_bool().get(flag) && flag;
    if ((g.has_text = !e["text"].get_string().get(s))) g.text = std::string(s);
    if ((g.has_bytes = !e["bytes"].get_string().get(s))) g.bytes_b64 = std::string(s);
    if (!e["decoder"].get(d)) g.decoder = simdjson::to_string(d);
    out.push_back(std::move(g));
  }
  return out;
}

// The ids of the corpus line a golden line names, and that line's text.
const test::GoldenLine& corpus_line(const std::string& model, const DecodeGolden& g,
                                    std::map<std::string, std::vector<test::GoldenLine>>& cache) {
  const std::string key = model + "/" + g.field;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, test::read_golden(kGolden + "tok_" + model + ".jsonl", g.field)).first;
  return it->second.at(static_cast<size_t>(g.line));
}

// "bytes e4 b8" / "bytes e4 b8 after text": the bytes the ids stand for.
std::optional<std::string> bytes_case(const std::string& what, std::string_view text_before) {
  if (!what.starts_with("bytes ")) return std::nullopt;
  std::string out, hex = what.substr(6);
  const bool after = hex.ends_with(" after text");
  if (after) hex.resize(hex.size() - 11);
  for (size_t i = 0; i < hex.size(); i += 3) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return after ? std::string(text_before) + out : out;
}

std::string show(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7F) out += static_cast<char>(c);
    else out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
  }
  return out;
}

std::string ids_text(const std::vector<uint32_t>& ids) {
  std::string s;
  for (uint32_t id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

std::string models_dir() { return test::tokenizers_dir(); }

// ---------------------------------------------------------------- Hugging Face

class HfDecodeGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(HfDecodeGolden, EqualsTokenizersDecode) {
  const std::string model = GetParam(), dir = models_dir();
  SP_REQUIRE_FIXTURE(!dir.empty() && test::file_exists(dir + "/" + model + "/tokenizer.json"),
                     "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  TokenizerOptions o;
  o.type = "HuggingFaceTokenizer";
  o.model = dir + "/" + model;
  const TextTokenizer t = load_tokenizer(o);
  const auto hf_text = load_hf_text_decoder(o);
  const auto golden = read_decode_golden(model);
  std::map<std::string, std::vector<test::GoldenLine>> corpus;
  size_t corpus_lines = 0, round_trips = 0, constructed = 0, bytes_cases = 0, wrong = 0;
  for (const DecodeGolden& g : golden) {
    std::vector<uint32_t> ids = g.ids;
    std::string expected = g.text, label = g.what;
    if (g.line >= 0) {
      const test::GoldenLine& c = corpus_line(model, g, corpus);
      ids = c.ids;
      if (g.same) expected = c.text, ++round_trips;
      label = "corpus line " + std::to_string(g.line + 1) + " " + g.field;
      ++corpus_lines;
    } else {
      ASSERT_TRUE(g.has_text) << g.what;
      ++constructed;
    }
    const std::string raw = t.decode(ids), text = hf_text(ids);
    bool ok = text == expected;
    // Raw bytes: HF's string where it replaced nothing; where it did, byte
    // ids alone decode to exactly their bytes.
    const bool replaced = expected.find(kReplacement) != std::string::npos;
    if (!replaced) ok = ok && raw == expected;
    if (const auto bytes = bytes_case(g.what, ""); bytes && !g.what.ends_with("after text")) {
      if (replaced) ok = ok && raw == *bytes;
      ++bytes_cases;
    }
    if (!ok && ++wrong <= 5)
      ADD_FAILURE() << model << " " << label << " [" << ids_text(ids).substr(0, 100) << "]: expected "
                    << show(expected) << ", got text " << show(text) << ", raw " << show(raw);
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(corpus_lines, 1600u);
  EXPECT_GT(round_trips, 800u);  // most of the corpus decodes back to itself
  EXPECT_GT(constructed, 250u);
  EXPECT_EQ(bytes_cases, 20u);
}

INSTANTIATE_TEST_SUITE_P(Models, HfDecodeGolden, ::testing::Values("llama3", "qwen3", "llama2", "gemma"));

// Every supported decoder type, alone and chained, over a small tokenizer.json.
TEST(HfDecodeSynthetic, EveryDecoderEqualsTokenizers) {
  const auto golden = read_decode_golden("synthetic");
  const std::string base = test::read_file(kGolden + "dec_synthetic_tokenizer.json");
  const std::string null_decoder = "\"decoder\": null";
  ASSERT_NE(base.find(null_decoder), std::string::npos);
  test::TempDir dir;
  std::string current = "?";
  std::function<std::string(std::span<const uint32_t>)> hf_text, raw;
  std::set<std::string> types;
  size_t wrong = 0;
  for (const DecodeGolden& g : golden) {
    if (g.decoder != current) {
      current = g.decoder;
      std::string json = base;
      json.replace(json.find(null_decoder), null_decoder.size(), "\"decoder\": " + g.decoder);
      test::write_file(dir / "tokenizer.json", json);
      TokenizerOptions o;
      o.type = "HuggingFaceTokenizer";
      o.model = dir / "tokenizer.json";
      o.eod_id = 0;
      hf_text = load_hf_text_decoder(o);
      raw = load_tokenizer(o).decode;
      types.insert(g.decoder.substr(0, g.decoder.find(',')));
    }
    const std::string text = hf_text(g.ids);
    bool ok = text == g.text;
    if (g.text.find(kReplacement) == std::string::npos) ok = ok && raw(g.ids) == g.text;
    if (!ok && ++wrong <= 10)
      ADD_FAILURE() << g.decoder << " [" << ids_text(g.ids) << "]: expected " << show(g.text) << ", got "
                    << show(text) << ", raw " << show(raw(g.ids));
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(golden.size(), 2000u);
  EXPECT_GE(types.size(), 9u);  // null and the eight types
}

TEST(HfDecodeSynthetic, UnsupportedDecoderIsAnInputErrorAtLoadNamingIt) {
  const std::string base = test::read_file(kGolden + "dec_synthetic_tokenizer.json");
  const std::string null_decoder = "\"decoder\": null";
  test::TempDir dir;
  for (const std::string type : {"WordPiece", "CTC", "Fancy"}) {
    std::string json = base;
    json.replace(json.find(null_decoder), null_decoder.size(),
                 "\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Fuse\"}, {\"type\": \"" + type +
                     "\", \"prefix\": \"##\", \"cleanup\": true}]}");
    test::write_file(dir / "tokenizer.json", json);
    TokenizerOptions o;
    o.type = "HuggingFaceTokenizer";
    o.model = dir / "tokenizer.json";
    o.eod_id = 0;
    try {
      load_tokenizer(o);
      ADD_FAILURE() << type << " loaded";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("decoder type " + type + " is not supported"), std::string::npos)
          << e.what();
    }
  }
}

TEST(HfDecodeSynthetic, AnIdWithoutATokenIsAnErrorNamingIt) {
  test::TempDir dir;
  test::write_file(dir / "tokenizer.json", test::read_file(kGolden + "dec_synthetic_tokenizer.json"));
  TokenizerOptions o;
  o.type = "HuggingFaceTokenizer";
  o.model = dir / "tokenizer.json";
  o.eod_id = 0;
  const TextTokenizer t = load_tokenizer(o);
  EXPECT_EQ(t.decode(std::vector<uint32_t>{1, 2}), "a b");  // no decoder: tokens joined with spaces
  try {
    t.decode(std::vector<uint32_t>{1, static_cast<uint32_t>(t.vocab_size)});
    ADD_FAILURE() << "decoded an id past the vocabulary";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token id " + std::to_string(t.vocab_size)), std::string::npos) << e.what();
  }
}

TEST(HfDecodeLossy, MaximalSubpartsAsRust) {
  // Rust's from_utf8_lossy (one U+FFFD per maximal subpart), checked on the
  // Unicode standard's own example (Table 3-8) and the goldens' cases.
  auto lossy = [](std::string_view s) {
    std::string out;
    hf::append_utf8_lossy(s, out);
    return out;
  };
  const std::string r(kReplacement);
  EXPECT_EQ(lossy("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + r + r + r + "b" + r + "c" + r + r + "d");
  EXPECT_EQ(lossy("\xE4\xB8"), r);
  EXPECT_EQ(lossy("\xED\xA0\x80"), r + r + r);  // a surrogate: ED takes 80..9F only
  EXPECT_EQ(lossy("\xC0\x80"), r + r);
  EXPECT_EQ(lossy("\xF0\x9F\x98"), r);
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), r + r + r + r);
  EXPECT_EQ(lossy("ok \xE4\xB8\xAD"), "ok \xE4\xB8\xAD");
}

// ---------------------------------------------------------------- tiktoken

struct TiktokenCase {
  const char* golden;  // dec_<golden>.jsonl
  const char* corpus;  // tok_<corpus>.jsonl
  const char* file;    // under the models' tiktoken/
  uint64_t vocab_size; // --vocab-size, 0: none
};

class TiktokenDecodeGolden : public ::testing::TestWithParam<TiktokenCase> {};

TEST_P(TiktokenDecodeGolden, EqualsTiktokenDecode) {
  const TiktokenCase c = GetParam();
  const std::string dir = models_dir(), file = dir + "/tiktoken/" + c.file;
  SP_REQUIRE_FIXTURE(!dir.empty() && test::file_exists(file),
                     "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  TokenizerOptions o;
  o.type = "TikTokenizer";
  o.model = file;
  if (c.vocab_size) o.vocab_size = c.vocab_size;
  const TextTokenizer t = load_tokenizer(o);
  std::map<std::string, std::vector<test::GoldenLine>> corpus;
  size_t round_trips = 0, errors = 0, specials = 0, bytes_cases = 0, wrong = 0;
  for (const DecodeGolden& g : read_decode_golden(c.golden)) {
    std::vector<uint32_t> ids = g.ids;
    std::string label = g.what;
    if (g.line >= 0) {
      const test::GoldenLine& line = corpus_line(c.corpus, g, corpus);
      ids = line.ids;
      label = "corpus line " + std::to_string(g.line + 1);
      ASSERT_TRUE(g.same) << label << ": tiktoken's decode of encode_ordinary is the text";
      const std::string raw = t.decode(ids);
      if (raw == line.text) ++round_trips;
      else if (++wrong <= 5) ADD_FAILURE() << label << ": " << show(raw) << " is not " << show(line.text);
      continue;
    }
    if (g.error) {
      ++errors;
      try {
        t.decode(ids);
        if (++wrong <= 5) ADD_FAILURE() << label << ": decoded an id tiktoken has no entry for";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("token id " + std::to_string(ids.back())), std::string::npos)
            << e.what();
      }
      continue;
    }
    ASSERT_TRUE(g.has_bytes) << label;
    const std::string raw = t.decode(ids);
    specials += g.what.starts_with("special");
    if (const auto bytes = bytes_case(g.what, ""); bytes && !g.what.ends_with("after text")) {
      EXPECT_EQ(raw, *bytes) << label;
      ++bytes_cases;
    }
    if (test::base64(raw) != g.bytes_b64 && ++wrong <= 5)
      ADD_FAILURE() << label << " [" << ids_text(ids).substr(0, 100) << "]: got " << show(raw) << ", base64 "
                    << test::base64(raw) << " is not " << g.bytes_b64;
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(round_trips, 800u);
  EXPECT_GE(errors, 2u);
  EXPECT_GE(specials, 4u);
  EXPECT_EQ(bytes_cases, 20u);
}

INSTANTIATE_TEST_SUITE_P(Encodings, TiktokenDecodeGolden,
                         ::testing::Values(TiktokenCase{"cl100k", "cl100k", "cl100k_base.tiktoken", 0},
                                           TiktokenCase{"o200k", "o200k", "o200k_base.tiktoken", 0},
                                           TiktokenCase{"megatron_cl100k", "megatron_cl100k_v2",
                                                        "cl100k_megatron.json", 100256 + 1000}),
                         [](const auto& info) { return std::string(info.param.golden); });

// ---------------------------------------------------------------- SentencePiece

constexpr const char* kSentencePieceTypes[] = {"SentencePieceTokenizer", "GPTSentencePieceTokenizer",
                                               "Llama2Tokenizer"};

class SentencePieceDecode : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

// libsentencepiece's DecodeIds is the reference: on the corpus's ids, on every
// single id, and on random id sequences (byte pieces, control and unknown
// pieces, leading ▁ in any position).
TEST_P(SentencePieceDecode, EqualsLibraryDecodeIds) {
  const std::string dir = models_dir(), model = dir + "/spm/" + GetParam().second;
  SP_REQUIRE_FIXTURE(!dir.empty() && test::file_exists(model),
                     "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  sentencepiece::SentencePieceProcessor processor;
  ASSERT_TRUE(processor.Load(model).ok());
  std::string why_not;
  const auto decoder = SentencePieceDecoder::build(
      parse_sentencepiece_model(processor.serialized_model_proto(), model), &why_not);
  ASSERT_TRUE(decoder) << why_not;
  std::vector<TextTokenizer> tokenizers;
  for (const char* type : kSentencePieceTypes) {
    TokenizerOptions o;
    o.type = type;
    o.model = model;
    tokenizers.push_back(load_tokenizer(o));
  }
  size_t wrong = 0, replaced = 0, round_trips = 0;
  auto check = [&](const std::vector<uint32_t>& ids, const std::string& label) {
    std::string expected;
    ASSERT_TRUE(processor.Decode(std::vector<int>(ids.begin(), ids.end()), &expected).ok());
    const std::string text = decoder->decode(ids, true);
    bool ok = text == expected;
    // Raw bytes: the library's string where it replaced nothing (the two
    // modes differ only in that replacement).
    for (const TextTokenizer& t : tokenizers) {
      const std::string raw = t.decode(ids);
      ok = ok && raw == decoder->decode(ids);
      if (expected.find(kReplacement) == std::string::npos) ok = ok && raw == expected;
    }
    replaced += expected.find(kReplacement) != std::string::npos;
    if (!ok && ++wrong <= 5)
      ADD_FAILURE() << label << " [" << ids_text(ids).substr(0, 100) << "]: expected " << show(expected) << ", got "
                    << show(text) << ", raw " << show(tokenizers[0].decode(ids));
  };
  const auto lines = test::read_golden(kGolden + "tok_" + GetParam().first + ".jsonl");
  ASSERT_GT(lines.size(), 800u);
  for (size_t i = 0; i < lines.size(); ++i) {
    check(lines[i].ids, "corpus line " + std::to_string(i + 1));
    // The round trip holds where the library's holds.
    std::string library;
    ASSERT_TRUE(processor.Decode(std::vector<int>(lines[i].ids.begin(), lines[i].ids.end()), &library).ok());
    if (library == lines[i].text) {
      EXPECT_EQ(tokenizers[0].decode(lines[i].ids), lines[i].text) << "corpus line " << i + 1;
      ++round_trips;
    }
  }
  const uint32_t pieces = static_cast<uint32_t>(processor.GetPieceSize());
  for (uint32_t id = 0; id < pieces; ++id) check({id}, "piece " + std::to_string(id));
  std::mt19937 rng(12345);
  std::vector<uint32_t> bytes_pieces;
  for (uint32_t id = 0; id < pieces; ++id)
    if (processor.IsByte(static_cast<int>(id))) bytes_pieces.push_back(id);
  for (int n = 0; n < 3000; ++n) {
    std::vector<uint32_t> ids(1 + rng() % 10);
    for (uint32_t& id : ids) {
      const uint32_t r = rng() % 8;  // control and unknown ids (0..2) and byte pieces often
      id = r == 0 ? rng() % 3 : r <= 3 && !bytes_pieces.empty() ? bytes_pieces[rng() % bytes_pieces.size()]
                                                                : rng() % pieces;
    }
    check(ids, "random");
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(round_trips, 300u);  // NFKC and whitespace removal change some texts, in the library too
  if (!bytes_pieces.empty()) {
    EXPECT_GT(replaced, 100u);  // the cases where bytes are not UTF-8 were met
  }
  for (const TextTokenizer& t : tokenizers) {
    try {
      t.decode(std::vector<uint32_t>{3, pieces});
      ADD_FAILURE() << t.name << " decoded an id past its pieces";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("token id " + std::to_string(pieces)), std::string::npos) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, SentencePieceDecode,
                         ::testing::Values(std::pair{"spm_bpe", "bpe_bytefallback.model"},
                                           std::pair{"spm_unigram", "unigram_nfkc.model"}),
                         [](const auto& info) { return std::string(info.param.first).substr(4); });

// A model with a denormalizer (here q -> Q) is decoded by the library itself,
// and the load says so.
TEST(SentencePieceDecodeDenormalizer, DecodedByTheLibrary) {
  test::TempDir dir;
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "The quick brown fox jumps over the lazy dog " + std::to_string(i * 37) + ". Pack my box, Ελλάδα.\n";
  test::write_file(dir / "train.txt", text);
  test::write_file(dir / "denormalize.tsv", "71\t51\n");
  const auto status = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + dir / "train.txt" + " --model_prefix=" + dir / "m" + " --denormalization_rule_tsv=" +
      dir / "denormalize.tsv" + " --model_type=bpe --byte_fallback=true --vocab_size=400 --num_threads=1 "
      "--minloglevel=2 --hard_vocab_limit=false");
  ASSERT_TRUE(status.ok()) << status.ToString();
  TokenizerOptions o;
  o.type = "SentencePieceTokenizer";
  o.model = dir / "m.model";
  const TextTokenizer t = load_tokenizer(o);
  ASSERT_FALSE(t.notes.empty());
  EXPECT_NE(t.notes[0].find("libsentencepiece decodes this model: the model has a denormalizer"), std::string::npos)
      << t.notes[0];
  const auto encode = t.make_encoder();
  const auto span = encode("the quick fox, 東京");
  const std::vector<uint32_t> ids(span.begin(), span.end());
  EXPECT_EQ(t.decode(ids), "the Quick fox, 東京");
  EXPECT_THROW(t.decode(std::vector<uint32_t>{static_cast<uint32_t>(t.vocab_size)}), Error);
}

// ---------------------------------------------------------------- GPT-2 and threads

TEST(Gpt2Decode, GoldenIdsDecodeToTheirText) {
  const std::string dir = test::gpt2_dir();
  SP_REQUIRE_FIXTURE(!dir.empty(), "GPT-2 vocabulary not fetched (third_party/gpt2/fetch_vocab.sh)");
  TokenizerOptions o;
  o.vocab_file = dir + "/vocab.json";
  o.merge_file = dir + "/merges.txt";
  const TextTokenizer t = load_tokenizer(o);
  const auto lines = test::read_golden(kGolden + "gpt2_golden.jsonl");
  ASSERT_GT(lines.size(), 1000u);
  for (const auto& line : lines) ASSERT_EQ(t.decode(line.ids), line.text);
  EXPECT_EQ(t.decode(std::vector<uint32_t>{15496, 50256}), "Hello<|endoftext|>");
  EXPECT_THROW(t.decode(std::vector<uint32_t>{50257}), Error);
}

TEST(TokenizerDecode, SafeFromManyThreads) {
  const std::string dir = models_dir();
  SP_REQUIRE_FIXTURE(!dir.empty() && test::file_exists(dir + "/llama2/tokenizer.json"),
                     "tokenizer models not fetched (third_party/tokenizers/fetch_models.sh)");
  struct Case {
    const char *type, *model, *golden;
  };
  for (const Case& c : {Case{"HuggingFaceTokenizer", "/llama2", "llama2"},
                        Case{"TikTokenizer", "/tiktoken/cl100k_base.tiktoken", "cl100k"},
                        Case{"SentencePieceTokenizer", "/spm/bpe_bytefallback.model", "spm_bpe"}}) {
    const std::string type = c.type;
    TokenizerOptions o;
    o.type = type;
    o.model = dir + c.model;
    const TextTokenizer t = load_tokenizer(o);
    const auto lines = test::read_golden(kGolden + "tok_" + c.golden + ".jsonl");
    std::vector<std::string> expected;
    for (const auto& line : lines) expected.push_back(t.decode(line.ids));
    std::vector<size_t> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (size_t k = 0; k < mismatches.size(); ++k)
      threads.emplace_back([&, k] {
        for (int round = 0; round < 3; ++round)
          for (size_t i = 0; i < lines.size(); ++i) mismatches[k] += t.decode(lines[i].ids) != expected[i];
      });
    for (auto& th : threads) th.join();
    for (size_t k = 0; k < mismatches.size(); ++k) EXPECT_EQ(mismatches[k], 0u) << type << " thread " << k;
  }
}

}  // namespace
}  // namespace sp
