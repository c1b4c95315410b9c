#!/usr/bin/env python3
"""sp_tokenize throughput for every tokenizer family on the same text, at
each --workers count (default 1 and all CPUs), beside the family's reference
tokenizer measured in the same run: the whole sp_tokenize process (read, JSON
parse, tokenize, write .bin/.idx) against the reference's encode calls alone
(the texts parsed beforehand, which favours the reference), both in MB/s of
JSONL. Each row carries its ratio to the reference at the same thread count
and to GPT-2 at the same worker count (issue 9's floor: every byte-level BPE
family at >= 60% of GPT-2's MB/s); the header gives the corpus's zstd -19
ratio and distinct GPT-2 pre-tokens per MB (bench/make_bench_corpus.py).

    bench/tokenizer_families_bench.py [--mb 50] [--build build] [--corpus FILE]
        [--models DIR] [--workers 1,N] [--runs 3] [--only gpt2,llama3,...]
        [--reference auto|python|node|none] [--reference-mb MB]

References: Python tiktoken (gpt2, cl100k_base, o200k_base), tokenizers
(tokenizer.json) and sentencepiece when importable (reference/families_reference.py),
else the npm packages in bench/reference (tiktoken 1.0.22's WASM build, one
thread; @anush008/tokenizers, threads from RAYON_NUM_THREADS; `npm ci` there
first); a reference that cannot run at N threads is shown at its own count.
Models come from third_party/tokenizers/fetch_models.sh (--models, default
$SP_TOKENIZERS_DIR); GPT-2's vocab from $SP_GPT2_DIR. sp_tokenize rows are the
median of --runs runs, interleaved family by family (A B C ... A B C ...) so
that a noisy machine slows all rows alike; references run once each (REF_RUNS).
"""
import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from tokenize_bench import cpu_name  # noqa: E402  (one machine description for every bench table)


def families(models, gpt2):
    """(name, kind, flags, reference): reference is (library, what) for the reference runners."""
    tj = lambda name: os.path.join(models, name, "tokenizer.json")  # noqa: E731
    return [
        ("gpt2", "byte-level BPE", ["--tokenizer-type", "GPT2BPETokenizer", "--vocab-file",
                                    os.path.join(gpt2, "vocab.json"), "--merge-file", os.path.join(gpt2, "merges.txt")],
         ("tiktoken", "gpt2")),
        ("llama3", "byte-level BPE", ["--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model",
                                      os.path.join(models, "llama3")], ("hf", "llama3")),
        ("qwen3", "byte-level BPE", ["--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model",
                                     os.path.join(models, "qwen3")], ("hf", "qwen3")),
        ("cl100k_base", "byte-level BPE", ["--tokenizer-type", "TikTokenizer", "--tokenizer-model",
                                           os.path.join(models, "tiktoken", "cl100k_base.tiktoken"),
                                           "--tiktoken-pattern", "cl100k_base"], ("tiktoken", "cl100k_base")),
        ("o200k_base", "byte-level BPE", ["--tokenizer-type", "TikTokenizer", "--tokenizer-model",
                                          os.path.join(models, "tiktoken", "o200k_base.tiktoken"),
                                          "--tiktoken-pattern", "o200k_base"], ("tiktoken", "o200k_base")),
        ("llama2 (tokenizer.json)", "SentencePiece-style BPE", ["--tokenizer-type", "HuggingFaceTokenizer",
                                                                "--tokenizer-model", os.path.join(models, "llama2")],
         ("hf", "llama2")),
        ("gemma (tokenizer.json)", "SentencePiece-style BPE", ["--tokenizer-type", "HuggingFaceTokenizer",
                                                               "--tokenizer-model", os.path.join(models, "gemma")],
         ("hf", "gemma")),
        # Encoded natively since the SentencePiece BPE encoder (src/sentencepiece_bpe.cc).
        ("spm BPE + byte fallback", "SentencePiece-style BPE", ["--tokenizer-type", "SentencePieceTokenizer",
                                                                "--tokenizer-model",
                                                                os.path.join(models, "spm", "bpe_bytefallback.model")],
         ("spm", "bpe_bytefallback")),
        ("spm unigram nmt_nfkc", "libsentencepiece", ["--tokenizer-type", "SentencePieceTokenizer",
                                                      "--tokenizer-model",
                                                      os.path.join(models, "spm", "unigram_nfkc.model")],
         ("spm", "unigram_nfkc")),
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
        s = json.load(f)
    return seconds, s["tokens"], s["documents"]


def reference_kind(requested):
    if requested != "auto":
        return requested
    try:
        import tiktoken, tokenizers, sentencepiece  # noqa: F401,E401
        return "python"
    except ImportError:
        pass
    node_modules = os.path.join(ROOT, "bench", "reference", "node_modules")
    if subprocess.run(["which", "node"], capture_output=True).returncode == 0 and os.path.isdir(node_modules):
        return "node"
    return "none"


def run_reference(kind, corpus, models, gpt2, reference, threads):
    """The reference's row {version, threads, seconds, tokens}, or None when there is none for this family."""
    lib, what = reference
    if kind == "python":
        family = f"spm:{what}" if lib == "spm" else what
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads),
                   TOKENIZERS_PARALLELISM="true" if threads > 1 else "false")
        p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "reference", "families_reference.py"), corpus,
                            models, "--family", family, "--threads", str(threads), "--gpt2-dir", gpt2],
                           env=env, capture_output=True, text=True)
        if p.returncode == 3:
            return None
        if p.returncode != 0:
            sys.exit(f"families_reference.py failed for {family}:\n{p.stderr}")
        return json.loads(p.stdout.strip().splitlines()[-1])
    if kind == "node":
        if lib == "spm":
            return None
        if lib == "tiktoken":
            threads = 1  # tiktoken's WASM build has one thread
            args = ["tiktoken", what]
        else:
            args = ["hf", os.path.join(models, what, "tokenizer.json")]
        p = subprocess.run(["node", "families_reference.mjs", corpus] + args,
                           cwd=os.path.join(ROOT, "bench", "reference"),
                           env=dict(os.environ, RAYON_NUM_THREADS=str(threads)), capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"families_reference.mjs failed for {what}:\n{p.stderr}")
        return json.loads(p.stdout.strip().splitlines()[-1])
    return None


