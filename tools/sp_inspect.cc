// sp_inspect: verify, summarise and look into Megatron .bin/.idx datasets of
// any size (memory-mapped, parallel, files shared out over ranks).
#include <tbb/task_arena.h>

#include <cstdio>
#include <optional>

#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "sp/inspect.h"
#include "sp/progress.h"
#include "sp/rank.h"
#include "sp/threads.h"
#include "sp/tokenizer.h"

namespace {

const sp::cli::Program kProgram{
    "sp_inspect",
    "verify, summarise and look into Megatron .bin/.idx datasets",
    "sp_inspect PATH... [options]\n"
    "       sp_inspect PATH --show N [tokenizer flags]\n"
    "       sp_inspect --compare A B",
    sp::with_output_flags(sp::with_progress_flags({
        {"recursive", "", "Directories: also take the datasets in their subdirectories."},
        {"vocab-size", "N",
         "Every token id must be below N (default: the vocabulary size of the tokenizer, when tokenizer flags are "
         "given; else ids are only checked to be non-negative). For TikTokenizer also Megatron's --vocab-size."},
        {"expect-eod", "ID",
         "Every document with tokens must end with the end-of-document id: ID, or without a value the tokenizer's "
         "(--eod-id / --eod-token, or the type's: GPT2BPETokenizer's is 50256). Give the value as --expect-eod=ID.",
         "", false, {}, true},
        {"show", "N", "Print document N (from 0) of each dataset, decoded with the tokenizer flags (the ones it "
                      "was made with: a completion record that names another tokenizer is an error)."},
        {"compare", "",
         "Compare the two datasets given as PATHs document by document and token by token; report the first "
         "difference (exit 1) or that they are identical (exit 0)."},
        {"json", "", "Print the verification report as JSON instead of text."},
        {"html", "FILE",
         "Also write the report as one self-contained HTML page (inline SVG charts; FILE.rank<R> under several "
         "ranks)."},
        {"max-problems", "N", "Problems listed per kind and dataset (all are counted).", "20"},
        {"no-record-check", "",
         "Do not compare checksums with completion records (<prefix>.sp-record), which reads each file again."},
        {"threads", "N", "Worker threads (default: the CPUs available to this process, divided among the ranks of a "
                         "node).", "", false, {"workers"}},
        {"tokenizer-type", "NAME",
         "GPT2BPETokenizer, HuggingFaceTokenizer, TikTokenizer, SentencePieceTokenizer, GPTSentencePieceTokenizer "
         "or Llama2Tokenizer, as for sp_tokenize (default GPT2BPETokenizer)."},
        {"tokenizer-model", "PATH", "The tokenizer's model, as for sp_tokenize."},
        {"vocab-file", "FILE",
         "GPT-2 vocab.json (default: $SP_GPT2_DIR/vocab.json or ~/.cache/sp_toolkit/gpt2/vocab.json).", "", false,
         {"vocab"}},
        {"merge-file", "FILE", "GPT-2 merges.txt (default: beside the vocab file).", "", false, {"merges"}},
        {"tiktoken-pattern", "PATTERN", "TikTokenizer's split regex, as for sp_tokenize."},
        {"tiktoken-num-special-tokens", "N", "TikTokenizer's special-token count, as for sp_tokenize."},
        {"tokenizer-hf-no-include-special-tokens", "", "HuggingFaceTokenizer, as for sp_tokenize."},
        {"eod-id", "N", "The end-of-document id for --expect-eod, instead of the tokenizer type's."},
        {"eod-token", "TEXT", "The end-of-document id for --expect-eod, by its token text."},
    })),
    "Each PATH is a dataset prefix, a .bin or .idx file, or a directory of pairs.\n"
    "\n"
    "Verification checks every pair: the .idx header (magic, version, dtype, counts against its size),\n"
    "sequence lengths and pointers, the .bin size, document indices (from 0, never decreasing, ending\n"
    "at the sequence count), token ids (below --vocab-size), the EOD at the end of every document\n"
    "(--expect-eod) and the checksums in a completion record where sp_tokenize left one. Every problem\n"
    "is printed on stderr, naming the file and where in it (sequence, document, byte offset).\n"
    "The summary (stdout; --json, --html) gives documents, empty documents, sequences, tokens, dtype,\n"
    "bytes and document-length percentiles per dataset and in total.\n"
    "\n"
    "Examples:\n"
    "  sp_inspect tokenized/ --expect-eod --vocab-size 50257\n"
    "  sp_inspect tokenized/ --json --html report.html\n"
    "  sp_inspect tokenized/chunk_0.jsonl_text_document --show 3 --vocab-file vocab.json\n"
    "  sp_inspect --compare run1/a_text_document run2/a_text_document\n"
    "  mpirun -np 16 sp_inspect /lustre/tokenized --expect-eod=50256\n"
    "\n"
    "Under mpirun, bcprun or torchrun (RANK/WORLD_SIZE) each rank verifies a size-balanced share of\n"
    "the datasets and reports its own; --show and --compare run on rank 0.\n"
    "Exit status: 0 all ok (or identical), 1 a problem found (or a difference, or an I/O error),\n"
    "2 bad usage."};

bool tokenizer_flags_given(const sp::cli::Args& args) {
  for (const char* f : {"tokenizer-type", "tokenizer-model", "vocab-file", "merge-file"})
    if (args.has(f)) return true;
  return false;
}

std::string only_prefix(const std::string& path) {
  const auto prefixes = sp::expand_dataset_paths({path});
  if (prefixes.size() != 1)
    throw sp::UsageError("--compare: '" + path + "' names " + std::to_string(prefixes.size()) +
                         " datasets; give one dataset each");
  return prefixes[0];
}

int run(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv, /*allow_positional=*/true);
  sp::apply_output_flags(args);
  const sp::RankInfo rank = sp::detect_rank();
  const std::string who = sp::rank_prefix(rank) + "sp_inspect";
  if (args.positional.empty()) throw sp::UsageError("no dataset given: sp_inspect PATH... (see --help)");
  const bool compare = args.flag("compare"), show = args.has("show");
  if (compare && show) throw sp::UsageError("give --show or --compare, not both");
  if ((compare || show) && (args.flag("json") || args.has("html") || args.has("expect-eod")))
    throw sp::UsageError("--json, --html and --expect-eod belong to verification, not to --show or --compare");
  if (compare && args.positional.size() != 2) throw sp::UsageError("--compare takes exactly two datasets: A B");
  const int64_t max_problems = args.get_int("max-problems", 20);
  if (max_problems < 1) throw sp::UsageError("--max-problems: expected a positive number");
  int64_t show_document = 0;
  if (show) {
    show_document = args.get_int("show", 0);
    if (show_document < 0) throw sp::UsageError("--show: expected a document number from 0");
  }
  std::optional<int64_t> eod;
  bool eod_from_tokenizer = false;
  if (args.has("expect-eod")) {
    const std::string v = args.get("expect-eod");
    if (!v.empty()) eod = args.get_int("expect-eod", 0);
    else if (args.has("eod-id")) eod = args.get_int("eod-id", 0);
    else eod_from_tokenizer = true;
  }
  std::optional<uint64_t> vocab_size;
  if (args.has("vocab-size")) {
    const int64_t v = args.get_int("vocab-size", 0);
    if (v < 1) throw sp::UsageError("--vocab-size: expected a positive number");
    vocab_size = static_cast<uint64_t>(v);
  }
  sp::TokenizerOptions tokenizer_opt = sp::cli::tokenizer_options(args);
  if (tokenizer_opt.type.empty()) tokenizer_opt.type = "GPT2BPETokenizer";
  if (args.has("html")) sp::check_output_file_path(args.get("html"), "--html");
  const int threads = sp::resolve_threads(args.get_int("threads", 0));
  // An arena, not a global_control: see sp/threads.h on joining the workers at exit.
  tbb::task_arena arena(threads);
  return arena.execute([&]() -> int {

    if (compare) {
      if (rank.rank != 0) return 0;
      const sp::CompareResult r =
          sp::compare_datasets(only_prefix(args.positional[0]), only_prefix(args.positional[1]));
      std::fputs(r.text.c_str(), stdout);
      return r.identical ? 0 : 1;
    }

    const std::vector<std::string> prefixes = sp::expand_dataset_paths(args.positional, args.flag("recursive"));
    std::optional<sp::TextTokenizer> tokenizer;
    if (show || eod_from_tokenizer || (!vocab_size && tokenizer_flags_given(args)))
      tokenizer = sp::load_tokenizer(tokenizer_opt);

    if (show) {
      if (rank.rank != 0) return 0;
      for (size_t i = 0; i < prefixes.size(); ++i) {
        std::string text = sp::show_document(prefixes[i], static_cast<uint64_t>(show_document), *tokenizer);
        if (i + 1 < prefixes.size() || (!text.empty() && text.back() != '\n')) text += '\n';
        std::fwrite(text.data(), 1, text.size(), stdout);
      }
      return 0;
    }

    // This rank's share: whole datasets, balanced by .bin size.
    std::vector<uint64_t> sizes;
    for (const auto& p : prefixes) sizes.push_back(sp::file_size(sp::bin_path(p)));
    std::vector<std::string> mine;
    for (size_t i : sp::shard_by_size(sizes, rank.rank, rank.world)) mine.push_back(prefixes[i]);
    if (rank.world > 1 && !args.flag("quiet"))
      std::fprintf(stderr, "%s: %zu of %zu dataset(s) for this rank (%s)\n", who.c_str(), mine.size(), prefixes.size(),
                   rank.source.c_str());

    sp::VerifyOptions opt;
    opt.vocab_size =
        vocab_size ? vocab_size : tokenizer ? std::optional<uint64_t>(tokenizer->vocab_size) : std::nullopt;
    opt.eod_id = eod_from_tokenizer ? std::optional<int64_t>(tokenizer->eod_id) : eod;
    opt.check_records = !args.flag("no-record-check");
    opt.max_problems = static_cast<size_t>(max_problems);
    sp::ProgressOptions po;
    po.label = who;
    po.item_name = "datasets";
    sp::apply_progress_flags(args, po);
    sp::Progress progress(po);
    opt.progress = &progress;
    const sp::InspectReport report = sp::verify_datasets(mine, opt);
    progress.finish();

    if (args.has("html")) {
      std::string path = args.get("html");
      if (rank.world > 1) path += ".rank" + std::to_string(rank.rank);
      sp::write_inspect_html(report, path);
    }
    const std::string out = args.flag("json") ? sp::inspect_json(report) : sp::inspect_text(report);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    uint64_t bad = 0;
    for (const auto& s : report.datasets) {
      bad += !s.ok();
      for (const auto& p : s.problems) std::fprintf(stderr, "%s: %s\n", who.c_str(), p.c_str());
    }
    if (bad)
      throw sp::Error(std::to_string(report.problem_count()) + " problem(s) in " + std::to_string(bad) + " of " +
                      std::to_string(report.datasets.size()) + " dataset(s)");
    return 0;
  });
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_inspect", run, argc, argv); }
