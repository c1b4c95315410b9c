#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, fetches the GPT-2 vocab,
# then the whole GoogleTest suite through ctest. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two steps: `export X=$(cmd)` would hide a failed fetch from `set -e`.
SP_GPT2_DIR=$(bash third_party/gpt2/fetch_vocab.sh)
export SP_GPT2_DIR
# Under CI a missing fixture fails its test instead of skipping it
# (SP_REQUIRE_FIXTURE in tests/test_support.h).
export CI=${CI:-true}
bash scripts/build.sh
# OpenMPI refuses to start as root unless told; CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
