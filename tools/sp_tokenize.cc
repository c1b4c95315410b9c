// sp_tokenize: JSONL -> Megatron indexed dataset (.bin/.idx) with any of
// Megatron-LM's text tokenizer types. A drop-in for Megatron-LM's
// tools/preprocess_data.py (same flags, same output bytes), plus a batch mode
// that shards files across ranks.
#include <tbb/global_control.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "sp/checkpoint.h"
#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "sp/interrupt.h"
#include "sp/progress.h"
#include "sp/rank.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "sp/threads.h"
#include "sp/tokenize.h"

namespace {

const sp::cli::Program kProgram{
    "sp_tokenize",
    "tokenize JSONL documents with Megatron-LM's tokenizers into Megatron .bin/.idx files",
    "sp_tokenize --input FILE --output-prefix PREFIX [options]\n"
    "       sp_tokenize (--input FILE...|--input-dir DIR) --output-dir DIR [options]",
    sp::with_output_flags(sp::with_progress_flags({
        {"input", "FILE", "JSONL input (.jsonl, or .jsonl.zst decompressed on the fly). Repeat or list several for batch mode.", "", true},
        {"input-dir", "DIR", "Batch mode: every *.jsonl, *.json, *.jsonl.zst, *.json.zst under DIR (recursively)."},
        {"output-prefix", "PREFIX", "Single-input mode: write PREFIX_<key>_document.bin/.idx (Megatron's naming)."},
        {"output-dir", "DIR", "Batch mode: write DIR/<input path without .zst>_<key>_document.bin/.idx."},
        {"json-keys", "KEY", "JSON keys to tokenize; one output pair per key.", "text", true},
        {"append-eod", "", "Append the tokenizer's end-of-document token to each document (GPT2BPETokenizer: "
         "<|endoftext|>, 50256; TikTokenizer: </s>, or <|endoftext|> for .tiktoken files; SentencePiece types: the "
         "model's </s>; HuggingFaceTokenizer: its EOS). --eod-id / --eod-token choose another."},
        {"skip-empty", "", "Leave documents that produce no tokens out of the index (NeMo's behaviour; Megatron keeps them)."},
        {"tokenizer-type", "NAME",
         "GPT2BPETokenizer, HuggingFaceTokenizer, TikTokenizer, SentencePieceTokenizer, GPTSentencePieceTokenizer "
         "or Llama2Tokenizer (Megatron's types; see README).", "GPT2BPETokenizer"},
        {"tokenizer-model", "PATH",
         "The model: a .tiktoken file or Megatron's tiktoken JSON (TikTokenizer), a SentencePiece .model, a "
         "tokenizer.json or its directory (HuggingFaceTokenizer)."},
        {"vocab-file", "FILE", "GPT-2 vocab.json (default: $SP_GPT2_DIR/vocab.json or ~/.cache/sp_toolkit/gpt2/vocab.json).", "", false, {"vocab"}},
        {"merge-file", "FILE", "GPT-2 merges.txt (default: beside the vocab file).", "", false, {"merges"}},
        {"tiktoken-pattern", "PATTERN",
         "TikTokenizer's split regex: Megatron's v1 or v2 (default for its JSON), an encoding name (gpt2, r50k_base, "
         "p50k_base, cl100k_base, o200k_base) or a regex."},
        {"tiktoken-num-special-tokens", "N",
         "TikTokenizer: ids 0..N-1 are special tokens (<unk>, <s>, </s>, ...) and the vocabulary's ids are shifted "
         "by N (default: Megatron's 1000 for its JSON, 0 for .tiktoken files)."},
        {"vocab-size", "N",
         "TikTokenizer: Megatron's vocabulary size, special tokens included (default 131072); the vocabulary is "
         "cut to its first N - num_special_tokens tokens. Ignored by the other types, as in Megatron."},
        {"tokenizer-hf-no-include-special-tokens", "",
         "HuggingFaceTokenizer: encode without the special tokens (BOS/EOS) the tokenizer adds."},
        {"eod-id", "N", "The end-of-document id for --append-eod, instead of the tokenizer type's."},
        {"eod-token", "TEXT", "The end-of-document token for --append-eod, by its text (e.g. '<|im_end|>')."},
        {"workers", "N", "Worker threads (default: the CPUs available to this process, divided among the ranks of a node).", "", false, {"threads"}},
        {"on-error", "MODE", "stop: a bad line ends the run with file:line: reason; skip: skip bad lines, count and report them.", "stop"},
        {"overwrite", "",
         "Rebuild every output. By default an output pair is kept only when its completion record "
         "(PREFIX.sp-record) matches it, the input, the tokenizer files and the options; anything else is rebuilt."},
        {"stats-json", "FILE", "Also write the final statistics as JSON (per rank: FILE.rank<R> under several ranks)."},
        {"block-size", "BYTES", "Bytes of lines per parallel task (advanced).", "1M"},
        {"checkpoint-every", "SIZE",
         "Resume inside a file: after each SIZE of (decompressed) input, make the outputs so far durable and "
         "record where the input stands (PREFIX.sp-checkpoint beside PREFIX.bin.sp-part, ...). A rerun of the same "
         "command after a kill or SIGTERM continues from there with the same output bytes; SIGTERM takes one "
         "before stopping. 0: none.", "1G"},
        {"dataset-impl", "IMPL", "Accepted for Megatron compatibility; only mmap exists.", "mmap"},
        {"log-interval", "N", "Accepted for Megatron compatibility; ignored (see --progress-interval)."},
        // Megatron flags that cannot change the output: preprocess_data.py
        // resets --vocab-extra-ids and --make-vocab-size-divisible-by, and the
        // fast tokenizer with special tokens is the default.
        {"vocab-extra-ids", "N", "Accepted for Megatron compatibility; ignored (preprocess_data.py sets it to 0)."},
        {"make-vocab-size-divisible-by", "N",
         "Accepted for Megatron compatibility; ignored (padding does not change ids)."},
        {"tokenizer-hf-use-fast", "", "Accepted for Megatron compatibility (the default)."},
        {"tokenizer-hf-include-special-tokens", "", "Accepted for Megatron compatibility (the default)."},
        // Megatron flags that would change ids in ways not implemented: refused by name.
        {"tokenizer-special-tokens", "TOKEN", "Not supported (refused): custom special tokens change the ids.", "",
         true},
        {"tokenizer-metadata", "FILE", "Not supported (refused)."},
        {"tokenizer-hf-no-use-fast", "", "Not supported (refused): only the fast tokenizer's ids are implemented."},
        {"tokenizer-sentencepiece-legacy", "", "Not supported (refused)."},
        {"no-tokenizer-sentencepiece-ignore-extra-whitespaces", "", "Not supported (refused)."},
    })),
    "Examples:\n"
    "  sp_tokenize --input train_chunk_0.jsonl --output-prefix out/train_chunk_0.jsonl \\\n"
    "      --vocab-file vocab.json --merge-file merges.txt --append-eod --json-keys text\n"
    "  mpirun -np 8 sp_tokenize --input-dir chunks/ --output-dir tokenized/ --append-eod\n"
    "\n"
    "Under mpirun, bcprun or torchrun (RANK/WORLD_SIZE) batch mode gives each rank a\n"
    "size-balanced share of the files. Outputs are written under temporary names and\n"
    "renamed when complete (.idx last). Exit status: 0 success, 1 bad input or I/O\n"
    "error, 2 bad usage."};

struct Job {
  std::string input;
  std::vector<std::string> prefixes;  // one per key
};

bool is_jsonl_name(std::string_view rel) {
  for (const char* s : {".jsonl", ".json", ".jsonl.zst", ".json.zst", ".jsonl.zstd", ".json.zstd"})
    if (sp::ends_with(rel, s)) return true;
  return false;
}

std::string strip_zst(const std::string& name) {
  if (sp::ends_with(name, ".zst")) return name.substr(0, name.size() - 4);
  if (sp::ends_with(name, ".zstd")) return name.substr(0, name.size() - 5);
  return name;
}

int run(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv);
  sp::apply_output_flags(args);
  const sp::RankInfo rank = sp::detect_rank();
  const std::string who = sp::rank_prefix(rank) + "sp_tokenize";

