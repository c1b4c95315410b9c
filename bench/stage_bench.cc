// Where a byte's time goes in sp_tokenize, one thread, on a real JSONL corpus:
// each stage of the pipeline measured alone over the whole corpus (read, line
// split, JSON parse + unescape, pre-tokenize, pre-tokenize + encode, write
// .bin/.idx), the end-to-end tokenize_file at one worker, and the physical
// limit of the same bytes through memcpy, memchr, simdjson's UTF-8 validator
// and zstd decompression, so the headroom left in each stage is visible.
//
//   stage_bench CORPUS.jsonl[.zst] [--runs 3] [--tokenizer-type T --tokenizer-model M ...]
//   stage_bench CORPUS.jsonl --pretoken-stats     (one JSON line: distinct GPT-2 pre-tokens per MB)
//
// Every row is the best of --runs and is given in MB/s and ns per byte of
// JSONL (decompressed JSONL for a .zst input). The encoder is made afresh for
// each run, so its pre-token cache starts cold as in one pass of sp_tokenize
// (a warm cache over the same text again would flatter it). Not a test: it
// prints figures and checks only that the stages agree on the token count.
#include <simdjson.h>
#include <tbb/global_control.h>
#include <unistd.h>
#include <zstd.h>

#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hf_pretokenizer.h"
#include "sp/byte_source.h"
#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "sp/jsonl.h"
#include "sp/pretokenizer.h"
#include "sp/record.h"
#include "sp/tokenize.h"
#include "sp/tokenizer.h"

