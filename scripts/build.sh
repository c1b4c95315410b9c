#!/usr/bin/env bash
# Configures and builds the toolkit (Release) into build/; binaries land in
# build/bin/. Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
ninja -C build