def head_of(corpus, mb, work):
    """The first `mb` MB of the corpus (whole lines), for the slower references."""
    if os.path.getsize(corpus) <= mb * 1e6:
        return corpus
    out = os.path.join(work, "reference_slice.jsonl")
    with open(corpus, "rb") as src, open(out, "wb") as dst:
        for line in src:
            dst.write(line)
            if dst.tell() >= mb * 1e6:
                break
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--corpus")
    ap.add_argument("--models", default=os.environ.get("SP_TOKENIZERS_DIR", ""))
    ap.add_argument("--workers", default=f"1,{os.cpu_count()}")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--reference", default="auto", choices=["auto", "python", "node", "none"])
    ap.add_argument("--reference-mb", type=float, default=50,
                    help="references encode only the first MB of the corpus (whole lines; the ratio uses MB/s)")
    args = ap.parse_args()
    gpt2 = os.environ.get("SP_GPT2_DIR", os.path.expanduser("~/.cache/sp_toolkit/gpt2"))
    if not args.models or not os.path.isdir(args.models):
        sys.exit("tokenizer_families_bench: no models: run third_party/tokenizers/fetch_models.sh, pass --models")
    binary = os.path.join(args.build, "bin", "sp_tokenize")
    work = tempfile.mkdtemp(prefix="sp_families_bench_")
    try:
        bench(args, gpt2, binary, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench(args, gpt2, binary, work):
    corpus = args.corpus
    if not corpus:
        corpus = os.path.join(work, "corpus.jsonl")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_bench_corpus.py"), corpus, str(args.mb),
                        "--no-stats"], check=True)
    mb = os.path.getsize(corpus) / 1e6
    rows = families(args.models, gpt2)
    if args.only:
        keep = set(args.only.split(","))
        rows = [r for r in rows if r[0].split(" ")[0] in keep or r[0] in keep]
    worker_counts = [int(w) for w in args.workers.split(",")]
    plan = [(i, w) for w in worker_counts for i in range(len(rows))]
    times = {p: [] for p in plan}
    tokens, documents = {}, 0
    for _ in range(args.runs):
        for p in plan:
            seconds, n, documents = run_once(binary, corpus, rows[p[0]][2], p[1], work)
            times[p].append(seconds)
            tokens[p] = n

    kind = reference_kind(args.reference)
    ref_corpus = head_of(corpus, args.reference_mb, work)
    ref_mb = os.path.getsize(ref_corpus) / 1e6
    refs, done = {}, {}
    for p in plan:
        key = (rows[p[0]][3], 1 if kind == "node" and rows[p[0]][3][0] == "tiktoken" else p[1])
        if key not in done:  # a one-thread reference runs once for every worker count
            done[key] = None if kind == "none" else run_reference(kind, ref_corpus, args.models, gpt2,
                                                                  rows[p[0]][3], p[1])
            if done[key]:
                done[key]["mb_per_s"] = ref_mb / done[key]["seconds"]
        refs[p] = done[key]

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from make_bench_corpus import corpus_stats, describe  # noqa: E402
    stats = corpus_stats(corpus, args.build)
    print(f"Machine: {cpu_name()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print(f"Corpus: {corpus}: {describe(stats)}")
    print(f"sp_tokenize: median of {args.runs} interleaved runs of `sp_tokenize --input CORPUS --output-prefix OUT "
          f"--append-eod --workers N --quiet --no-sync --overwrite` + the family's flags (whole process)")
    ref_desc = {"python": "Python packages (bench/reference/families_reference.py)",
                "node": "npm packages (bench/reference/families_reference.mjs; tiktoken's WASM build has one thread)",
                "none": "none"}[kind]
    print(f"References: {ref_desc}, encode calls only, one run each, on "
          + ("the whole corpus" if ref_corpus == corpus else f"its first {ref_mb:.1f} MB") + "; MB/s of JSONL\n")
    print("| family | kind | workers | tokens | sp_tokenize s | sp_tokenize MB/s | vs GPT-2 (same workers) "
          "| reference | ref threads | ref MB/s | sp_tokenize / reference |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for p in plan:
        name, kind_name, _, _ = rows[p[0]]
        s = statistics.median(times[p])
        base = next((statistics.median(times[q]) for q in plan if rows[q[0]][0] == "gpt2" and q[1] == p[1]), None)
        vs_gpt2 = f"{base / s:.2f}x" if base else "-"
        r = refs[p]
        if r:
            check = "" if ref_corpus != corpus or r["tokens"] + documents == tokens[p] else " (token count differs)"
            ref = f"{r['version']}{check} | {r['threads']} | {r['mb_per_s']:.1f} | {mb / s / r['mb_per_s']:.2f}x"
        else:
            ref = "- | - | - | -"
        print(f"| {name} | {kind_name} | {p[1]} | {tokens[p]:,} | {s:.2f} | {mb / s:.1f} | {vs_gpt2} | {ref} |")


if __name__ == "__main__":
    main()
