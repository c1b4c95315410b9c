#!/usr/bin/env bash
# Fuzzes the library's parsers for a bounded time: builds the libFuzzer targets
# (fuzz/*_fuzz.cc, clang, AddressSanitizer + UndefinedBehaviorSanitizer) into
# build-fuzz/ and runs each for SECONDS_PER_TARGET (default 60) over a scratch
# copy of its seed corpus fuzz/corpus/<target>/, so nothing new is ever
# written into the repository. Targets run $SP_FUZZ_JOBS (default: nproc) at a
# time. Exits non-zero when a target does not build, crashes, leaks, times out
# on one input or breaks a property; the input that did it is kept under
# build-fuzz/findings/<target>/ and shown in hex.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=${SP_FUZZ_JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

targets=()
for src in fuzz/*_fuzz.cc; do targets+=("$(basename "$src" .cc)"); done

start=$SECONDS
# -O1: quick to build and still fast to fuzz; assertions stay on.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-gline-tables-only -O1" -DSP_FUZZ=ON -DSP_BUILD_TESTS=OFF -DSP_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
ninja -C build-fuzz -j "$jobs" "${targets[@]}"
echo "fuzz: built ${#targets[@]} targets in $((SECONDS - start)) s; running each for ${seconds} s, ${jobs} at a time"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/sp_fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1

run_target() {
  local t=$1 dir=$scratch/$1
  mkdir -p "$dir/corpus" "$dir/tmp" "build-fuzz/findings/$t"
  cp fuzz/corpus/"$t"/* "$dir/corpus/"
  local extra=()
  # A fuzzed zstd frame may ask for the 2 GiB window the toolkit accepts (--long=31).
  [ "$t" = byte_source_fuzz ] && extra+=(-malloc_limit_mb=4096)
  TMPDIR=$dir/tmp build-fuzz/bin/"$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$t/" "${extra[@]}" "$dir/corpus" >"$dir/log" 2>&1
}

declare -A pid_target=()
failed=()
finish_one() {
  local pid rc=0
  wait -n -p pid || rc=$?
  local t=${pid_target[$pid]}
  unset "pid_target[$pid]"
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$t/log" | grep -o '[0-9]*$') runs," \
      "corpus $(ls "$scratch/$t/corpus" | wc -l) inputs)"
  else
    failed+=("$t")
    echo "fuzz: $t: FAILED (exit $rc); log tail:"
    tail -n 60 "$scratch/$t/log"
    for f in build-fuzz/findings/"$t"/*; do
      [ -f "$f" ] || continue
      echo "fuzz: $t: input $f:"
      od -A d -t x1 "$f" | head -n 32
    done
  fi
}
for t in "${targets[@]}"; do
  rm -f build-fuzz/findings/"$t"/*
  while [ ${#pid_target[@]} -ge "$jobs" ]; do finish_one; done
  run_target "$t" &
  pid_target[$!]=$t
done
while [ ${#pid_target[@]} -gt 0 ]; do finish_one; done

echo "fuzz: ${#targets[@]} targets in $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
