// sp_tokenize: JSONL -> Megatron indexed dataset (.bin/.idx) with any of
// Megatron-LM's text tokenizer types. A drop-in for Megatron-LM's
// tools/preprocess_data.py (same flags, same output bytes), plus a batch mode
// that shards files across ranks.
#include <cstdint>
#include <set>
#include <string>

#include "sp/cli.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/job.h"
#include "sp/progress.h"
#include "sp/tokenize_job.h"

namespace {

const sp::cli::Program kProgram{
    "sp_tokenize",
    "tokenize JSONL documents with Megatron-LM's tokenizers into Megatron .bin/.idx files",
    "sp_tokenize --input FILE --output-prefix PREFIX [options]\n"
    "       sp_tokenize (--input FILE...|--input-dir DIR) --output-dir DIR [options]",
    sp::with_output_flags(sp::with_job_flags(sp::with_progress_flags({
        {"input", "FILE",
         "JSONL input (.jsonl, or .jsonl.zst decompressed on the fly). Repeat or list several for batch mode.", "",
         true},
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
        {"skip-empty", "",
         "Leave documents that produce no tokens out of the index (NeMo's behaviour; Megatron keeps them)."},
        {"tokenizer-type", "NAME",
         "GPT2BPETokenizer, HuggingFaceTokenizer, TikTokenizer, SentencePieceTokenizer, GPTSentencePieceTokenizer "
         "or Llama2Tokenizer (Megatron's types; see README).", "GPT2BPETokenizer"},
        {"tokenizer-model", "PATH",
         "The model: a .tiktoken file or Megatron's tiktoken JSON (TikTokenizer), a SentencePiece .model, a "
         "tokenizer.json or its directory (HuggingFaceTokenizer)."},
        {"vocab-file", "FILE",
         "GPT-2 vocab.json (default: $SP_GPT2_DIR/vocab.json or ~/.cache/sp_toolkit/gpt2/vocab.json).", "", false,
         {"vocab"}},
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
        {"workers", "N",
         "Worker threads (default: the CPUs available to this process, divided among the ranks of a node).", "",
         false, {"threads"}},
        {"files-at-once", "N",
         "Batch and fused modes: inputs (or chunks) tokenized at once in this process, sharing the workers "
         "(default: one per 4 workers, so a file's start, drain and index overlap others' work)."},
        {"on-error", "MODE",
         "stop: a bad line ends the run with file:line: reason; skip: skip bad lines, count and report them.",
         "stop"},
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
    "  mpirun -np 8 sp_tokenize --input-dir SlimPajama-627B/train --output-dir tokenized/ \\\n"
    "      --chunk-size 34G --append-eod   # fused: .jsonl.zst shards -> tokenized 34 GB chunks\n"
    "\n"
    "Ranks (batch mode): under mpirun (or another MPI launcher: bcprun --array-type MPI) the\n"
    "ranks draw input files, largest first, from one counter as they finish; rank 0 prints one\n"
    "progress line, one summary and writes the one --stats-json for the whole job, and a rank\n"
    "that fails (a bad line with --on-error stop) ends the job: file:line: reason, non-zero\n"
    "exit on every rank. With only RANK/WORLD_SIZE (bcprun --array-type PYTORCH, torchrun)\n"
    "each rank takes a fixed size-balanced share and reports its own. Each rank tokenizes\n"
    "--files-at-once inputs (or chunks) at a time, sharing its worker threads. Either way an\n"
    "output's bytes do not depend on which rank wrote it. Single-input mode runs on rank 0 alone.\n"
    "\n"
    "Outputs are written under temporary names and renamed when complete (.idx last).\n"
    "Exit status: 0 success, 1 bad input or I/O error, 2 bad usage."};

int run(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv);
  sp::apply_output_flags(args);

  sp::TokenizeJobOptions job;
  job.tokenizer = sp::cli::tokenizer_options(args);
  if (args.get("dataset-impl") != "mmap") throw sp::UsageError("--dataset-impl: only mmap is supported");

  sp::TokenizeOptions& opt = job.tokenize;
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
  job.stats_json = args.get("stats-json");
  const long workers = args.get_int("workers", 0);
  if (workers < 0) throw sp::UsageError("--workers: expected a positive number");
  job.threads = static_cast<int>(workers);  // 0: the default
  job.quiet = args.flag("quiet");

  job.inputs = args.all("input");
  job.input_dir = args.get("input-dir");
  job.output_prefix = args.get("output-prefix");
  job.output_dir = args.get("output-dir");
  const bool batch = args.has("output-dir");
  if (args.has("input-dir") && !job.inputs.empty())
    throw sp::UsageError("give either --input or --input-dir, not both");
  if (!args.has("input-dir") && job.inputs.empty())
    throw sp::UsageError("no input: give --input FILE or --input-dir DIR");
  if (batch == args.has("output-prefix"))
    throw sp::UsageError("give exactly one of --output-prefix (one input) or --output-dir (batch)");
  if (args.has("input-dir") && !batch) throw sp::UsageError("--input-dir needs --output-dir");
  if (!batch && job.inputs.size() != 1)
    throw sp::UsageError("--output-prefix takes one --input; use --output-dir for several");
  const bool fused = args.has("chunk-size") || args.has("files-per-chunk");
  job.dry_run = args.flag("dry-run");
  if (args.has("chunk-size") && args.has("files-per-chunk"))
    throw sp::UsageError("give either --chunk-size or --files-per-chunk, not both");
  if (fused && !args.has("input-dir"))
    throw sp::UsageError("--chunk-size and --files-per-chunk need --input-dir SHARDS");
  if (!fused && (job.dry_run || args.has("prefix")))
    throw sp::UsageError(std::string(job.dry_run ? "--dry-run" : "--prefix") +
                         " is for the fused path: give --chunk-size or --files-per-chunk");
  if (fused) {
    job.plan.prefix = args.get("prefix");
    if (job.plan.prefix.empty() || job.plan.prefix.find('/') != std::string::npos)
      throw sp::UsageError("--prefix must be a non-empty file name prefix without '/'");
    if (args.has("files-per-chunk")) {
      const int64_t n = args.get_int("files-per-chunk", 0);
      if (n < 1) throw sp::UsageError("--files-per-chunk must be at least 1");
      job.plan.files_per_chunk = static_cast<uint64_t>(n);
    } else {
      job.plan.target_size = args.get_size("chunk-size", 0);
      if (job.plan.target_size == 0) throw sp::UsageError("--chunk-size must be more than 0");
    }
  }
  const long at_once = args.get_int("files-at-once", 0);
  if (at_once < 0) throw sp::UsageError("--files-at-once: expected a positive number");
  job.files_at_once = static_cast<int>(at_once);  // 0: the default
  sp::apply_progress_flags(args, job.progress);
  job.per_rank_progress = args.flag("progress-per-rank");
  return sp::run_tokenize_job(job);
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_tokenize", run, argc, argv); }
