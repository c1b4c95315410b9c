#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, fetches the GPT-2 vocab and
# the tokenizer models (third_party/tokenizers/fetch_models.sh),
# runs the whole GoogleTest suite through ctest, then again under ASan + UBSan
# (scripts/sanitize.sh) and a bounded fuzzing run (scripts/fuzz.sh). This is
# what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two steps: `export X=$(cmd)` would hide a failed fetch from `set -e`.
SP_GPT2_DIR=$(bash third_party/gpt2/fetch_vocab.sh)
export SP_GPT2_DIR
# Hugging Face tokenizer.json models, tiktoken rank files and two small trained SentencePiece models.
SP_TOKENIZERS_DIR=$(bash third_party/tokenizers/fetch_models.sh)
export SP_TOKENIZERS_DIR
# Under CI a missing fixture fails its test instead of skipping it
# (SP_REQUIRE_FIXTURE in tests/test_support.h).
export CI=${CI:-true}
bash scripts/build.sh
# OpenMPI refuses to start as root unless told; CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
# Then the checking builds: the suite again under ASan + UBSan, and every
# fuzz target for SP_FUZZ_SECONDS (default 30) each. On the 2-core CI machine,
# from scratch without ccache, they added 6 + 4 minutes to 6 (16 in all) with
# 60 s per fuzz target; 30 s gives the aarch64 run below its time.
bash scripts/sanitize.sh
bash scripts/fuzz.sh "${SP_FUZZ_SECONDS:-30}"
# Last, the tokenizer layers' suites cross-built for aarch64 (BCP's Grace
# nodes) and run under qemu-user, each SIMD target qemu emulates included
# (NEON, SVE, SVE2): 15 minutes from scratch without ccache on a busy
# 2-core machine (2.5 to install, 9 to build, 3.5 to test).
bash scripts/cross_aarch64.sh
