#!/usr/bin/env bash
# End-to-end sp_tokenize throughput (whole process: read, JSON parse, GPT-2
# BPE, write .bin/.idx) with 1 worker and with all cores, beside the
# reference tokenizers' encode on the same text (Hugging Face tokenizers'
# native Rust binding and tiktoken's Rust-compiled-to-WASM binding, via npm).
# Prints a markdown table with the machine and the command.
#
# Usage: bench/tokenize_bench.sh [MEGABYTES=200] [BUILD_DIR=build]
# Needs: a Release build (scripts/build.sh), the GPT-2 vocab
# (third_party/gpt2/fetch_vocab.sh), node/npm for the references (skipped if
# absent or if SP_BENCH_NO_REFERENCE=1).
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}
build=${2:-build}
bin=$build/bin/sp_tokenize
vocab_dir=${SP_GPT2_DIR:-$(bash third_party/gpt2/fetch_vocab.sh)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus=$work/corpus.jsonl
python3 bench/make_bench_corpus.py "$corpus" "$mb"
cores=$(nproc)

now() { date +%s.%N; }
run_sp() {  # workers -> "seconds tokens"
  local t0 t1
  t0=$(now)
  "$bin" --input "$corpus" --output-prefix "$work/out" --vocab-file "$vocab_dir/vocab.json" \
    --merge-file "$vocab_dir/merges.txt" --append-eod --workers "$1" --overwrite --quiet --stats-json "$work/stats.json"
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc -l) $(grep '"tokens"' "$work/stats.json" | tr -dc 0-9)"
}

bytes=$(stat -c %s "$corpus")
read -r s1 tok1 < <(run_sp 1)
read -r sn tokn < <(run_sp "$cores")
mbps() { echo "scale=1; $bytes / 1000000 / $1" | bc -l; }

ref_rows=""
if [ "${SP_BENCH_NO_REFERENCE:-0}" != 1 ] && command -v npm >/dev/null; then
  (cd bench/reference && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || true
  if [ -d bench/reference/node_modules/@anush008/tokenizers ]; then
    hf1=$(cd bench/reference && RAYON_NUM_THREADS=1 node encode_bench.mjs "$corpus" "$vocab_dir" hf | sed 's/.*"mb_per_s":\([0-9.]*\).*/\1/')
    hfn=$(cd bench/reference && RAYON_NUM_THREADS=$cores node encode_bench.mjs "$corpus" "$vocab_dir" hf | sed 's/.*"mb_per_s":\([0-9.]*\).*/\1/')
    tk1=$(cd bench/reference && node encode_bench.mjs "$corpus" "$vocab_dir" tiktoken | sed 's/.*"mb_per_s":\([0-9.]*\).*/\1/')
    ratio() { echo "scale=1; $1 / $2" | bc -l; }
    ref_rows="| HF tokenizers 0.6.0 (npm @anush008/tokenizers), encodeBatch only | 1 | $(printf %.1f "$hf1") | sp_tokenize is $(ratio "$(mbps "$s1")" "$hf1")x |
| HF tokenizers, encodeBatch only | $cores | $(printf %.1f "$hfn") | sp_tokenize is $(ratio "$(mbps "$sn")" "$hfn")x |
| tiktoken 1.0.22 (npm, WASM), encode_ordinary only | 1 | $(printf %.1f "$tk1") | sp_tokenize is $(ratio "$(mbps "$s1")" "$tk1")x |"
  fi
fi

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cat <<TABLE
Machine: $cpu, $cores cores ($(uname -r)); corpus: $(echo "scale=1; $bytes/1000000" | bc) MB JSONL (bench/make_bench_corpus.py), $tok1 tokens
Command: bench/tokenize_bench.sh $mb

| what | threads | MB/s of JSONL | ratio |
|---|---|---|---|
| sp_tokenize, whole process | 1 | $(mbps "$s1") | |
| sp_tokenize, whole process | $cores | $(mbps "$sn") | $(echo "scale=2; $s1 / $sn" | bc -l)x of 1 thread |
$ref_rows
TABLE
[ "$tok1" = "$tokn" ] || { echo "token counts differ between 1 and $cores workers: $tok1 vs $tokn" >&2; exit 1; }
