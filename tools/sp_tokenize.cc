// sp_tokenize: JSONL -> Megatron indexed dataset (.bin/.idx) with any of
// Megatron-LM's text tokenizer types. A drop-in for Megatron-LM's
// tools/preprocess_data.py (same flags, same output bytes), plus a batch mode
// that shards files across ranks.
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "sp/checkpoint.h"
#include "sp/cli.h"
#include "sp/concat.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "sp/interrupt.h"
#include "sp/job.h"
#include "sp/progress.h"
#include "sp/rank.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "sp/threads.h"
#include "sp/tokenize.h"

namespace {

// Workers per input tokenized at once, by default: on 16 cores 4 processes x 4
// workers beat 1 x 16 by 1.35x on 16 files (bench/RESULTS.md, issue 11).
constexpr int kWorkersPerFile = 4;

const sp::cli::Program kProgram{
    "sp_tokenize",
    "tokenize JSONL documents with Megatron-LM's tokenizers into Megatron .bin/.idx files",
    "sp_tokenize --input FILE --output-prefix PREFIX [options]\n"
    "       sp_tokenize (--input FILE...|--input-dir DIR) --output-dir DIR [options]",
    sp::with_output_flags(sp::with_job_flags(sp::with_progress_flags({
        {"input", "FILE", "JSONL input (.jsonl, or .jsonl.zst decompressed on the fly). Repeat or list several for batch mode.", "", true},
        {"input-dir", "DIR", "Batch mode: every *.jsonl, *.json, *.jsonl.zst, *.json.zst under DIR (recursively). "
         "With --chunk-size or --files-per-chunk: the shards (*.jsonl.zst, *.jsonl) of the fused path."},
        {"output-prefix", "PREFIX", "Single-input mode: write PREFIX_<key>_document.bin/.idx (Megatron's naming)."},
        {"output-dir", "DIR", "Batch mode: write DIR/<input path without .zst>_<key>_document.bin/.idx. Fused "
         "path: DIR/<prefix><i>.jsonl_<key>_document.bin/.idx and the plan file DIR/sp_concat_plan.tsv."},
        {"chunk-size", "SIZE",
         "The fused path (sp_extract -> sp_concat -> sp_tokenize in one pass, no intermediate files): join the "
         "shards of --input-dir into chunks as sp_concat --target-size SIZE would (by decompressed size) and "
         "tokenize each chunk."},
        {"files-per-chunk", "N", "The fused path with N shards per chunk (sp_concat --files-per-chunk N)."},
        {"prefix", "PREFIX", "The fused path's chunk name prefix (sp_concat --prefix).", "train_chunk_"},
        {"dry-run", "", "The fused path: print the plan (chunk -> shards) on stdout and write nothing."},
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
        {"files-at-once", "N",
         "Batch and fused modes: inputs (or chunks) tokenized at once in this process, sharing the workers "
         "(default: one per 4 workers, so a file's start, drain and index overlap others' work)."},
        {"on-error", "MODE", "stop: a bad line ends the run with file:line: reason; skip: skip bad lines, count and report them.", "stop"},
        {"overwrite", "",
         "Rebuild every output. By default an output pair is kept only when its completion record "
         "(PREFIX.sp-record) matches it, the input, the tokenizer files and the options; anything else is rebuilt."},
        {"stats-json", "FILE",
         "Also write the final statistics as JSON: the whole job's totals at the top level (as a one-process run "
         "writes them) and a \"ranks\" array with each rank's files, jsonl_bytes, tokens and seconds. Written by "
         "rank 0 under MPI; with only RANK/WORLD_SIZE each rank writes its own FILE.rank<R>."},
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
    }))),
    "Examples:\n"
    "  sp_tokenize --input train_chunk_0.jsonl --output-prefix out/train_chunk_0.jsonl \\\n"
    "      --vocab-file vocab.json --merge-file merges.txt --append-eod --json-keys text\n"
    "  mpirun -np 8 sp_tokenize --input-dir chunks/ --output-dir tokenized/ --append-eod\n"
    "\n"
    "Ranks (batch mode): under mpirun (or another MPI launcher: bcprun --array-type MPI) the\n"
    "ranks draw input files, largest first, from one counter as they finish; rank 0 prints one\n"
    "progress line, one summary and writes the one --stats-json for the whole job, and a rank\n"
    "that fails (a bad line with --on-error stop) ends the job: file:line: reason, non-zero\n"
    "exit on every rank. With only RANK/WORLD_SIZE (bcprun --array-type PYTORCH, torchrun)\n"
    "each rank takes a fixed size-balanced share and reports its own. One input file at a\n"
    "time per rank, with every worker thread inside it. Either way an output's bytes do not\n"
    "depend on which rank wrote it. Single-input mode runs on rank 0 alone.\n"
    "\n"
    "Outputs are written under temporary names and renamed when complete (.idx last).\n"
    "Exit status: 0 success, 1 bad input or I/O error, 2 bad usage."};

// One task: an input file (or a chunk of the fused path) and its output prefixes (one per key).
struct Task {
  std::string input;
  std::vector<std::string> prefixes;
  const sp::Chunk* chunk = nullptr;
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

// The counters of TokenizeStats in a fixed order, for Job::sum.
std::vector<uint64_t> pack(const sp::TokenizeStats& s) {
  return {s.files,       s.files_kept,  s.jsonl_bytes_kept, s.tokens_kept,     s.input_bytes,
          s.jsonl_bytes, s.lines,       s.blank_lines,      s.documents,       s.empty_documents,
          s.sequences,   s.tokens,      s.skipped_lines};
}
sp::TokenizeStats unpack(const std::vector<uint64_t>& v) {
  sp::TokenizeStats s;
  uint64_t* fields[] = {&s.files,       &s.files_kept, &s.jsonl_bytes_kept, &s.tokens_kept,     &s.input_bytes,
                        &s.jsonl_bytes, &s.lines,      &s.blank_lines,      &s.documents,       &s.empty_documents,
                        &s.sequences,   &s.tokens,     &s.skipped_lines};
  for (size_t i = 0; i < std::size(fields); ++i) *fields[i] = v[i];
  return s;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

// The fused path's plan: sp_concat's plan over the files sp_extract would
// write from the shards, pinned in OUT/sp_concat_plan.tsv like sp_concat's so
// reruns and every rank follow one plan. Decompressed sizes are needed only
// to make it (--chunk-size): under MPI rank 0 makes it and the other ranks
// wait for its file.
std::vector<sp::Chunk> plan_fused(const sp::Job& job, const sp::ConcatPlanOptions& po, bool dry_run, bool quiet,
                                  const std::string& who) {
  const sp::RankInfo& rank = job.rank();
  const std::string plan_path = sp::plan_file_path(po.output_dir);
  const bool pinned = sp::path_exists(plan_path);
  if (dry_run && rank.rank != 0 && job.uses_mpi()) return {};  // rank 0 prints the plan
  const bool makes_plan = !pinned && (dry_run || !job.uses_mpi() || rank.rank == 0);
  std::vector<std::string> counted, dangling;
  const auto shards = sp::list_shard_inputs(po.input_dir, makes_plan && po.files_per_chunk == 0, &counted, &dangling);
  if (rank.rank == 0) sp::warn_dangling_links(who, dangling);
  if (!quiet && !counted.empty())
    std::fprintf(stderr, "%s: %zu shard(s) do not record their size in their zstd frame headers (e.g. %s): "
                 "decompressed once to count it\n", who.c_str(), counted.size(), counted[0].c_str());
  if (shards.empty() && !pinned)
    throw sp::Error("no *.jsonl.zst / *.jsonl files under '" + po.input_dir + "'");
  std::vector<sp::Chunk> plan;
  bool from_file = false;
  if (makes_plan && !dry_run) (void)sp::remove_stale_temps({plan_path});  // a killed run's plan temporary
  if (makes_plan) plan = sp::pin_plan(sp::plan_chunks(shards, po), po, !dry_run, &from_file);
  // The others wait here for rank 0's plan file. Every rank takes part, whatever
  // it saw: rank 0 may have pinned the plan before another rank looked.
  if (!dry_run && job.uses_mpi()) job.sum({0});
  if (!makes_plan) plan = sp::pin_plan({}, po, false, &from_file);
  if (from_file) sp::check_plan_covers(plan, shards, plan_path);
  sp::attach_shards(plan, shards, plan_path);
  return plan;
}

std::string plan_text(const std::vector<sp::Chunk>& plan, const sp::ConcatPlanOptions& po,
                      const sp::TokenizeOptions& opt, const sp::Job& job) {
  std::string s = sp::format_plan(plan);
  if (po.files_per_chunk) s += "(sizes are not needed with --files-per-chunk: shown as 0)\n";
  s += "each chunk is tokenized to <chunk>_" + opt.json_keys[0] + "_document.bin/.idx";
  if (opt.json_keys.size() > 1) s += " (and one pair per other key)";
  s += "; no chunk file is written\n";
  const std::string plan_path = sp::plan_file_path(po.output_dir);
  if (sp::path_exists(plan_path)) s += "(plan pinned by " + plan_path + ")\n";
  if (job.uses_mpi() && job.rank().world > 1)
    s += "chunks are drawn largest first by the " + std::to_string(job.rank().world) + " MPI ranks as they finish\n";
  return s;
}

int run(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv);
  sp::apply_output_flags(args);

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
  const bool quiet = args.flag("quiet"), overwrite = args.flag("overwrite");

  // Work out the tasks: (input file, output prefixes).
  const auto inputs = args.all("input");
  const bool batch = args.has("output-dir");
  if (args.has("input-dir") && !inputs.empty()) throw sp::UsageError("give either --input or --input-dir, not both");
  if (!args.has("input-dir") && inputs.empty()) throw sp::UsageError("no input: give --input FILE or --input-dir DIR");
  if (batch == args.has("output-prefix")) throw sp::UsageError("give exactly one of --output-prefix (one input) or --output-dir (batch)");
  if (args.has("input-dir") && !batch) throw sp::UsageError("--input-dir needs --output-dir");
  if (!batch && inputs.size() != 1) throw sp::UsageError("--output-prefix takes one --input; use --output-dir for several");
  const bool fused = args.has("chunk-size") || args.has("files-per-chunk"), dry_run = args.flag("dry-run");
  if (args.has("chunk-size") && args.has("files-per-chunk"))
    throw sp::UsageError("give either --chunk-size or --files-per-chunk, not both");
  if (fused && !args.has("input-dir"))
    throw sp::UsageError("--chunk-size and --files-per-chunk need --input-dir SHARDS");
  if (!fused && (dry_run || args.has("prefix")))
    throw sp::UsageError(std::string(dry_run ? "--dry-run" : "--prefix") +
                         " is for the fused path: give --chunk-size or --files-per-chunk");
  sp::ConcatPlanOptions plan_opt;
  if (fused) {
    plan_opt.input_dir = args.get("input-dir");
    plan_opt.output_dir = args.get("output-dir");
    plan_opt.prefix = args.get("prefix");
    if (plan_opt.prefix.empty() || plan_opt.prefix.find('/') != std::string::npos)
      throw sp::UsageError("--prefix must be a non-empty file name prefix without '/'");
    if (args.has("files-per-chunk")) {
      const int64_t n = args.get_int("files-per-chunk", 0);
      if (n < 1) throw sp::UsageError("--files-per-chunk must be at least 1");
      plan_opt.files_per_chunk = static_cast<uint64_t>(n);
    } else {
      plan_opt.target_size = args.get_size("chunk-size", 0);
      if (plan_opt.target_size == 0) throw sp::UsageError("--chunk-size must be more than 0");
    }
  }

  sp::Job job;
  const sp::RankInfo& rank = job.rank();
  const std::string who = sp::rank_prefix(rank) + "sp_tokenize";

  std::vector<Task> tasks;
  std::vector<uint64_t> sizes;
  auto add_task = [&](const std::string& input, const std::string& out_base, uint64_t size) {
    Task t{input, {}};
    for (const auto& k : opt.json_keys) t.prefixes.push_back(sp::output_prefix_for(out_base, k));
    tasks.push_back(std::move(t));
    sizes.push_back(size);
  };
  std::vector<sp::Chunk> plan;
  if (fused) {
    plan = plan_fused(job, plan_opt, dry_run, quiet, who);
    if (dry_run) {
      if (rank.rank == 0) std::fputs(plan_text(plan, plan_opt, opt, job).c_str(), stdout);
      return 0;
    }
    for (const auto& c : plan) {
      uint64_t on_disk = 0;  // progress counts the shards' bytes as read
      for (const auto& in : c.inputs) on_disk += sp::file_size(in.path);
      add_task(c.output, c.output, on_disk);
      tasks.back().chunk = &c;
    }
  } else if (!batch) {
    add_task(inputs[0], args.get("output-prefix"), 0);
  } else {
    const std::string out_dir = args.get("output-dir");
    if (args.has("input-dir")) {
      std::vector<std::string> dangling;
      for (const auto& f : sp::list_files(args.get("input-dir"), is_jsonl_name, &dangling))
        add_task(f.path, out_dir + "/" + strip_zst(f.relative), f.size);
      if (rank.rank == 0) sp::warn_dangling_links(who, dangling);
      if (tasks.empty())
        throw sp::Error("no *.jsonl / *.json / *.jsonl.zst files under '" + args.get("input-dir") + "'");
    } else {
      for (const auto& in : inputs) add_task(in, out_dir + "/" + strip_zst(sp::base_name(in)), sp::file_size(in));
    }
    std::map<std::string, std::string> owner;
    for (const auto& t : tasks)
      if (auto [it, fresh] = owner.emplace(t.prefixes[0], t.input); !fresh)
        throw sp::UsageError("inputs '" + it->second + "' and '" + t.input + "' would both write " + t.prefixes[0]);
  }
  for (const auto& t : tasks)
    if (!t.chunk && t.input != "-" && !sp::path_exists(t.input))
      throw sp::Error(sp::errno_message("cannot open", t.input));

  const sp::TextTokenizer tokenizer = sp::load_tokenizer(tokenizer_opt);
  if (!quiet && rank.rank == 0)
    for (const auto& note : tokenizer.notes) std::fprintf(stderr, "%s: %s\n", who.c_str(), note.c_str());

  // Each task: kept when its completion records match its outputs, its
  // input, this tokenizer and these options; else (re)built. A bad line with
  // --on-error stop throws out of the task and ends the job.
  std::vector<sp::TokenizeStats> stats(tasks.size());
  std::atomic<size_t> stale{0};
  std::mutex print_mu;
  auto print = [&](const std::string& line) {
    std::lock_guard<std::mutex> lk(print_mu);
    std::fprintf(stderr, "%s: %s\n", who.c_str(), line.c_str());
  };
  auto run_task = [&](size_t i, sp::Progress& progress) {
    const Task& t = tasks[i];
    if (!overwrite) {
      const sp::TokenizedCheck check = t.chunk ? sp::check_tokenized_chunk(tokenizer, *t.chunk, t.prefixes, opt)
                                               : sp::check_tokenized(tokenizer, t.input, t.prefixes, opt);
      if (check.complete) {
        stats[i] = check.stats;
        progress.add(sizes[i]);
        return;
      }
      if (!quiet && !check.notice.empty()) print(check.notice);
    }
    // This task's temporaries: only those of dead writers go.
    std::vector<std::string> finals;
    for (const auto& p : t.prefixes) {
      for (auto& f : sp::writer_temp_finals(p)) finals.push_back(std::move(f));
      finals.push_back(sp::record_path_for(p));
    }
    finals.push_back(sp::checkpoint_path_for(t.prefixes[0]));
    const sp::StaleTempSweep sweep = sp::remove_stale_temps(finals);
    stale += sweep.removed;
    if (sweep.other_hosts) print("warning: " + sweep.other_hosts_note());
    for (const auto& p : t.prefixes) sp::make_dirs(sp::parent_dir(p));
    stats[i] = t.chunk ? sp::tokenize_chunk(tokenizer, *t.chunk, !plan_opt.files_per_chunk, t.prefixes, opt, &progress)
                       : sp::tokenize_file(tokenizer, t.input, t.prefixes, opt, &progress);
    if (!quiet)
      for (const auto& note : stats[i].notes) print(note);
  };

  sp::JobTasksOptions jo;
  // Several inputs at once in one arena of `threads` workers: each pipeline's
  // serial parts (reading, decompressing, the index, the record) overlap the
  // others' tokenizing, and the last input running gets every worker.
  const long at_once_flag = args.get_int("files-at-once", 0);
  if (at_once_flag < 0) throw sp::UsageError("--files-at-once: expected a positive number");
  const int at_once = at_once_flag > 0 ? static_cast<int>(at_once_flag) : std::max(1, threads / kWorkersPerFile);
  jo.threads = at_once;
  jo.threads_per_task = std::max(1, threads / at_once);
  jo.items_are_tasks = false;      // the tasks count documents
  jo.progress.label = who;
  jo.progress.item_name = "documents";
  sp::apply_progress_flags(args, jo.progress);
  jo.per_rank_progress = args.flag("progress-per-rank");
  sp::JobTasksResult run;
  if (batch) {
    run = sp::run_job_tasks(job, sizes, jo, run_task);
  } else if (rank.rank == 0) {  // one input: rank 0 alone (under mpirun it alone has standard input)
    if (tasks[0].input != "-") jo.progress.total_bytes = sp::file_size(tasks[0].input);
    sp::Progress progress(jo.progress);
    tbb::task_arena arena(threads);  // an arena, not a global_control: see sp/threads.h on joining the workers
    run.stop = sp::run_interruptible([&] { arena.execute([&] { run_task(0, progress); }); });
    run.ran = {0};
    progress.finish();
    run.seconds = progress.elapsed_seconds();
  }

  // This rank's figures, then the job's: sums over the ranks, the first
  // errors in input order, one summary and one --stats-json from rank 0.
  sp::TokenizeStats mine;
  std::vector<size_t> ran = run.ran;
  std::sort(ran.begin(), ran.end());
  std::string errors;  // "<task>\t<error>" lines, so rank 0 can put them in input order
  for (size_t i : ran) {
    mine.merge(stats[i]);
    for (const auto& e : stats[i].first_errors) errors += std::to_string(i) + "\t" + e + "\n";
  }
  sp::TokenizeStats total = unpack(job.sum(pack(mine)));
  total.seconds = job.max(run.seconds);
  mine.seconds = run.seconds;
  std::vector<std::pair<size_t, std::string>> first;
  for (const auto& text : job.gather(errors))
    for (const auto& line : split_lines(text)) {
      const size_t tab = line.find('\t');
      first.emplace_back(std::stoull(line.substr(0, tab)), line.substr(tab + 1));
    }
  std::stable_sort(first.begin(), first.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t k = 0; k < first.size() && k < opt.max_reported_errors; ++k)
    total.first_errors.push_back(first[k].second);
  char buf[160];
  std::snprintf(buf, sizeof buf, "%llu\t%llu\t%llu\t%.3f", static_cast<unsigned long long>(mine.files),
                static_cast<unsigned long long>(mine.jsonl_bytes), static_cast<unsigned long long>(mine.tokens),
                run.seconds);
  std::vector<sp::RankTokenizeFigures> per_rank;
  for (const auto& text : job.gather(buf)) {
    sp::RankTokenizeFigures f;
    f.rank = static_cast<int>(per_rank.size());
    std::sscanf(text.c_str(), "%" SCNu64 "\t%" SCNu64 "\t%" SCNu64 "\t%lf", &f.files, &f.jsonl_bytes, &f.tokens,
                &f.seconds);
    per_rank.push_back(f);
  }
  const size_t stale_all = job.sum({stale.load()})[0];

  const bool reports = !job.uses_mpi() || rank.rank == 0;
  if (reports && args.has("stats-json") && !run.stop) {  // partial statistics would look like a finished run's
    std::string path = args.get("stats-json");
    if (!job.uses_mpi() && rank.world > 1) path += ".rank" + std::to_string(rank.rank);  // no MPI: nobody to sum with
    sp::AtomicFile f(path);
    f.write(sp::stats_json(total, tokenizer.name, per_rank));
    f.commit();
  }
  if (!quiet && reports) {
    if (total.files_kept && !run.stop)
      print(std::to_string(total.files_kept) + " input(s) already have complete outputs (their records match); "
            "kept (--overwrite rebuilds them)");
    if (stale_all) print(std::to_string(stale_all) + " stale temporaries removed");
    const std::string shape = (job.uses_mpi() ? std::to_string(rank.world) + " ranks x " : std::string()) +
                              std::to_string(threads) + " worker thread" + (threads == 1 ? "" : "s");
    if (run.stop) print("interrupted after " + std::to_string(total.files) + " of " + std::to_string(tasks.size()) +
                        " file(s); finished:");
    else print("done (" + shape + ")");
    for (const auto& line : split_lines(sp::stats_summary(total))) print(line);
    if (job.uses_mpi() && rank.world > 1) {
      std::string s = "per rank:";
      for (const auto& f : per_rank) {
        std::snprintf(buf, sizeof buf, "%s%d: %llu files, %.1f MB, %llu tokens, %.1f s", f.rank ? " | " : " ", f.rank,
                      static_cast<unsigned long long>(f.files), f.jsonl_bytes / 1e6,
                      static_cast<unsigned long long>(f.tokens), f.seconds);
        s += buf;
      }
      print(s);
    }
  }
  if (run.stop) {
    job.finish();  // every rank got the signal and stops here together
    throw *run.stop;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_tokenize", run, argc, argv); }
