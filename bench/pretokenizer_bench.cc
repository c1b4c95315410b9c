// Pre-tokenizer (and UTF-8 validator) throughput on generated text: English
// prose, source code, multilingual text, and the pathological shapes that
// would expose any rescanning. Texts are ~1 MB and built deterministically.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "regex_split.h"
#include "sp/pretokenizer.h"
#include "sp/unicode.h"

namespace {

constexpr size_t kTextBytes = size_t{1} << 20;

std::string english_prose() {
  static const char* const kWords[] = {
      "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
      "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
      "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
      "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "people",
      "government", "information", "development", "university", "important", "between",
      "because", "through", "different", "following", "community", "experience", "history",
      "however", "language", "research", "national", "September", "London", "1984", "2023",
      "don't", "it's", "they're", "we've", "I'm", "you'll", "she'd", "company's"};
  std::mt19937 rng(1);
  std::string s;
  while (s.size() < kTextBytes) {
    const int words = 5 + rng() % 20;
    for (int w = 0; w < words; ++w) {
      std::string word = kWords[rng() % std::size(kWords)];
      if (w == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
      if (w > 0) s += ' ';
      s += word;
      if (w + 1 < words && rng() % 12 == 0) s += ',';
    }
    s += rng() % 10 == 0 ? "?" : ".";
    s += rng() % 6 == 0 ? "\n\n" : " ";
  }
  return s;
}

std::string source_code() {
  static const char* const kLines[] = {
      "#include <vector>", "int main(int argc, char** argv) {", "  for (int i = 0; i < n; ++i) {",
      "    total += values[i] * 2;", "    if (x->next != nullptr) return -1;", "  }",
      "  // Returns the sum of the first n values.", "    std::string name = \"hello_world\";",
      "def parse(self, text: str) -> list[int]:", "        return [int(t) for t in text.split(',')]",
      "\tself.cache[key] = value  # tab-indented", "}", ""};
  std::mt19937 rng(2);
  std::string s;
  while (s.size() < kTextBytes) {
    s += kLines[rng() % std::size(kLines)];
    s += '\n';
  }
  return s;
}

std::string multilingual() {
  static const char* const kPhrases[] = {
      "The quick brown fox jumps over the lazy dog. ",
      "\u4EBA\u5DE5\u667A\u80FD\u6B63\u5728\u6539\u53D8\u4E16\u754C\u3002",
      "\u0418\u0441\u043A\u0443\u0441\u0441\u0442\u0432\u0435\u043D\u043D\u044B\u0439 "
      "\u0438\u043D\u0442\u0435\u043B\u043B\u0435\u043A\u0442 \u043C\u0435\u043D\u044F\u0435\u0442 "
      "\u043C\u0438\u0440. ",
      "\u0627\u0644\u0630\u0643\u0627\u0621 \u0627\u0644\u0627\u0635\u0637\u0646\u0627\u0639\u064A "
      "\u064A\u063A\u064A\u0631 \u0627\u0644\u0639\u0627\u0644\u0645. ",
      "\u0915\u0943\u0924\u094D\u0930\u093F\u092E \u092C\u0941\u0926\u094D\u0927\u093F\u092E\u0924"
      "\u094D\u0924\u093E \u0926\u0941\u0928\u093F\u092F\u093E \u092C\u0926\u0932 \u0930\u0939\u0940 "
      "\u0939\u0948\u0964 ",
      "\uC778\uACF5\uC9C0\uB2A5\uC774 \uC138\uC0C1\uC744 \uBC14\uAFB8\uACE0 \uC788\uB2E4. ",
      "Caf\u00E9 na\u00EFve \u00FCber se\u00F1or. ", "\U0001F600\U0001F44D\U0001F3FD \u2764\uFE0F ",
      "\u65E5\u672C\u8A9E\u306E\u30C6\u30AD\u30B9\u30C8\u3067\u3059\u3002\n"};
  std::mt19937 rng(3);
  std::string s;
  while (s.size() < kTextBytes) s += kPhrases[rng() % std::size(kPhrases)];
  return s;
}

std::string repeat(std::string_view unit) {
  std::string s;
  while (s.size() < kTextBytes) s += unit;
  return s;
}

// The batch API, as a tokenizer loop would use it: one vector reused (the
// 64-byte window path for ASCII text, the scanner elsewhere).
void run_pretokenize(benchmark::State& state, const std::string& text) {
  std::vector<std::string_view> pieces;
  for (auto _ : state) {
    sp::gpt2_pretokenize(text, pieces);
    benchmark::DoNotOptimize(pieces.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["pieces"] = static_cast<double>(pieces.size());
  state.counters["bytes/piece"] = static_cast<double>(text.size()) / std::max<size_t>(1, pieces.size());
}

void BM_Pretokenize_EnglishProse(benchmark::State& s) { run_pretokenize(s, english_prose()); }
void BM_Pretokenize_SourceCode(benchmark::State& s) { run_pretokenize(s, source_code()); }
void BM_Pretokenize_Multilingual(benchmark::State& s) { run_pretokenize(s, multilingual()); }
void BM_Pretokenize_AllLetters(benchmark::State& s) { run_pretokenize(s, repeat("a")); }
void BM_Pretokenize_AllDigits(benchmark::State& s) { run_pretokenize(s, repeat("7")); }
void BM_Pretokenize_AllPunctuation(benchmark::State& s) { run_pretokenize(s, repeat(".")); }
void BM_Pretokenize_AllSpaces(benchmark::State& s) { run_pretokenize(s, repeat(" ") + "x"); }
void BM_Pretokenize_AllNewlines(benchmark::State& s) { run_pretokenize(s, repeat("\n") + "x"); }
void BM_Pretokenize_NewlineSpace(benchmark::State& s) { run_pretokenize(s, repeat("\n ") + "x"); }
void BM_Pretokenize_Contractions(benchmark::State& s) { run_pretokenize(s, repeat("'s")); }
void BM_Pretokenize_CJK(benchmark::State& s) { run_pretokenize(s, repeat("\u4E2D")); }

// The single-piece API, as a caller that encodes each piece right away would use it.
void BM_PretokenEnd_EnglishProse(benchmark::State& state) {
  const std::string text = english_prose();
  for (auto _ : state) {
    size_t pos = 0, n = 0;
    while (pos < text.size()) pos = sp::gpt2_pretoken_end(text, pos), ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

// Every pattern's scanner through pretoken_end (kGpt2 there is
// gpt2_pretoken_end, without the window path), and PCRE2 running the same
// regex, the fallback's speed for comparison.
void run_pattern(benchmark::State& state, sp::PretokenPattern p, const std::string& text) {
  size_t n = 0;
  for (auto _ : state) {
    size_t pos = 0;
    n = 0;
    while (pos < text.size()) pos = sp::pretoken_end(p, text, pos), ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["pieces"] = static_cast<double>(n);
}

// The encoders' path: for_each_pretoken, through the pattern's 64-byte
// window (every pattern has one) and its scanner where the window declines.
void run_for_each(benchmark::State& state, sp::PretokenPattern p, const std::string& text) {
  size_t n = 0;
  for (auto _ : state) {
    n = 0;
    sp::for_each_pretoken(p, text, [&](size_t, size_t, const char*) { ++n; });
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["pieces"] = static_cast<double>(n);
}

void run_pcre2(benchmark::State& state, sp::PretokenPattern p, const std::string& text) {
  const sp::RegexSplitter splitter(sp::pretoken_regex(p));
  std::vector<std::pair<size_t, size_t>> matches;
  for (auto _ : state) {
    splitter.find_matches(text, matches);
    benchmark::DoNotOptimize(matches.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["pieces"] = static_cast<double>(matches.size());
}

const std::string& bench_text(int which) {
  static const std::string texts[] = {english_prose(), source_code(), multilingual()};
  return texts[which];
}

void register_pattern_benchmarks() {
  using P = sp::PretokenPattern;
  const std::pair<P, const char*> patterns[] = {
      {P::kGpt2, "gpt2"},   {P::kCl100k, "cl100k"}, {P::kLlama3, "llama3"},           {P::kQwen2, "qwen2"},
      {P::kO200k, "o200k"}, {P::kMegatronV1, "megatron_v1"}, {P::kMegatronV2, "megatron_v2"}};
  const char* const text_names[] = {"EnglishProse", "SourceCode", "Multilingual"};
  for (const auto& [p, name] : patterns) {
    for (int t = 0; t < 3; ++t) {
      benchmark::RegisterBenchmark((std::string("BM_PretokenEnd_") + name + "_" + text_names[t]).c_str(),
                                   [p = p, t](benchmark::State& s) { run_pattern(s, p, bench_text(t)); });
      benchmark::RegisterBenchmark((std::string("BM_ForEachPretoken_") + name + "_" + text_names[t]).c_str(),
                                   [p = p, t](benchmark::State& s) { run_for_each(s, p, bench_text(t)); });
    }
  }
  for (const auto& [p, name] : patterns) {
    benchmark::RegisterBenchmark((std::string("BM_Pcre2_") + name + "_EnglishProse").c_str(),
                                 [p = p](benchmark::State& s) { run_pcre2(s, p, bench_text(0)); });
  }
}

const int kPatternBenchmarks = (register_pattern_benchmarks(), 0);

void BM_ValidateUtf8_EnglishProse(benchmark::State& state) {
  const std::string text = english_prose();
  for (auto _ : state) benchmark::DoNotOptimize(sp::is_valid_utf8(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_ValidateUtf8_Multilingual(benchmark::State& state) {
  const std::string text = multilingual();
  for (auto _ : state) benchmark::DoNotOptimize(sp::is_valid_utf8(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

BENCHMARK(BM_Pretokenize_EnglishProse);
BENCHMARK(BM_Pretokenize_SourceCode);
BENCHMARK(BM_Pretokenize_Multilingual);
BENCHMARK(BM_Pretokenize_AllLetters);
BENCHMARK(BM_Pretokenize_AllDigits);
BENCHMARK(BM_Pretokenize_AllPunctuation);
BENCHMARK(BM_Pretokenize_AllSpaces);
BENCHMARK(BM_Pretokenize_AllNewlines);
BENCHMARK(BM_Pretokenize_NewlineSpace);
BENCHMARK(BM_Pretokenize_Contractions);
BENCHMARK(BM_Pretokenize_CJK);
BENCHMARK(BM_PretokenEnd_EnglishProse);
BENCHMARK(BM_ValidateUtf8_EnglishProse);
BENCHMARK(BM_ValidateUtf8_Multilingual);

}  // namespace
