#!/usr/bin/env python3
"""The reference libraries' own speed on the corpus sp_tokenize's family bench
uses, one thread each, so RESULTS.md can quote our ratio to them from the same
machine and run: tiktoken's encode_ordinary (cl100k_base, o200k_base), Hugging
Face tokenizers' encode (tokenizer.json models, RAYON_NUM_THREADS=1) and
sentencepiece's EncodeAsIds. Times the encode calls only (the texts are parsed
first), so the comparison favours the references: sp_tokenize's figures are
whole processes (JSON parsing, writing .bin/.idx, loading).

    RAYON_NUM_THREADS=1 families_reference.py CORPUS.jsonl MODELS_DIR
    (REF_RUNS=N: best of N, default 2; REF_HF_MODELS=llama3,qwen3,...: the tokenizer.json models)

Libraries that are not importable are skipped (said on stderr).

One family at a given thread count, for bench/tokenizer_families_bench.py (one JSON line: tool, version, threads,
seconds, tokens; tiktoken's encode_ordinary_batch, HF tokenizers' encode_batch under RAYON_NUM_THREADS, and
sentencepiece's encode with num_threads when threads > 1; exit status 3 when the library is not importable):

    families_reference.py CORPUS.jsonl MODELS_DIR --family gpt2|cl100k_base|o200k_base|llama3|...|spm:NAME
        --threads N [--gpt2-dir DIR]
"""
import json
import os
import sys
import time


