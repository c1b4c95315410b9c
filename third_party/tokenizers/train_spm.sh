#!/usr/bin/env bash
# Trains the two small SentencePiece models the tokenizer tests use, with Debian's `spm_train`
# (package sentencepiece), on the committed text tests/data/spm_train.txt, into DIR/spm/:
#   bpe_bytefallback.model  Llama-2-like: BPE, byte fallback, split digits, identity normalizer,
#                           dummy prefix, whitespace kept as is;
#   unigram_nfkc.model      unigram with the default nmt_nfkc normalizer.
# Training is deterministic (one thread, every sentence loaded, fixed seed, relative input path, since the
# trainer spec, input path included, is stored in the model), so each model is checked against a pinned
# SHA-256. A different sentencepiece version may train different bytes: then this fails and says so, as
# the golden ids in tests/golden/tok_spm_*.jsonl belong to the pinned models.
#
# Usage: third_party/tokenizers/train_spm.sh DIR     (prints DIR/spm on stdout)
set -euo pipefail

BPE_SHA=40d9cf1c161f116345b7d92f29da5df4f245a73206724983c7d8480903b8ff39
UNIGRAM_SHA=cc855ca661f150ddbce078f8f1c4fabc00842c00bcf126f2bffeb285ff3bd915

if [ $# -ne 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
root=$(cd "$(dirname "$0")/../.." && pwd)
text="$root/tests/data/spm_train.txt"
out="$1/spm"
mkdir -p "$out"

ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
if ok "$out/bpe_bytefallback.model" "$BPE_SHA" && ok "$out/unigram_nfkc.model" "$UNIGRAM_SHA"; then
  echo "$out"; exit 0
fi
if ! command -v spm_train >/dev/null; then
  echo "train_spm: spm_train not found (Debian package sentencepiece; run scripts/setup.sh)" >&2; exit 1
fi
[ -f "$text" ] || { echo "train_spm: $text is missing" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$text" "$tmp/spm_train.txt"
common=(--input=spm_train.txt --vocab_size=4000 --num_threads=1 --input_sentence_size=0
        --shuffle_input_sentence=false --seed_sentencepiece_size=1000000 --random_seed=1
        --minloglevel=2)
(cd "$tmp" && spm_train "${common[@]}" --model_prefix=bpe_bytefallback --model_type=bpe \
   --byte_fallback=true --split_digits=true --normalization_rule_name=identity --add_dummy_prefix=true \
   --remove_extra_whitespaces=false --allow_whitespace_only_pieces=true --character_coverage=0.9995 \
   >"$tmp/bpe.log" 2>&1) || { cat "$tmp/bpe.log" >&2; echo "train_spm: BPE training failed" >&2; exit 1; }
(cd "$tmp" && spm_train "${common[@]}" --model_prefix=unigram_nfkc --model_type=unigram \
   --character_coverage=0.9995 >"$tmp/unigram.log" 2>&1) ||
  { cat "$tmp/unigram.log" >&2; echo "train_spm: unigram training failed" >&2; exit 1; }

version=$(dpkg-query -W -f='${Version}' sentencepiece 2>/dev/null || echo unknown)
for pair in "bpe_bytefallback:$BPE_SHA" "unigram_nfkc:$UNIGRAM_SHA"; do
  name=${pair%%:*} want=${pair#*:}
  got=$(sha256sum "$tmp/$name.model" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "train_spm: $name.model has SHA-256 $got, expected $want (sentencepiece $version;" \
         "the pinned models were trained with Debian 12's 0.1.97-3)" >&2
    exit 1
  fi
done
for name in bpe_bytefallback unigram_nfkc; do
  mv "$tmp/$name.model" "$out/$name.model.part" && mv "$out/$name.model.part" "$out/$name.model"
done
echo "train_spm: trained and verified $out/{bpe_bytefallback,unigram_nfkc}.model" >&2
echo "$out"
