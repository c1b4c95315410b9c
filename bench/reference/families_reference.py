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


def main():
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
            patterns = {
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
            enc = tiktoken.Encoding(enc_name + "_ref", pat_str=patterns[enc_name], mergeable_ranks=ranks,
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