  const sp::TokenizerOptions tokenizer_opt = sp::cli::tokenizer_options(args);
  if (args.get("dataset-impl") != "mmap") throw sp::UsageError("--dataset-impl: only mmap is supported");

  sp::TokenizeOptions opt;
  opt.json_keys = args.all("json-keys");
  {
    std::set<std::string> seen;
    for (const auto& k : opt.json_keys)
      if (!seen.insert(k).second) throw sp::UsageError("--json-keys: key '" + k + "' given twice");
  }
  opt.append_eod = args.flag("append-eod");
  opt.skip_empty = args.flag("skip-empty");
  const std::string on_error = args.get("on-error");
  if (on_error == "stop") opt.on_error = sp::OnError::kStop;
  else if (on_error == "skip") opt.on_error = sp::OnError::kSkip;
  else throw sp::UsageError("--on-error: expected stop or skip, got '" + on_error + "'");
  opt.block_bytes = args.get_size("block-size", opt.block_bytes);
  if (opt.block_bytes < 4096 || opt.block_bytes > (size_t{1} << 30))
    throw sp::UsageError("--block-size must be between 4K and 1G");
  opt.checkpoint_every = args.get_size("checkpoint-every", opt.checkpoint_every);
  opt.overwrite = args.flag("overwrite");
  if (args.has("stats-json")) sp::check_output_file_path(args.get("stats-json"), "--stats-json");
  const long workers = args.get_int("workers", 0);
  if (workers < 0) throw sp::UsageError("--workers: expected a positive number");
  const int threads = workers > 0 ? static_cast<int>(workers) : sp::default_threads();

