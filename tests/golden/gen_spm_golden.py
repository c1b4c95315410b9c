"""Encodes every text of tests/data/tokenizer_corpus.jsonl with the two SentencePiece models that
third_party/tokenizers/train_spm.sh trains, and writes tests/golden/tok_spm_bpe.jsonl and
tok_spm_unigram.jsonl: one {"text", "ids": EncodeAsIds(text)} per corpus line, same order (Megatron-LM's
GPTSentencePieceTokenizer.tokenize; its Llama2Tokenizer prepends bos_id, 1 in both models). Adds their
entries (oracle, model SHA-256) to tests/golden/tok_manifest.json.

Oracle: Debian's python3-sentencepiece (the official Python binding over libsentencepiece). Run it with
Debian's interpreter, which is the one that sees that package:

    /usr/bin/python3 tests/golden/gen_spm_golden.py [MODELS_DIR]

MODELS_DIR: from third_party/tokenizers/fetch_models.sh; default $SP_TOKENIZERS_DIR or its cache.
"""
import hashlib
import json
import os
import sys
from pathlib import Path

import sentencepiece

here = Path(__file__).resolve().parent
cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sp_toolkit" / "tokenizers"
models_dir = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SP_TOKENIZERS_DIR", cache))
corpus = here.parent / "data" / "tokenizer_corpus.jsonl"
texts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").split("\n") if line]

manifest = {}
for name, model in (("spm_bpe", "bpe_bytefallback.model"), ("spm_unigram", "unigram_nfkc.model")):
    path = models_dir / "spm" / model
    sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
    out = here / f"tok_{name}.jsonl"
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for text in texts:
            row = {"text": text, "ids": sp.EncodeAsIds(text)}
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    manifest[out.name] = {
        "oracle": f"sentencepiece (Python, Debian python3-sentencepiece) {sentencepiece.__version__}",
        "model": f"spm/{model}",
        "model_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "ids": "SentencePieceProcessor.EncodeAsIds(text)",
    }
    print(f"wrote {len(texts)} lines to {out}", file=sys.stderr)

manifest_path = here / "tok_manifest.json"
merged = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
merged.update(manifest)
manifest_path.write_text(json.dumps(dict(sorted(merged.items())), indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")
