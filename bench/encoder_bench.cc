// Throughput of BpeModel::encode (pre-tokenizer + BPE) in bytes of UTF-8 text
// per second, single thread, on:
//   prose        the GPL-3 text from /usr/share/common-licenses (real English)
//   code         this project's own C++ sources and headers
//   multilingual the non-Latin texts of tests/golden/gpt2_golden.jsonl
//   run/*        1 MiB of one character: a single megabyte-long pre-token
// "warm" keeps one BpeCache across iterations, as a worker thread does on a
// long input; "nocache" disables it to show the cost of the merge loop alone.
// Needs the GPT-2 vocab (third_party/gpt2/fetch_vocab.sh); skips without it.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sp/bpe.h"
#include "sp/pretokenizer.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string gpt2_dir() {
  if (const char* d = std::getenv("SP_GPT2_DIR")) return d;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/sp_toolkit/gpt2";
}

const sp::BpeModel* model() {
  static const sp::BpeModel* m = []() -> const sp::BpeModel* {
    const std::string dir = gpt2_dir();
    if (!std::filesystem::exists(dir + "/vocab.json")) return nullptr;
    return new sp::BpeModel(sp::BpeModel::load_gpt2(dir + "/vocab.json", dir + "/merges.txt"));
  }();
  return m;
}

// At least 1 MiB, by repeating `sample` (blank-line separated).
std::string at_least_1mib(const std::string& sample) {
  std::string s;
  if (sample.empty()) return s;
  while (s.size() < (size_t{1} << 20)) s += sample + "\n\n";
  return s;
}

std::string prose() { return at_least_1mib(slurp("/usr/share/common-licenses/GPL-3")); }

std::string code() {
  std::string all;
  for (const char* sub : {"/src", "/include/sp"}) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(std::string(SP_SOURCE_DIR) + sub))
      if (e.path().extension() == ".cc" || e.path().extension() == ".h") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) all += slurp(f);
  }
  return at_least_1mib(all);
}

std::string multilingual() {
  const std::string data = slurp(std::string(SP_SOURCE_DIR) + "/tests/golden/gpt2_golden.jsonl");
  simdjson::dom::parser parser;
  std::string all;
  std::istringstream lines(data);
  for (std::string line; std::getline(lines, line);) {
    std::string_view text;
    if (parser.parse(line).at_key("text").get_string().get(text)) continue;
    size_t high = 0;
    for (unsigned char c : text) high += c >= 0x80;
    if (text.size() >= 40 && high * 2 >= text.size()) (all += text) += '\n';
  }
  return at_least_1mib(all);
}

void run_encode(benchmark::State& state, const std::string& text, size_t cache_entries) {
  const sp::BpeModel* m = model();
  if (!m) {
    state.SkipWithError("GPT-2 vocab not found; run third_party/gpt2/fetch_vocab.sh");
    return;
  }
  sp::BpeCache cache(cache_entries);
  std::vector<uint32_t> ids;
  ids.reserve(text.size());
  for (auto _ : state) {
    ids.clear();
    m->encode(text, ids, cache);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["bytes/token"] = double(text.size()) / double(std::max<size_t>(ids.size(), 1));
}

void BM_PretokenizeOnly(benchmark::State& state) {
  static const std::string text = prose();
  for (auto _ : state) {
    size_t pieces = 0;
    for (size_t pos = 0; pos < text.size(); pos = sp::gpt2_pretoken_end(text, pos)) ++pieces;
    benchmark::DoNotOptimize(pieces);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_PretokenizeOnly)->Name("pretokenize_only/prose")->Unit(benchmark::kMillisecond);

void BM_Load(benchmark::State& state) {
  const std::string dir = gpt2_dir();
  if (!model()) {
    state.SkipWithError("GPT-2 vocab not found");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(sp::BpeModel::load_gpt2(dir + "/vocab.json", dir + "/merges.txt"));
}
BENCHMARK(BM_Load)->Name("load_gpt2")->Unit(benchmark::kMillisecond);

#define SP_ENCODE_BENCH(name, make_text, entries)                      \
  void BM_##name(benchmark::State& state) {                            \
    static const std::string text = make_text;                         \
    run_encode(state, text, entries);                                  \
  }                                                                    \
  BENCHMARK(BM_##name)->Name(#name)->Unit(benchmark::kMillisecond)

const size_t kWarm = sp::BpeCache::kDefaultEntries;
SP_ENCODE_BENCH(encode_warm_prose, prose(), kWarm);
SP_ENCODE_BENCH(encode_warm_code, code(), kWarm);
SP_ENCODE_BENCH(encode_warm_multilingual, multilingual(), kWarm);
SP_ENCODE_BENCH(encode_nocache_prose, prose(), 0);
SP_ENCODE_BENCH(encode_nocache_code, code(), 0);
SP_ENCODE_BENCH(encode_nocache_multilingual, multilingual(), 0);
SP_ENCODE_BENCH(run_1mib_letter_a, std::string(size_t{1} << 20, 'a'), kWarm);
SP_ENCODE_BENCH(run_1mib_digit_7, std::string(size_t{1} << 20, '7'), kWarm);
SP_ENCODE_BENCH(run_1mib_bang, std::string(size_t{1} << 20, '!'), kWarm);
SP_ENCODE_BENCH(run_1mib_space, std::string(size_t{1} << 20, ' '), kWarm);
SP_ENCODE_BENCH(run_1mib_newline, std::string(size_t{1} << 20, '\n'), kWarm);

}  // namespace
