#!/usr/bin/env bash
# Packs what bench/device/run.sh needs into devrun/ (git-ignored; add `/devrun/` to .git/info/exclude):
# this checkout's sp_tokenize, sp_extract, sp_concat and stage_bench (build/, Release with -DSP_BUILD_BENCH=ON),
# zstd (to make .jsonl.zst shards there), a baseline
# sp_tokenize (BASE_BUILD, default /work/wt-base/build), their shared libraries, the tokenizer models
# ($SP_TOKENIZERS_DIR), GPT-2's vocab ($SP_GPT2_DIR) and the bench corpus (CORPUS, made by
# bench/make_bench_corpus.py, with its .stats.json), xz-compressed: the lent machines have xz, not zstd.
#   bench/device/pack.sh (PERF=1 adds perf, for run.sh profile); then run `bash bench/device/run.sh ab|stage|...`
#   there, carrying devrun.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=$PWD/devrun
BASE_BUILD=${BASE_BUILD:-/work/wt-base/build}
CORPUS=${CORPUS:-/work/tmp/bench100.jsonl}
rm -rf "$D" && mkdir -p "$D/bin" "$D/base/bin" "$D/lib" "$D/corpus"
cp build/bin/sp_tokenize build/bin/sp_extract build/bin/sp_concat build/bin/stage_bench "$(command -v zstd)" "$D/bin/"
cp "$BASE_BUILD/bin/sp_tokenize" "$D/base/bin/"
# copy_libs DEST BINARY...: the binaries' shared libraries but the C runtime's (the lent machine has its own).
copy_libs() {
  local dest=$1; shift
  for b in "$@"; do ldd "$b" | awk '$3 ~ /^\// {print $3}'; done | sort -u |
    grep -v -E "/libc.so|/libm.so|ld-linux|libpthread|libdl.so|librt.so" | xargs -I{} cp -L {} "$dest/"
}
copy_libs "$D/lib" "$D"/bin/* "$D"/base/bin/*
(cd "${SP_TOKENIZERS_DIR:-$HOME/.cache/sp_toolkit/tokenizers}" &&
  tar -cJf "$D/models.tar.xz" llama3 qwen3 llama2 gemma tiktoken/cl100k_base.tiktoken tiktoken/o200k_base.tiktoken spm)
cp "${SP_GPT2_DIR:-$HOME/.cache/sp_toolkit/gpt2}"/{vocab.json,merges.txt} "$D/"
xz -T2 -6 -c "$CORPUS" > "$D/corpus/bench100.jsonl.xz"
cp "$CORPUS.stats.json" "$D/corpus/bench100.jsonl.stats.json"
if [ -n "${PERF:-}" ]; then  # perf and its libraries, for run.sh profile (about 7 MB)
  P=$(mktemp -d) && mkdir -p "$P/perfb/lib" && cp "$(command -v perf)" "$P/perfb/"
  copy_libs "$P/perfb/lib" "$(command -v perf)"
  tar -cJf "$D/perfb.tar.xz" -C "$P" perfb && rm -rf "$P"
fi
du -sh "$D"