  // Work out the jobs: (input file, output prefixes).
  const auto inputs = args.all("input");
  const bool batch = args.has("output-dir");
  if (args.has("input-dir") && !inputs.empty()) throw sp::UsageError("give either --input or --input-dir, not both");
  if (!args.has("input-dir") && inputs.empty()) throw sp::UsageError("no input: give --input FILE or --input-dir DIR");
  if (batch == args.has("output-prefix")) throw sp::UsageError("give exactly one of --output-prefix (one input) or --output-dir (batch)");
  if (args.has("input-dir") && !batch) throw sp::UsageError("--input-dir needs --output-dir");
  if (!batch && inputs.size() != 1) throw sp::UsageError("--output-prefix takes one --input; use --output-dir for several");

  std::vector<Job> jobs;
  std::vector<uint64_t> sizes;
  auto add_job = [&](const std::string& input, const std::string& out_base, uint64_t size) {
    Job j{input, {}};
    for (const auto& k : opt.json_keys) j.prefixes.push_back(sp::output_prefix_for(out_base, k));
    jobs.push_back(std::move(j));
    sizes.push_back(size);
  };
  if (!batch) {
    add_job(inputs[0], args.get("output-prefix"), 0);
  } else {
    const std::string out_dir = args.get("output-dir");
    if (args.has("input-dir")) {
      std::vector<std::string> dangling;
      for (const auto& f : sp::list_files(args.get("input-dir"), is_jsonl_name, &dangling))
        add_job(f.path, out_dir + "/" + strip_zst(f.relative), f.size);
      if (rank.rank == 0) sp::warn_dangling_links(who, dangling);
      if (jobs.empty()) throw sp::Error("no *.jsonl / *.json / *.jsonl.zst files under '" + args.get("input-dir") + "'");
    } else {
      for (const auto& in : inputs) add_job(in, out_dir + "/" + strip_zst(sp::base_name(in)), sp::file_size(in));
    }
    std::map<std::string, std::string> owner;
    for (const auto& j : jobs)
      if (auto [it, fresh] = owner.emplace(j.prefixes[0], j.input); !fresh)
        throw sp::UsageError("inputs '" + it->second + "' and '" + j.input + "' would both write " + j.prefixes[0]);
  }
  for (const auto& j : jobs)
    if (j.input != "-" && !sp::path_exists(j.input)) throw sp::Error(sp::errno_message("cannot open", j.input));

  // This rank's share: whole files, balanced by size. A single output is
  // written by rank 0 alone.
  std::vector<size_t> mine;
  if (batch) mine = sp::shard_by_size(sizes, rank.rank, rank.world);
  else if (rank.rank == 0) mine = {0};

