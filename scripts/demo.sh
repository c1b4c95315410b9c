#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to tokenized Megatron data:
# installs the build dependencies, builds the tools, obtains the GPT-2 vocab,
# then runs the SlimPajama preparation steps on the bundled sample shards
# (tests/data/sample: 6 .jsonl.zst shards shaped like SlimPajama's):
#   sp_extract  -> sp_concat (chunks) -> sp_tokenize (Megatron .bin/.idx) -> sp_blend
# and the fused path (sp_tokenize --chunk-size straight from the .jsonl.zst shards: the same bytes), then
# sp_inspect verifies and summarises every dataset made (an HTML report too).
# Output goes to demo_out/ (or the directory given as $1).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo_out}

bash scripts/setup.sh
vocab_dir=$(bash third_party/gpt2/fetch_vocab.sh)
bash scripts/build.sh
bin=build/bin
rm -rf "$out"
mkdir -p "$out"

echo "== sp_extract: decompress the shards"
$bin/sp_extract --input-dir tests/data/sample --output-dir "$out/extracted" --progress lines
echo "== sp_concat: group them into chunks (256 KiB here; 34G for SlimPajama)"
$bin/sp_concat --input-dir "$out/extracted" --output-dir "$out/chunks" --target-size 256K --progress lines
echo "== sp_tokenize: GPT-2 BPE into Megatron indexed datasets"
$bin/sp_tokenize --input-dir "$out/chunks" --output-dir "$out/tokenized" \
  --vocab-file "$vocab_dir/vocab.json" --merge-file "$vocab_dir/merges.txt" \
  --append-eod --json-keys text --progress lines --stats-json "$out/tokenize_stats.json"
echo "== sp_blend: Megatron's --data-args-path file, weights by tokens"
$bin/sp_blend "$out/tokenized" --output "$out/blend.txt"
cat "$out/blend.txt"
echo "== fused: sp_tokenize reading the .jsonl.zst shards directly, chunked as sp_concat did (no intermediate files)"
$bin/sp_tokenize --input-dir tests/data/sample --output-dir "$out/fused" --chunk-size 256K \
  --vocab-file "$vocab_dir/vocab.json" --merge-file "$vocab_dir/merges.txt" --append-eod --json-keys text \
  --progress lines
for f in "$out"/tokenized/*.bin "$out"/tokenized/*.idx; do
  cmp "$f" "$out/fused/$(basename "$f")"
done
echo "fused == extract -> concat -> tokenize: the same bytes"

echo
echo "Outputs:"
ls -l "$out/tokenized"
echo
echo "Statistics ($out/tokenize_stats.json):"
cat "$out/tokenize_stats.json"

echo
echo "== sp_inspect: verify and summarise every dataset the demo made"
$bin/sp_inspect "$out/tokenized" "$out/fused" --recursive --expect-eod \
  --vocab-file "$vocab_dir/vocab.json" --merge-file "$vocab_dir/merges.txt" \
  --html "$out/inspect_report.html" --progress lines
echo "Report: $out/inspect_report.html"
