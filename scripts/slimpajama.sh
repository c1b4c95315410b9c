#!/usr/bin/env bash
# The whole SlimPajama chain as one resumable script:
#   manifest -> sp_download -> sp_tokenize (fused: shards straight to tokenized chunks) -> sp_inspect -> sp_blend
# (STAGED=1: sp_extract -> sp_concat -> sp_tokenize instead of the fused step, the same output bytes)
# Every tool keeps what its completion records say is complete, so running the
# same command again (after a kill, a node failure or a batch job's time limit)
# continues where it stopped and redoes nothing finished.
#
#   scripts/slimpajama.sh WORKDIR
#
# Environment (all optional):
#   SP_BIN            directory of the sp_* tools (default: build/bin beside this script, else PATH)
#   LAUNCH            how the parallel steps start, e.g. "mpirun -np 16" (default: none, one process). In a
#                     BCP MPI job run this script once as the job's command: mpirun there knows the replicas
#                     (scripts/bcp/submit.sh all)
#   SPLIT             train | validation | test (default train) when MANIFEST is not given
#   MANIFEST          a manifest file to download instead of the built-in slimpajama:$SPLIT
#   BASE_URL          Hub or mirror for the built-in manifest (default https://huggingface.co)
#   REQUESTS_PER_SEC  the whole job's request budget (default 10; the Hub allows ~5,000 per 5 minutes)
#   CHUNK_SIZE        JSONL bytes per chunk (default 34G: 74 chunks for the 627B train split)
#   STAGED=1          write the JSONL and the chunks too (~5 TB for the train split), as the older chain did
#   TOKENIZER_FLAGS   sp_tokenize's tokenizer flags (default: GPT-2 from the vocab cache)
#   MOUNT             the tokenized directory as the training job sees it, for the blend (default: WORKDIR/tokenized)
#   REMOVE_SOURCES=1  STAGED=1 only: delete each .zst after its .jsonl is verified, and each .jsonl after its
#                     chunk is (off by default: a rerun then cannot rebuild those outputs from scratch)
#   HF_TOKEN          sent to the Hub by sp_download
set -euo pipefail
if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -eq 1 ] && exit 0
  exit 2
fi
work=$1
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${SP_BIN:-}
if [ -z "$bin" ] && [ -x "$here/build/bin/sp_tokenize" ]; then bin=$here/build/bin; fi
tool() {
  if [ -n "$bin" ]; then echo "$bin/$1"; return; fi
  command -v "$1" || { echo "slimpajama: $1 not found (set SP_BIN)" >&2; exit 2; }
}
launch=${LAUNCH:-}
chunk_size=${CHUNK_SIZE:-34G}
remove=()
if [ "${REMOVE_SOURCES:-0}" = 1 ]; then remove=(--remove-source); fi
# shellcheck disable=SC2206  # TOKENIZER_FLAGS is a flag list, split on purpose
tokenizer=(${TOKENIZER_FLAGS:-})
mkdir -p "$work"
step() { echo "== slimpajama: $*" >&2; }

manifest=${MANIFEST:-}
if [ -z "$manifest" ]; then
  manifest=$work/slimpajama_${SPLIT:-train}.manifest
  if [ ! -s "$manifest" ]; then
    step "manifest slimpajama:${SPLIT:-train}"
    "$(tool sp_download)" --print-manifest "slimpajama:${SPLIT:-train}" \
      --base-url "${BASE_URL:-https://huggingface.co}" > "$manifest.tmp.$$"
    mv "$manifest.tmp.$$" "$manifest"
  fi
fi

step "download ($manifest)"
$launch "$(tool sp_download)" --manifest "$manifest" --output-dir "$work/download" \
  --max-requests-per-second "${REQUESTS_PER_SEC:-10}" --progress lines
if [ "${STAGED:-0}" = 1 ]; then
  step "extract"
  $launch "$(tool sp_extract)" --input-dir "$work/download" --output-dir "$work/jsonl" "${remove[@]}" --progress lines
  step "concat into chunks of $chunk_size"
  $launch "$(tool sp_concat)" --input-dir "$work/jsonl" --output-dir "$work/chunks" --target-size "$chunk_size" \
    "${remove[@]}" --progress lines
  step "tokenize"
  $launch "$(tool sp_tokenize)" --input-dir "$work/chunks" --output-dir "$work/tokenized" --append-eod \
    "${tokenizer[@]}" --progress lines --stats-json "$work/tokenize_stats.json"
else
  [ ${#remove[@]} -eq 0 ] || { echo "slimpajama: REMOVE_SOURCES=1 needs STAGED=1 (the fused step keeps the shards)" >&2; exit 2; }
  step "tokenize the shards into chunks of $chunk_size (fused)"
  $launch "$(tool sp_tokenize)" --input-dir "$work/download" --output-dir "$work/tokenized" --chunk-size "$chunk_size" \
    --append-eod "${tokenizer[@]}" --progress lines --stats-json "$work/tokenize_stats.json"
fi
step "verify and summarise"
"$(tool sp_inspect)" "$work/tokenized" --expect-eod "${tokenizer[@]}" --html "$work/tokenized_report.html" \
  --json > "$work/tokenized_summary.json"
step "blend"
"$(tool sp_blend)" "$work/tokenized" --path-prefix "${MOUNT:-$work/tokenized}" --output "$work/blend.txt"
"$(tool sp_blend)" "$work/tokenized" --path-prefix "${MOUNT:-$work/tokenized}" --format megatron-sequences-json \
  --output "$work/sequences.json" --quiet
step "done: Megatron flags --data-args-path $work/blend.txt --per-dataset-sequences-path $work/sequences.json"