  const bool quiet = args.flag("quiet");
  if (!quiet && rank.world > 1)
    std::fprintf(stderr, "%s: %zu of %zu input file(s) for this rank (%s)\n", who.c_str(), mine.size(), jobs.size(), rank.source.c_str());
  if (mine.empty()) return 0;

  const sp::TextTokenizer tokenizer = sp::load_tokenizer(tokenizer_opt);
  if (!quiet && rank.rank == 0)
    for (const auto& note : tokenizer.notes) std::fprintf(stderr, "%s: %s\n", who.c_str(), note.c_str());

  // Outputs are kept only when their completion records match them, this
  // input, this tokenizer and these options; anything else is rebuilt.
  sp::TokenizeStats total;
  std::vector<Job> todo;
  uint64_t total_bytes = 0;
  for (size_t i : mine) {
    if (!args.flag("overwrite")) {
      sp::TokenizedCheck check = sp::check_tokenized(tokenizer, jobs[i].input, jobs[i].prefixes, opt);
      if (check.complete) {
        total.merge(check.stats);
        continue;
      }
      if (!quiet && !check.notice.empty()) std::fprintf(stderr, "%s: %s\n", who.c_str(), check.notice.c_str());
    }
    todo.push_back(jobs[i]);
    if (jobs[i].input != "-") total_bytes += sp::file_size(jobs[i].input);
  }
  if (!quiet && total.files_kept)
    std::fprintf(stderr, "%s: %llu input(s) already have complete outputs (their records match); kept (--overwrite "
                 "rebuilds them)\n", who.c_str(), static_cast<unsigned long long>(total.files_kept));

  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  sp::ProgressOptions po;
  po.label = who;
  po.item_name = "documents";
  po.total_bytes = total_bytes;
  sp::apply_progress_flags(args, po);
  sp::Progress progress(po);

  // One sweep for all of this rank's outputs (one directory read each), not
  // one per input: thousands of outputs share a directory.
  std::vector<std::string> finals;
  for (const auto& j : todo)
    for (const auto& p : j.prefixes) {
      for (auto& f : sp::writer_temp_finals(p)) finals.push_back(std::move(f));
      finals.push_back(sp::record_path_for(p));
    }
  for (const auto& j : todo) finals.push_back(sp::checkpoint_path_for(j.prefixes[0]));
  const auto sweep = sp::remove_stale_temps(finals);
  if (sweep.other_hosts) sp::print_warning(who, sweep.other_hosts_note());
  const auto stop = sp::run_interruptible([&] {
    for (const auto& j : todo) {
      for (const auto& p : j.prefixes) sp::make_dirs(sp::parent_dir(p));
      sp::TokenizeStats file = sp::tokenize_file(tokenizer, j.input, j.prefixes, opt, &progress);
      if (!quiet)
        for (const auto& note : file.notes) std::fprintf(stderr, "%s: %s\n", who.c_str(), note.c_str());
      total.merge(file);
    }
  });
  progress.finish();
  total.seconds = progress.elapsed_seconds();

  if (args.has("stats-json") && !stop) {  // partial statistics would look like a finished run's
    std::string path = args.get("stats-json");
    if (rank.world > 1) path += ".rank" + std::to_string(rank.rank);
    sp::AtomicFile f(path);
    f.write(sp::stats_json(total, tokenizer.name));
    f.commit();
  }
  if (!quiet) {
    std::string s = sp::stats_summary(total);
    if (stop) std::fprintf(stderr, "%s: interrupted after %llu of %zu file(s); finished:\n", who.c_str(),
                           static_cast<unsigned long long>(total.files), todo.size());
    else std::fprintf(stderr, "%s: done (%d worker thread%s)\n", who.c_str(), threads, threads == 1 ? "" : "s");
    size_t pos = 0;
    while (pos < s.size()) {
      size_t nl = s.find('\n', pos);
      std::fprintf(stderr, "%s: %s\n", who.c_str(), s.substr(pos, nl - pos).c_str());
      pos = nl + 1;
    }
  }
  if (stop) throw *stop;
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_tokenize", run, argc, argv); }