namespace {

const sp::cli::Program kProgram{
    "stage_bench",
    "time each stage of sp_tokenize alone on a JSONL corpus, one thread, beside its physical limit",
    "stage_bench CORPUS.jsonl[.zst] [options]",
    {
        {"runs", "N", "Best of N runs per row.", "3"},
        {"json-key", "KEY", "The JSON key to tokenize.", "text"},
        {"block-size", "BYTES", "Bytes of lines per block, as sp_tokenize --block-size.", "1M"},
        {"tokenizer-type", "NAME", "As sp_tokenize --tokenizer-type.", "GPT2BPETokenizer"},
        {"tokenizer-model", "PATH", "As sp_tokenize --tokenizer-model."},
        {"vocab-file", "FILE", "As sp_tokenize --vocab-file (default: $SP_GPT2_DIR/vocab.json)."},
        {"merge-file", "FILE", "As sp_tokenize --merge-file."},
        {"tiktoken-pattern", "PATTERN", "As sp_tokenize --tiktoken-pattern."},
        {"pretoken-stats", "",
         "Only count the corpus's GPT-2 pre-tokens and distinct pre-tokens (per MB of JSONL) and print them as one "
         "JSON line (bench/make_bench_corpus.py reads it)."},
    },
    "Rows: MB/s and ns per byte of JSONL (decompressed for .zst), best of --runs, one thread."};

using Clock = std::chrono::steady_clock;

// Best wall time of `runs` calls of fn; `prepare` runs before each, untimed.
double best_seconds(int runs, const std::function<void()>& fn, const std::function<void()>& prepare = {}) {
  double best = 1e300;
  for (int r = 0; r < runs; ++r) {
    if (prepare) prepare();
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// The corpus in memory as sp_tokenize's reader hands it to workers, and the
// texts its parser found, copied out so later stages can run on them alone.
struct Corpus {
  std::vector<sp::LineBlock> blocks;
  uint64_t jsonl_bytes = 0, lines = 0;
  std::string text;                               // every sequence's text, back to back
  std::vector<std::pair<size_t, size_t>> seqs;    // (offset, length) in text
  std::vector<uint32_t> seqs_per_doc;             // documents in file order
  std::vector<uint32_t> docs_per_block;
};

Corpus load(const std::string& path, size_t block_bytes, const std::string& key) {
  Corpus c;
  auto source = sp::open_byte_source(path);
  sp::LineReader reader(*source, block_bytes, /*number_lines=*/false);
  for (sp::LineBlock b; reader.next(b);) {
    c.jsonl_bytes += b.size;
    c.blocks.push_back(std::move(b));
    b = sp::LineBlock{};
  }
  simdjson::dom::parser parser;
  sp::DocumentTexts texts;
  const std::vector<std::string> keys{key};
  for (const auto& b : c.blocks) {
    uint32_t docs = 0;
    sp::for_each_line(b, [&](std::string_view line, uint64_t) {
      ++c.lines;
      if (sp::is_blank_line(line)) return;
      const std::string err = sp::parse_document(parser, line, keys, texts);
      if (!err.empty()) throw sp::InputError(path, c.lines, err);
      for (std::string_view t : texts[0]) {
        c.seqs.emplace_back(c.text.size(), t.size());
        c.text.append(t);
      }
      c.seqs_per_doc.push_back(static_cast<uint32_t>(texts[0].size()));
      ++docs;
    });
    c.docs_per_block.push_back(docs);
  }
  return c;
}

std::string_view seq_text(const Corpus& c, size_t i) { return {c.text.data() + c.seqs[i].first, c.seqs[i].second}; }

struct PretokenCounts {
  uint64_t pieces = 0, distinct = 0;
};

PretokenCounts count_pretokens(const Corpus& c, bool distinct) {
  PretokenCounts n;
  absl::flat_hash_set<std::string_view> seen;
  for (size_t i = 0; i < c.seqs.size(); ++i) {
    const std::string_view t = seq_text(c, i);
    sp::for_each_pretoken(t, [&](size_t off, size_t len, const char*) {
      ++n.pieces;
      if (distinct) seen.insert(t.substr(off, len));
    });
  }
  n.distinct = seen.size();
  return n;
}

struct Row {
  std::string name;
  double seconds;
};

// The tokenizer's split pattern, with a label for the row, when it has a
// scanner: GPT-2's; the one a TikTokenizer chose (its identity's spelling,
// given or implied by the encoding); the fast path of a tokenizer.json's
// pre_tokenizer.
struct ShownPattern {
  sp::PretokenPattern pattern;
  std::string label;
};
std::optional<ShownPattern> pattern_of(const sp::TokenizerOptions& o, const sp::TextTokenizer& tok) {
  if (o.type == "GPT2BPETokenizer") return ShownPattern{sp::PretokenPattern::kGpt2, "GPT-2"};
  if (o.type == "TikTokenizer") {
    for (const auto& [key, spelling] : tok.identity) {
      if (key != "tiktoken_pattern") continue;
      auto p = sp::pretoken_pattern_by_name(spelling);
      if (!p) p = sp::pretoken_pattern_for_regex(spelling);
      if (p) return ShownPattern{*p, spelling.size() <= 16 ? spelling : "the given regex"};
    }
    return std::nullopt;
  }
  if (o.type == "HuggingFaceTokenizer") {
    const std::string json_path =
        std::filesystem::is_directory(o.model) ? o.model + "/tokenizer.json" : o.model;
    simdjson::dom::parser parser;
    simdjson::dom::element root, pre;
    if (parser.load(json_path).get(root) || root["pre_tokenizer"].get(pre)) return std::nullopt;
    if (const auto fast = sp::hf::PreTokenizer::parse(pre, json_path).fast()) {
      // A prefix space, when the file asks for one, is left out of this row.
      return ShownPattern{fast->pattern, "tokenizer.json's pre_tokenizer"};
    }
  }
  return std::nullopt;
}

void remove_outputs(const std::string& prefix) {
  for (const std::string& p : {sp::bin_path(prefix), sp::idx_path(prefix), sp::record_path_for(prefix)})
    std::filesystem::remove(p);
}

int run(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv, /*allow_positional=*/true);
  if (args.positional.size() != 1) throw sp::UsageError("expected one CORPUS argument");
  const std::string path = args.positional[0];
  const int runs = static_cast<int>(std::max<int64_t>(1, args.get_int("runs", 3)));
  const size_t block_bytes = args.get_size("block-size", size_t{1} << 20);
  const std::string key = args.get("json-key");
  tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);

  const Corpus c = load(path, block_bytes, key);
  const double mb = static_cast<double>(c.jsonl_bytes) / 1e6;
  if (args.flag("pretoken-stats")) {
    const PretokenCounts n = count_pretokens(c, true);
    std::printf("{\"jsonl_bytes\": %llu, \"documents\": %zu, \"text_bytes\": %zu, \"pretokens\": %llu, "
                "\"distinct_pretokens\": %llu, \"distinct_per_mb\": %.1f}\n",
                static_cast<unsigned long long>(c.jsonl_bytes), c.seqs_per_doc.size(), c.text.size(),
                static_cast<unsigned long long>(n.pieces), static_cast<unsigned long long>(n.distinct),
                static_cast<double>(n.distinct) / mb);
    return 0;
  }

  const sp::TokenizerOptions topt = sp::cli::tokenizer_options(args);
  const sp::TextTokenizer tok = sp::load_tokenizer(topt);
  const sp::TokenDtype dtype = sp::dtype_for_vocab_size(tok.vocab_size);
  const std::vector<std::string> keys{key};
  sp::set_sync_outputs(false);  // the bench measures the tool, not the disk (sp_tokenize --no-sync)
  const std::string prefix =
      (std::filesystem::temp_directory_path() / ("stage_bench_" + std::to_string(getpid()))).string();

  std::vector<Row> rows;
  std::vector<char> buf(block_bytes);
  uint64_t sink = 0;  // results every stage feeds, so nothing is optimized away

  rows.push_back({"read: ByteSource::read into a block-size buffer (page cache" +
                      std::string(sp::is_zstd_path(path) ? "; zstd decompression included)" : ")"),
                  best_seconds(runs, [&] {
                    auto src = sp::open_byte_source(path);
                    while (size_t r = src->read(buf.data(), buf.size())) sink += static_cast<unsigned char>(buf[r - 1]);
                  })});
  rows.push_back({"read into line blocks: LineReader::next (read, cut at the last newline, pad)",
                  best_seconds(runs, [&] {
                    auto src = sp::open_byte_source(path);
                    sp::LineReader reader(*src, block_bytes, false);
                    for (sp::LineBlock b; reader.next(b);) sink += b.size;
                  })});
  rows.push_back({"line split: for_each_line (memchr)", best_seconds(runs, [&] {
                    for (const auto& b : c.blocks)
                      sp::for_each_line(b, [&](std::string_view l, uint64_t) { sink += l.size(); });
                  })});
  simdjson::dom::parser parser;
  sp::DocumentTexts texts;
  rows.push_back({"line split + JSON parse + unescape: parse_document (simdjson)", best_seconds(runs, [&] {
                    for (const auto& b : c.blocks)
                      sp::for_each_line(b, [&](std::string_view line, uint64_t) {
                        if (sp::is_blank_line(line)) return;
                        if (!sp::parse_document(parser, line, keys, texts).empty()) throw sp::Error("parse failed");
                        for (std::string_view t : texts[0]) sink += t.size();
                      });
                  })});

  // Pre-tokenize alone, with the tokenizer's pattern when it has a scanner.
  const std::optional<ShownPattern> pattern = pattern_of(topt, tok);
  const sp::PretokenPattern shown = pattern ? pattern->pattern : sp::PretokenPattern::kGpt2;
  uint64_t pieces = 0;
  rows.push_back({"pre-tokenize: for_each_pretoken (" + (pattern ? pattern->label : "GPT-2") + ")" +
                      (pattern ? "" : " [GPT-2's pattern: this tokenizer's own has no scanner]"),
                  best_seconds(runs, [&] {
                    pieces = 0;
                    // The encoders' paths: GPT-2's window called directly, another
                    // pattern's through for_each_pretoken(pattern, ...).
                    if (shown == sp::PretokenPattern::kGpt2) {
                      for (size_t i = 0; i < c.seqs.size(); ++i)
                        sp::for_each_pretoken(seq_text(c, i), [&](size_t, size_t, const char*) { ++pieces; });
                    } else {
                      for (size_t i = 0; i < c.seqs.size(); ++i)
                        sp::for_each_pretoken(shown, seq_text(c, i), [&](size_t, size_t, const char*) { ++pieces; });
                    }
                  })});

  // Encode, with a fresh encoder (cold cache) per run.
  uint64_t tokens = 0;
  sp::TextTokenizer::Encode encode;
  rows.push_back({"pre-tokenize + encode: " + tok.name + " encoder (cold cache each run)",
                  best_seconds(
                      runs,
                      [&] {
                        tokens = 0;
                        for (size_t i = 0; i < c.seqs.size(); ++i) tokens += encode(seq_text(c, i)).size();
                      },
                      [&] { encode = tok.make_encoder(); })});

  // The batches sp_tokenize's workers would hand the writer (--append-eod), built untimed.
  std::vector<sp::DocumentBatch> batches(c.blocks.size());
  {
    size_t seq = 0, doc = 0;
    uint64_t with_eod = 0;
    for (size_t b = 0; b < c.blocks.size(); ++b) {
      for (uint32_t d = 0; d < c.docs_per_block[b]; ++d, ++doc) {
        uint32_t nseq = 0;
        for (uint32_t s = 0; s < c.seqs_per_doc[doc]; ++s, ++seq) {
          const auto ids = encode(seq_text(c, seq));
          if (ids.empty()) continue;
          sp::append_tokens(dtype, ids, batches[b].token_bytes);
          batches[b].sequence_lengths.push_back(static_cast<int32_t>(ids.size()));
          with_eod += ids.size();
          ++nseq;
        }
        if (nseq > 0) {
          sp::append_tokens(dtype, std::span<const uint32_t>(&tok.eod_id, 1), batches[b].token_bytes);
          ++batches[b].sequence_lengths.back();
          ++with_eod;
        }
        batches[b].sequences_per_document.push_back(nseq);
      }
    }
    tokens = with_eod;
  }
  rows.push_back({"write .bin/.idx: IndexedDatasetWriter::append + finish (no fsync)",
                  best_seconds(
                      runs,
                      [&] {
                        sp::IndexedDatasetWriter w(prefix, dtype);
                        for (const auto& b : batches) w.append(b);
                        w.finish();
                      },
                      [&] { remove_outputs(prefix); })});

  sp::TokenizeOptions opt;
  opt.json_keys = keys;
  opt.append_eod = true;
  opt.block_bytes = block_bytes;
  uint64_t e2e_tokens = 0;
  rows.push_back({"end-to-end: tokenize_file, 1 worker (all of the above, record and checksums)",
                  best_seconds(
                      runs, [&] { e2e_tokens = sp::tokenize_file(tok, path, {prefix}, opt, nullptr).tokens; },
                      [&] { remove_outputs(prefix); })});
  remove_outputs(prefix);
  if (e2e_tokens != tokens)
    throw sp::Error("token counts differ: stages " + std::to_string(tokens) + ", tokenize_file " +
                    std::to_string(e2e_tokens));

  // Physical limits: the same bytes through the fastest thing that touches them.
  std::vector<char> copy(c.jsonl_bytes);
  std::memset(copy.data(), 1, copy.size());
  rows.push_back({"limit: memcpy of the JSONL bytes", best_seconds(runs, [&] {
                    size_t at = 0;
                    for (const auto& b : c.blocks) {
                      std::memcpy(copy.data() + at, b.storage.data(), b.size);
                      at += b.size;
                    }
                    sink += static_cast<unsigned char>(copy[at / 2]);
                  })});
  rows.push_back({"limit: memchr over every byte (a byte that is not there)", best_seconds(runs, [&] {
                    for (const auto& b : c.blocks) sink += std::memchr(b.storage.data(), 0, b.size) != nullptr;
                  })});
  rows.push_back({"limit: simdjson::validate_utf8", best_seconds(runs, [&] {
                    for (const auto& b : c.blocks) sink += simdjson::validate_utf8(b.storage.data(), b.size);
                  })});
  std::vector<char> packed(ZSTD_compressBound(copy.size()));
  const size_t packed_size = ZSTD_compress(packed.data(), packed.size(), copy.data(), copy.size(), 3);
  if (ZSTD_isError(packed_size)) throw sp::Error(std::string("zstd: ") + ZSTD_getErrorName(packed_size));
  rows.push_back({"limit: zstd decompression of a level-3 copy (ZSTD_decompress, whole buffer)",
                  best_seconds(runs, [&] {
                    const size_t n = ZSTD_decompress(copy.data(), copy.size(), packed.data(), packed_size);
                    if (ZSTD_isError(n) || n != c.jsonl_bytes) throw sp::Error("zstd decompression failed");
                  })});

  const PretokenCounts distinct = count_pretokens(c, true);
  std::printf("stage_bench %s: %.1f MB JSONL, %zu documents, %.1f MB of text, zstd -3 ratio %.2fx; "
              "%llu GPT-2 pre-tokens, %llu distinct (%.0f per MB); %s, %llu tokens with EOD; "
              "one thread, best of %d\n\n",
              path.c_str(), mb, c.seqs_per_doc.size(), static_cast<double>(c.text.size()) / 1e6,
              static_cast<double>(c.jsonl_bytes) / static_cast<double>(packed_size),
              static_cast<unsigned long long>(distinct.pieces), static_cast<unsigned long long>(distinct.distinct),
              static_cast<double>(distinct.distinct) / mb, tok.name.c_str(), static_cast<unsigned long long>(tokens),
              runs);
  const double e2e = rows[7].seconds;
  std::printf("| stage (alone, over the whole corpus) | MB/s | ns/byte | time / end-to-end |\n|---|---:|---:|---:|\n");
  for (const auto& r : rows)
    std::printf("| %s | %.1f | %.2f | %.0f%% |\n", r.name.c_str(), mb / r.seconds, r.seconds * 1e9 / c.jsonl_bytes,
                100 * r.seconds / e2e);

  // Shares: each stage's own time (parse less the split it includes, BPE =
  // encode less pre-tokenize) against the end-to-end time.
  const double read = rows[0].seconds, split = rows[2].seconds, parse = rows[3].seconds - rows[2].seconds,
               pretok = rows[4].seconds, bpe = rows[5].seconds - rows[4].seconds, write = rows[6].seconds;
  const double rest = e2e - (read + split + parse + rows[5].seconds + write);
  std::printf("\nShare of the end-to-end %.2f s: read %.0f%%, line split %.0f%%, JSON parse %.0f%%, ", e2e,
              100 * read / e2e, 100 * split / e2e, 100 * parse / e2e);
  if (pattern)
    std::printf("pre-tokenize %.0f%%, BPE %.0f%%, ", 100 * pretok / e2e, 100 * bpe / e2e);
  else
    std::printf("pre-tokenize + encode %.0f%%, ", 100 * rows[5].seconds / e2e);
  std::printf("write %.0f%%, the rest (pipeline, EOD, counting, record) %.0f%%\n", 100 * write / e2e, 100 * rest / e2e);
  if (sink == 42) std::printf(" \n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const sp::UsageError& e) {
    std::fprintf(stderr, "stage_bench: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stage_bench: %s\n", e.what());
    return 1;
  }
}