def texts_of(corpus):
    with open(corpus, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def timed(name, fn, texts, mb):
    best = None
    tokens = 0
    for _ in range(int(os.environ.get("REF_RUNS", "2"))):
        t0 = time.perf_counter()
        tokens = sum(len(ids) for ids in map(fn, texts))
        s = time.perf_counter() - t0
        best = s if best is None else min(best, s)
    print(f"| {name} | {tokens:,} | {best:.2f} | {mb / best:.1f} |", flush=True)


def gpt2_encoding(vocab_dir):
    """tiktoken's Encoding for GPT-2 built from vocab.json (tiktoken.get_encoding would download its file)."""
    import tiktoken
    with open(os.path.join(vocab_dir, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    # GPT-2's bytes_to_unicode, inverted: vocab.json keys back to raw bytes.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    to_byte, n = {}, 0
    for b in range(256):
        if b in printable:
            to_byte[chr(b)] = b
        else:
            to_byte[chr(256 + n)] = b
            n += 1
    ranks = {bytes(to_byte[c] for c in tok): i for tok, i in vocab.items() if tok != "<|endoftext|>"}
    pat = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    return tiktoken.Encoding("gpt2_from_vocab", pat_str=pat, mergeable_ranks=ranks, special_tokens={})


def tiktoken_encoding(models, name):
    import tiktoken
    import tiktoken.load
    ranks = tiktoken.load.load_tiktoken_bpe(os.path.join(models, "tiktoken", name + ".tiktoken"))
    return tiktoken.Encoding(name + "_ref", pat_str=PATTERNS[name], mergeable_ranks=ranks, special_tokens={})


def run_one(corpus, models, family, threads, gpt2_dir):
    """Times one family's reference at `threads` threads; returns the JSON row, or None when not importable."""
    texts = texts_of(corpus)
    try:
        if family in ("gpt2", "cl100k_base", "o200k_base"):
            import tiktoken
            enc = gpt2_encoding(gpt2_dir) if family == "gpt2" else tiktoken_encoding(models, family)
            version = f"tiktoken {tiktoken.__version__}"
            if threads == 1:
                fn = lambda: sum(len(enc.encode_ordinary(t)) for t in texts)  # noqa: E731
            else:
                fn = lambda: sum(map(len, enc.encode_ordinary_batch(texts, num_threads=threads)))  # noqa: E731
        elif family.startswith("spm:"):
            import sentencepiece as spm
            sp = spm.SentencePieceProcessor(model_file=os.path.join(models, "spm", family[4:] + ".model"))
            version = f"sentencepiece {spm.__version__}"
            fn = lambda: sum(map(len, sp.encode(texts, out_type=int, num_threads=threads)))  # noqa: E731
        else:
            os.environ["RAYON_NUM_THREADS"] = str(threads)  # before the pool starts
            import tokenizers
            tok = tokenizers.Tokenizer.from_file(os.path.join(models, family, "tokenizer.json"))
            version = f"HF tokenizers {tokenizers.__version__}"
            if threads == 1:
                fn = lambda: sum(len(tok.encode(t).ids) for t in texts)  # noqa: E731
            else:
                fn = lambda: sum(len(e.ids) for i in range(0, len(texts), 1024)  # noqa: E731
                                 for e in tok.encode_batch(texts[i:i + 1024]))
    except ImportError:
        return None
    best, tokens = None, 0
    for _ in range(int(os.environ.get("REF_RUNS", "1"))):
        t0 = time.perf_counter()
        tokens = fn()
        s = time.perf_counter() - t0
        best = s if best is None else min(best, s)
    return {"tool": family, "version": version, "threads": threads, "seconds": best, "tokens": tokens}


PATTERNS = {
    "cl100k_base": "|".join([
        r"""'(?i:[sdmt]|ll|ve|re)""", r"""[^\r\n\p{L}\p{N}]?+\p{L}++""", r"""\p{N}{1,3}+""",
        r""" ?[^\s\p{L}\p{N}]++[\r\n]*+""", r"""\s++$""", r"""\s*[\r\n]""", r"""\s+(?!\S)""", r"""\s"""]),
    "o200k_base": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+"""]),
}


def main():
    if "--family" in sys.argv:
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument("corpus")
        ap.add_argument("models")
        ap.add_argument("--family", required=True)
        ap.add_argument("--threads", type=int, default=1)
        ap.add_argument("--gpt2-dir",
                        default=os.environ.get("SP_GPT2_DIR", os.path.expanduser("~/.cache/sp_toolkit/gpt2")))
        a = ap.parse_args()
        row = run_one(a.corpus, a.models, a.family, a.threads, a.gpt2_dir)
        if row is None:
            sys.exit(3)
        print(json.dumps(row))
        return
    corpus, models = sys.argv[1], sys.argv[2]
    texts = texts_of(corpus)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"References, one thread, encode calls only, best of 2; {mb:.1f} MB of text\n")
    print("| reference | tokens | seconds | MB/s |")
    print("|---|---:|---:|---:|")
    try:
        import tiktoken
        import tiktoken.load
        for enc_name in ("cl100k_base", "o200k_base"):
            path = os.path.join(models, "tiktoken", enc_name + ".tiktoken")
            ranks = tiktoken.load.load_tiktoken_bpe(path)
            enc = tiktoken.Encoding(enc_name + "_ref", pat_str=PATTERNS[enc_name], mergeable_ranks=ranks,
                                    special_tokens={})
            timed(f"tiktoken {tiktoken.__version__} {enc_name} encode_ordinary", enc.encode_ordinary, texts, mb)
    except Exception as e:  # noqa: BLE001
        print(f"families_reference: tiktoken skipped: {e}", file=sys.stderr)
    try:
        import tokenizers
        for name in os.environ.get("REF_HF_MODELS", "llama3,qwen3,llama2,gemma").split(","):
            path = os.path.join(models, name, "tokenizer.json")
            if not os.path.exists(path):
                continue
            tok = tokenizers.Tokenizer.from_file(path)
            timed(f"HF tokenizers {tokenizers.__version__} {name} encode", lambda t: tok.encode(t).ids, texts, mb)
    except Exception as e:  # noqa: BLE001
        print(f"families_reference: tokenizers skipped: {e}", file=sys.stderr)
    try:
        import sentencepiece as spm
        for name in ("bpe_bytefallback", "unigram_nfkc"):
            sp = spm.SentencePieceProcessor(model_file=os.path.join(models, "spm", name + ".model"))
            timed(f"sentencepiece {spm.__version__} {name} EncodeAsIds", sp.EncodeAsIds, texts, mb)
    except Exception as e:  # noqa: BLE001
        print(f"families_reference: sentencepiece skipped: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
