#!/usr/bin/env python3
"""Reference timing for bench/tokenize_bench.sh with the Python packages
users already run: Hugging Face `tokenizers` (GPT-2 BPE + ByteLevel
pre-tokenizer built from vocab.json/merges.txt, encode_batch, threads from
RAYON_NUM_THREADS) or `tiktoken` (an Encoding built from the same vocab with
GPT-2's pattern, encode_ordinary_batch). Only encoding is timed; reading and
JSON parsing are not, which favours the reference. Prints one JSON line.

    python3 encode_bench.py CORPUS.jsonl VOCAB_DIR hf|tiktoken THREADS
"""
import json
import sys
import time

corpus, vocab_dir, which, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
raw = open(corpus, "rb").read()
texts = [json.loads(line)["text"] for line in raw.split(b"\n") if line.strip()]
tokens = 0
if which == "hf":
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    tok = Tokenizer(models.BPE.from_file(f"{vocab_dir}/vocab.json", f"{vocab_dir}/merges.txt"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    start = time.perf_counter()
    for i in range(0, len(texts), 1024):
        for e in tok.encode_batch(texts[i:i + 1024], add_special_tokens=False):
            tokens += len(e.ids)
    version = __import__("tokenizers").__version__
else:
    import tiktoken
    from families_reference import gpt2_encoding  # tiktoken's Encoding from vocab.json, GPT-2's pattern
    enc = gpt2_encoding(vocab_dir)
    start = time.perf_counter()
    if threads == 1:
        for t in texts:
            tokens += len(enc.encode_ordinary(t))
    else:
        for i in range(0, len(texts), 4096):
            tokens += sum(len(x) for x in enc.encode_ordinary_batch(texts[i:i + 4096], num_threads=threads))
    version = tiktoken.__version__ if hasattr(tiktoken, "__version__") else "?"
s = time.perf_counter() - start
print(json.dumps({"tool": which, "version": version, "threads": threads, "seconds": s,
                  "mb_per_s": len(raw) / 1e6 / s, "tokens": tokens}))
