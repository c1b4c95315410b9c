#!/usr/bin/env python3
"""End-to-end sp_tokenize throughput: the whole process (read, JSON parse,
GPT-2 BPE, write .bin/.idx) for each worker count, beside reference
tokenizers' encode on the same text, in one run. Prints a markdown table
with the machine, the corpus and the command.

    bench/tokenize_bench.py [--mb 200] [--build build] [--corpus FILE]
                            [--workers 1,2,4,...] [--reference auto|python|node|none]
                            [--sync] [--block-size SIZE]

sp_tokenize runs with --no-sync unless --sync is given (then the outputs'
fsync, which depends on the disk, is timed too), best of 2 per row, each
after deleting the previous run's outputs.

The corpus defaults to bench/make_bench_corpus.py output (prose, code,
multilingual text from the machine). References: Python `tokenizers` and
`tiktoken` when importable, else their npm bindings (bench/reference/).
"""
import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_sp(binary, corpus, vocab_dir, workers, work, sync, block_size):
    stats = os.path.join(work, "stats.json")
    prefix = os.path.join(work, "out")
    # The previous run's outputs go first, outside the timing: replacing a
    # large file makes the rename free its blocks, which is the file system's
    # time, not ours (0.4 s of a 1.1 s run for 730 MB on an ext4 with discard).
    for old in glob.glob(prefix + "_*"):
        os.remove(old)
    cmd = [binary, "--input", corpus, "--output-prefix", prefix, "--vocab-file",
           os.path.join(vocab_dir, "vocab.json"), "--merge-file", os.path.join(vocab_dir, "merges.txt"),
           "--append-eod", "--workers", str(workers), "--quiet", "--stats-json", stats]
    if not sync:
        cmd.append("--no-sync")
    if block_size:
        cmd += ["--block-size", block_size]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t0
    s = json.load(open(stats))
    return seconds, s["tokens"], s["documents"]


def reference_runs(kind, corpus, vocab_dir, threads_list):
    rows = []
    if kind == "python":
        for tool in ("hf", "tiktoken"):
            for t in threads_list:
                env = dict(os.environ, RAYON_NUM_THREADS=str(t), TOKENIZERS_PARALLELISM="true" if t > 1 else "false")
                out = subprocess.run([sys.executable, os.path.join(ROOT, "bench/reference/encode_bench.py"), corpus,
                                      vocab_dir, tool, str(t)], env=env, check=True, capture_output=True, text=True)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    elif kind == "node":
        ref = os.path.join(ROOT, "bench/reference")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=ref, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for tool, ts in (("hf", threads_list), ("tiktoken", [1])):
            for t in ts:
                env = dict(os.environ, RAYON_NUM_THREADS=str(t))
                out = subprocess.run(["node", "encode_bench.mjs", corpus, vocab_dir, tool], cwd=ref, env=env,
                                     check=True, capture_output=True, text=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                r["threads"] = t
                r["version"] = "npm"
                rows.append(r)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--corpus")
    ap.add_argument("--workers", default=f"1,{os.cpu_count()}")
    ap.add_argument("--reference", default="auto", choices=["auto", "python", "node", "none"])
    ap.add_argument("--vocab-dir", default=os.environ.get("SP_GPT2_DIR"))
    ap.add_argument("--reference-mb", type=float, default=100,
                    help="references encode only the first MB of the corpus (they are slow)")
    ap.add_argument("--sync", action="store_true",
                    help="time sp_tokenize's default fsync of its outputs too (by default the runs use --no-sync, "
                         "so the table measures the tool, not the disk)")
    ap.add_argument("--block-size", help="passed to sp_tokenize --block-size")
    a = ap.parse_args()
    vocab_dir = a.vocab_dir or subprocess.run(["bash", os.path.join(ROOT, "third_party/gpt2/fetch_vocab.sh")],
                                              check=True, capture_output=True, text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="sp_bench_")
    try:
        corpus = a.corpus
        if not corpus:
            corpus = os.path.join(work, "corpus.jsonl")
            subprocess.run([sys.executable, os.path.join(ROOT, "bench/make_bench_corpus.py"), corpus, str(a.mb),
                            "--no-stats"], check=True)
        size = os.path.getsize(corpus)
        workers = [int(w) for w in a.workers.split(",")]
        binary = os.path.join(a.build, "bin", "sp_tokenize")
        sp_rows = []
        for w in workers:
            best = min((run_sp(binary, corpus, vocab_dir, w, work, a.sync, a.block_size) for _ in range(2)),
                       key=lambda r: r[0])
            sp_rows.append((w,) + best)
        tokens = {r[2] for r in sp_rows}
        if len(tokens) != 1:
            sys.exit(f"token counts differ between worker counts: {sp_rows}")
        kind = a.reference
        if kind == "auto":
            try:
                import tiktoken, tokenizers  # noqa: F401
                kind = "python"
            except ImportError:
                kind = "node" if shutil.which("npm") else "none"
        ref_corpus = corpus
        if size > a.reference_mb * 1e6:
            ref_corpus = os.path.join(work, "reference_slice.jsonl")
            with open(corpus, "rb") as src, open(ref_corpus, "wb") as dst:
                for line in src:
                    dst.write(line)
                    if dst.tell() >= a.reference_mb * 1e6:
                        break
        refs = reference_runs(kind, ref_corpus, vocab_dir, [1, max(workers)]) if kind != "none" else []

        one = size / 1e6 / sp_rows[0][1]
        print(f"Machine: {cpu_name()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
        print(f"Corpus: {size / 1e6:.1f} MB JSONL, {sp_rows[0][3]} documents, {sp_rows[0][2]} tokens "
              f"(sp_tokenize with --append-eod)")
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        from make_bench_corpus import corpus_stats, describe  # noqa: E402  (zstd -19 ratio, distinct pre-tokens)
        print(f"Corpus statistics: {describe(corpus_stats(corpus, a.build))}")
        if ref_corpus != corpus:
            print(f"References encode the first {os.path.getsize(ref_corpus) / 1e6:.0f} MB of the corpus.")
        print(f"Command: bench/tokenize_bench.py --workers {a.workers}"
              + (f" --corpus {a.corpus}" if a.corpus else f" --mb {a.mb:g}")
              + (" --sync" if a.sync else "") + (f" --block-size {a.block_size}" if a.block_size else ""))
        print("sp_tokenize runs: best of 2, outputs " + ("fsynced (default)" if a.sync else "not fsynced (--no-sync)")
              + "; the previous run's outputs are deleted before each run.")
        print()
        print("| what | threads | MB/s of JSONL | vs sp_tokenize at same threads | scaling |")
        print("|---|---|---|---|---|")
        by_threads = {}
        for w, s, tok, docs in sp_rows:
            mbps = size / 1e6 / s
            by_threads[w] = mbps
            print(f"| sp_tokenize, whole process | {w} | {mbps:.1f} | | {mbps / one:.2f}x |")
        for r in refs:
            name = {"hf": "HF tokenizers", "tiktoken": "tiktoken"}[r["tool"]] + f" {r.get('version', '')}, encode only"
            ours = by_threads.get(r["threads"])
            ratio = f"sp_tokenize {ours / r['mb_per_s']:.2f}x faster" if ours else ""
            note = ""
            if ref_corpus == corpus and r["tokens"] + sp_rows[0][3] != sp_rows[0][2]:
                note = " (token count differs!)"
            print(f"| {name}{note} | {r['threads']} | {r['mb_per_s']:.1f} | {ratio} | |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
