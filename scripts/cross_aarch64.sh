#!/usr/bin/env bash
# Builds the toolkit for aarch64 (BCP's Grace nodes) with Debian's cross
# compiler and runs its test suite under qemu-user: installs what is missing
# (arm64 multiarch -dev packages, g++-aarch64-linux-gnu, qemu-user), configures
# build-aarch64/ with cmake/aarch64-linux-gnu.cmake (Release, tests on, bench
# and fuzz off), builds the test binaries of the layers where the instruction
# set matters, and runs them through ctest with qemu-aarch64 as the emulator.
# Tests left out are named below, each with its reason. Exits non-zero when
# anything fails.
#   bash scripts/cross_aarch64.sh        (SP_GPT2_DIR, SP_TOKENIZERS_DIR as for scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-aarch64
deps=$build/deps  # arm64 -dev packages that cannot sit beside their amd64 copies (see below)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Multi-Arch: same packages install beside the amd64 ones (apt then upgrades
# the amd64 copies to the same version where the two differ).
ARM64_PACKAGES=(
  libzstd-dev libxxhash-dev libpcre2-dev libutf8proc-dev libtbb-dev libabsl-dev
  libgtest-dev libgmock-dev libcurl4-openssl-dev libssl-dev libhwy-dev
)
HOST_PACKAGES=(g++-aarch64-linux-gnu qemu-user)
# libsimdjson-dev, libsentencepiece-dev and libsentencepiece0 are not
# Multi-Arch: same, so installing their arm64 builds would remove the amd64 ones
# the native build needs; they are unpacked into $deps instead (dpkg-deb -x),
# with libsimdjson14 beside the -dev package whose CMake files look for it there.
PRIVATE_PACKAGES=(libsimdjson-dev libsimdjson14 libsentencepiece-dev libsentencepiece0)

start=$SECONDS
dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for p in "${ARM64_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p:arm64" 2>/dev/null | grep -q "install ok installed" || missing+=("$p:arm64")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cross_aarch64: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -f "$deps/.unpacked" ]; then
  rm -rf "$deps" && mkdir -p "$deps/debs"
  (cd "$deps/debs" && apt-get download -qq "${PRIVATE_PACKAGES[@]/%/:arm64}")
  for deb in "$deps"/debs/*.deb; do dpkg-deb -x "$deb" "$deps"; done
  # sentencepiece.pc names prefix=/usr; point it at where it was unpacked.
  sed -i "s|^prefix=/usr\$|prefix=$PWD/$deps/usr|" "$deps"/usr/lib/aarch64-linux-gnu/pkgconfig/sentencepiece.pc
  touch "$deps/.unpacked"
fi
echo "cross_aarch64: packages ready in $((SECONDS - start)) s"

# The suites run under emulation: the tokenizer layers (pre-tokenizers with
# their SIMD kernels, once per target qemu emulates: NEON, SVE, SVE2; BPE,
# tiktoken, Hugging Face, SentencePiece; Unicode tables and regex splitting),
# JSONL, the indexed dataset and checksums: where an ISA shows (vector code,
# char signedness, alignment). The tools' end-to-end suites (sp_tokenize,
# concat, extract, download, crash consistency, CLI, interrupts, ...) are
# plain POSIX I/O over these layers; they run in the native suite and would
# cost qemu's 20-30x for no ISA-specific check (the build can run them:
# `ninja -C build-aarch64 && ctest --test-dir build-aarch64`).
TESTS=(
  pretokenizer_test pretokenizer_patterns_test bpe_test bpe_build_test tokenizer_test tiktoken_tokenizer_test
  hf_tokenizer_test hf_pretokenizer_test hf_normalizer_test hf_chars_test hf_added_tokens_test
  sentencepiece_tokenizer_test sentencepiece_bpe_test bpe_cuts_test replace_byte_test unicode_test unicode_tables_test
  regex_split_test jsonl_test
  indexed_dataset_test checksum_test record_test
)
# Excluded by name: megabyte-long BPE runs against the reference encoder, 1 to
# 2.5 minutes each under qemu; they check piece lengths and memo limits, which
# no ISA changes (the SIMD cuts they rest on are checked per target above).
excluded='^Gpt2\.(MegabyteRunsMatchReference|RunsOfEveryAsciiByteMatchReference'
excluded+='|RunsBeforeAnotherCharacterMatchReference)$'

launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
configured=$SECONDS
cmake -S . -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DSP_AARCH64_DEPS="$PWD/$deps" -DSP_BUILD_BENCH=OFF -DSP_BUILD_TESTS=ON "${launcher[@]}" >/dev/null
ninja -C "$build" -j "${SP_CROSS_JOBS:-$(nproc)}" "${TESTS[@]}"
built=$SECONDS
echo "cross_aarch64: built in $((built - configured)) s"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
labels="^($(IFS='|'; echo "${TESTS[*]}"))\$"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" --timeout 1200 -L "$labels" -E "$excluded"
echo "cross_aarch64: tests ran in $((SECONDS - built)) s (total $((SECONDS - start)) s)"
