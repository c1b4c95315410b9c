#!/usr/bin/env bash
# Installs the Debian packages the toolkit builds and tests against. Idempotent:
# packages already present are not reinstalled and apt is not touched at all
# when nothing is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl python3 zstd bc
  libzstd-dev libxxhash-dev libpcre2-dev libutf8proc-dev libsimdjson-dev libtbb-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhwy-dev
  libopenmpi-dev openmpi-bin libsentencepiece-dev libcurl4-openssl-dev libssl-dev nginx-light
  unicode-data
  sentencepiece python3-sentencepiece  # third_party/tokenizers/train_spm.sh, tests/golden/gen_spm_golden.py
  clang libclang-rt-14-dev  # scripts/fuzz.sh (libFuzzer) and scripts/sanitize.sh (ASan/UBSan runtimes)
)
# Node.js is only needed to regenerate golden data and for the vocab fallback;
# a machine that already has it (e.g. from NodeSource) keeps its own.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
