#!/usr/bin/env python3
"""sp_tokenize throughput for every tokenizer family on the same text: the
whole process (read, JSON parse, tokenize, write .bin/.idx), one worker,
beside the GPT-2 path in the same run, so each row carries its ratio to
GPT-2 (issue 9's floor: every byte-level BPE family at >= 60% of GPT-2's
MB/s). SentencePiece rows also run at each --workers count given, to show
the library path scaling. Prints a markdown table with the machine, corpus
and commands.

    bench/tokenizer_families_bench.py [--mb 50] [--build build] [--corpus FILE]
        [--models DIR] [--workers 1,2] [--runs 3] [--only gpt2,llama3,...]

Models come from third_party/tokenizers/fetch_models.sh (--models, default
$SP_TOKENIZERS_DIR); GPT-2's vocab from $SP_GPT2_DIR. Rows are the median of
--runs runs, interleaved family by family (A B C ... A B C ...) so that a
noisy machine slows all rows alike.
"""
import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from tokenize_bench import cpu_name  # noqa: E402  (one machine description for every bench table)


def families(models, gpt2):
    """(name, kind, flags): kind is 'byte-level BPE', 'SentencePiece-style BPE' or 'libsentencepiece'."""
    return [
        ("gpt2", "byte-level BPE", ["--tokenizer-type", "GPT2BPETokenizer", "--vocab-file",
                                    os.path.join(gpt2, "vocab.json"), "--merge-file", os.path.join(gpt2, "merges.txt")]),
        ("llama3", "byte-level BPE", ["--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model",
                                      os.path.join(models, "llama3")]),
        ("qwen3", "byte-level BPE", ["--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model",
                                     os.path.join(models, "qwen3")]),
        ("cl100k_base", "byte-level BPE", ["--tokenizer-type", "TikTokenizer", "--tokenizer-model",
                                           os.path.join(models, "tiktoken", "cl100k_base.tiktoken"),
                                           "--tiktoken-pattern", "cl100k_base"]),
        ("o200k_base", "byte-level BPE", ["--tokenizer-type", "TikTokenizer", "--tokenizer-model",
                                          os.path.join(models, "tiktoken", "o200k_base.tiktoken"),
                                          "--tiktoken-pattern", "o200k_base"]),
        ("llama2 (tokenizer.json)", "SentencePiece-style BPE", ["--tokenizer-type", "HuggingFaceTokenizer",
                                                                "--tokenizer-model", os.path.join(models, "llama2")]),
        ("gemma (tokenizer.json)", "SentencePiece-style BPE", ["--tokenizer-type", "HuggingFaceTokenizer",
                                                               "--tokenizer-model", os.path.join(models, "gemma")]),
        # Encoded natively since the SentencePiece BPE encoder (src/sentencepiece_bpe.cc).
        ("spm BPE + byte fallback", "SentencePiece-style BPE", ["--tokenizer-type", "SentencePieceTokenizer",
                                                                "--tokenizer-model",
                                                                os.path.join(models, "spm", "bpe_bytefallback.model")]),
        ("spm unigram nmt_nfkc", "libsentencepiece", ["--tokenizer-type", "SentencePieceTokenizer",
                                                      "--tokenizer-model",
                                                      os.path.join(models, "spm", "unigram_nfkc.model")]),
    ]


def run_once(binary, corpus, flags, workers, work):
    prefix = os.path.join(work, "out")
    for old in glob.glob(prefix + "_*"):
        os.remove(old)
    stats = os.path.join(work, "stats.json")
    cmd = [binary, "--input", corpus, "--output-prefix", prefix, "--append-eod", "--workers", str(workers),
           "--quiet", "--no-sync", "--overwrite", "--stats-json", stats] + flags
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t0
    with open(stats) as f:
        tokens = json.load(f)["tokens"]
    return seconds, tokens, cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--corpus")
    ap.add_argument("--models", default=os.environ.get("SP_TOKENIZERS_DIR", ""))
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    gpt2 = os.environ.get("SP_GPT2_DIR", os.path.expanduser("~/.cache/sp_toolkit/gpt2"))
    if not args.models or not os.path.isdir(args.models):
        sys.exit("tokenizer_families_bench: no models: run third_party/tokenizers/fetch_models.sh, pass --models")
    binary = os.path.join(args.build, "bin", "sp_tokenize")
    work = tempfile.mkdtemp(prefix="sp_families_bench_")
    corpus = args.corpus
    if not corpus:
        corpus = os.path.join(work, "corpus.jsonl")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_bench_corpus.py"), corpus, str(args.mb)],
                       check=True)
    mb = os.path.getsize(corpus) / 1e6
    rows = families(args.models, gpt2)
    if args.only:
        keep = set(args.only.split(","))
        rows = [r for r in rows if r[0].split(" ")[0] in keep or r[0] in keep]
    worker_counts = [int(w) for w in args.workers.split(",")]
    plan = []  # (row index, workers)
    for i, (name, kind, _) in enumerate(rows):
        for w in (worker_counts if kind == "libsentencepiece" else worker_counts[:1]):
            plan.append((i, w))
    times = {p: [] for p in plan}
    tokens, commands = {}, {}
    for _ in range(args.runs):
        for p in plan:
            seconds, n, cmd = run_once(binary, corpus, rows[p[0]][2], p[1], work)
            times[p].append(seconds)
            tokens[p], commands[p] = n, cmd
    base = next((statistics.median(times[p]) for p in plan if rows[p[0]][0] == "gpt2" and p[1] == worker_counts[0]),
                None)
    print(f"Machine: {cpu_name()}, {os.cpu_count()} CPUs; corpus {corpus} ({mb:.1f} MB JSONL); "
          f"median of {args.runs} interleaved runs; `sp_tokenize --input CORPUS --output-prefix OUT --append-eod "
          f"--workers N --quiet --no-sync --overwrite` + the family's flags\n")
    print("| family | kind | workers | tokens | seconds | MB/s | vs GPT-2 (1 worker) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for p in plan:
        name, kind, _ = rows[p[0]]
        s = statistics.median(times[p])
        ratio = f"{base / s:.2f}x" if base else "-"
        print(f"| {name} | {kind} | {p[1]} | {tokens[p]:,} | {s:.2f} | {mb / s:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
