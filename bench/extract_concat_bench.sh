#!/usr/bin/env bash
# Benchmarks sp_extract against `zstd -d` and sp_concat against `cat` on the
# same synthetic SlimPajama-like data, on one core and on all cores, and prints
# a markdown table (paste it into bench/RESULTS.md).
#
#   bench/extract_concat_bench.sh [BUILD_DIR] [TOTAL_MB] [FILES]
#
# BUILD_DIR defaults to ./build, TOTAL_MB (decompressed) to 400, FILES to 64.
# Data goes to ${TMPDIR:-/tmp}; it is generated once and kept between runs
# (delete ${TMPDIR:-/tmp}/sp_extract_concat_bench to regenerate). Every timing
# is the best of REPEAT (default 3) runs, with outputs removed in between and a
# warm page cache (the inputs are read once before timing), so the numbers
# compare CPU and copy paths, not the disk. sp_* additionally fsync each
# output before renaming it into place; zstd and cat do not.
set -euo pipefail

BUILD=${1:-build}
TOTAL_MB=${2:-400}
FILES=${3:-64}
REPEAT=${REPEAT:-3}
BIN=$(cd "$BUILD/bin" && pwd)
NPROC=$(nproc)
WORK=${TMPDIR:-/tmp}/sp_extract_concat_bench
DATA=$WORK/data_${TOTAL_MB}_${FILES}

for t in sp_extract sp_concat; do
  [[ -x $BIN/$t ]] || { echo "missing $BIN/$t: build it first" >&2; exit 1; }
done
command -v zstd >/dev/null || { echo "zstd CLI not found" >&2; exit 1; }

if [[ ! -f $DATA/.done ]]; then
  echo "generating ${TOTAL_MB} MB of synthetic JSONL in $FILES files under $DATA ..." >&2
  rm -rf "$DATA"; mkdir -p "$DATA/jsonl"
  # Words drawn from a Zipf-like vocabulary, so zstd ratios (~3-4x) resemble
  # web text; every file differs.
  python3 - "$DATA/jsonl" "$TOTAL_MB" "$FILES" <<'PY'
import json, os, random, sys
out, total_mb, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(1234)
letters = "etaoinshrdlcumwfgypbvkjxqz"
vocab = ["".join(rnd.choice(letters[: 6 + (i % 20)]) for _ in range(1 + i % 9)) for i in range(20000)]
weights = [1.0 / (r + 1) for r in range(len(vocab))]
per_file = total_mb * 1_000_000 // files
for f in range(files):
    sub = os.path.join(out, f"chunk{f % 4}")
    os.makedirs(sub, exist_ok=True)
    size, lines = 0, []
    while size < per_file:
        words = rnd.choices(vocab, weights, k=rnd.randint(50, 1500))
        line = json.dumps({"text": " ".join(words), "meta": {"redpajama_set_name": "RedPajamaCommonCrawl"}}) + "\n"
        lines.append(line)
        size += len(line)
    with open(os.path.join(sub, f"example_train_{f}.jsonl"), "w") as fh:
        fh.writelines(lines)
PY
  mkdir -p "$DATA/zst"
  (cd "$DATA/jsonl" && find . -name '*.jsonl' | sed 's|^\./||' | sort) > "$DATA/list"
  while read -r rel; do
    mkdir -p "$DATA/zst/$(dirname "$rel")"
    zstd -q -3 "$DATA/jsonl/$rel" -o "$DATA/zst/$rel.zst"
  done < "$DATA/list"
  touch "$DATA/.done"
fi

IN_BYTES=$(cat "$DATA/list" | (cd "$DATA/zst" && sed 's/$/.zst/' | xargs stat -c %s) | awk '{s+=$1} END {print s}')
OUT_BYTES=$(cd "$DATA/jsonl" && xargs stat -c %s < "$DATA/list" | awk '{s+=$1} END {print s}')
cat "$DATA"/zst/*/*.zst "$DATA"/jsonl/*/*.jsonl > /dev/null  # warm the page cache

OUT=$WORK/out
best() {  # best wall time (s) of REPEAT runs of "$@", clearing $OUT before each
  local b=""
  for _ in $(seq "$REPEAT"); do
    rm -rf "$OUT"; mkdir -p "$OUT"; sync
    local s e
    s=$(date +%s.%N); "$@"; e=$(date +%s.%N)
    b=$(awk -v b="$b" -v t="$(awk -v s="$s" -v e="$e" 'BEGIN{print e-s}')" 'BEGIN{print (b=="" || t<b) ? t : b}')
  done
  awk -v b="$b" 'BEGIN{printf "%.3f", b}'
}

zstd_serial() { (cd "$DATA/zst" && while read -r rel; do mkdir -p "$OUT/$(dirname "$rel")"; zstd -q -d "$rel.zst" -o "$OUT/$rel"; done < "$DATA/list"); }
zstd_parallel() {
  (cd "$DATA/zst" && sed 's/$/.zst/' "$DATA/list" | xargs -n1 dirname | sort -u | (cd "$OUT" && xargs mkdir -p) &&
   sed 's/$/.zst/' "$DATA/list" | xargs -P "$NPROC" -n 4 zstd -q -d --output-dir-mirror "$OUT")
}
sp_extract_run() { "$BIN/sp_extract" --input-dir "$DATA/zst" --output-dir "$OUT" --quiet --threads "$@"; }
# cat builds the same chunks as sp_concat --files-per-chunk K.
cat_chunks() {  # $1 = files per chunk, $2 = parallel jobs
  (cd "$DATA/jsonl" && split -l "$1" -d -a 6 "$DATA/list" "$OUT/.group_" &&
   ls "$OUT"/.group_* | xargs -P "$2" -I{} sh -c 'xargs cat < "$1" > "$1.jsonl"' _ {})
}
sp_concat_run() { "$BIN/sp_concat" --input-dir "$DATA/jsonl" --output-dir "$OUT" --files-per-chunk "$1" --quiet --threads "${@:2}"; }

ONE=$(( FILES ))                        # one chunk: a single long copy
PER=$(( (FILES + NPROC - 1) / NPROC ))  # NPROC chunks: one per core

t_z1=$(best taskset -c 0 bash -c "$(declare -f zstd_serial); DATA=$DATA OUT=$OUT zstd_serial")
t_s1=$(best taskset -c 0 "$BIN/sp_extract" --input-dir "$DATA/zst" --output-dir "$OUT" --quiet --threads 1)
t_zn=$(best zstd_parallel)
# zstd -d with its outputs made durable, as sp_extract does before each rename.
zstd_parallel_sync() { zstd_parallel; sync -f "$OUT"; }
t_zns=$(best zstd_parallel_sync)
t_sn=$(best sp_extract_run "$NPROC")
# --no-sync: the same work as zstd -d / cat (outputs left to the page cache).
t_s1n=$(best taskset -c 0 "$BIN/sp_extract" --input-dir "$DATA/zst" --output-dir "$OUT" --quiet --threads 1 --no-sync)
t_snn=$(best sp_extract_run "$NPROC" --no-sync)
t_c1=$(best cat_chunks "$ONE" 1)
t_p1=$(best taskset -c 0 "$BIN/sp_concat" --input-dir "$DATA/jsonl" --output-dir "$OUT" --files-per-chunk "$ONE" --quiet --threads 1)
t_cn=$(best cat_chunks "$PER" "$NPROC")
# The same with the data made durable, as sp_concat does before each rename.
cat_sync() { cat_chunks "$@"; sync -d "$OUT"/.group_*.jsonl; }
t_c1s=$(best cat_sync "$ONE" 1)
t_cns=$(best cat_sync "$PER" "$NPROC")
t_pn=$(best sp_concat_run "$PER" "$NPROC")
t_p1n=$(best taskset -c 0 "$BIN/sp_concat" --input-dir "$DATA/jsonl" --output-dir "$OUT" --files-per-chunk "$ONE" --quiet --threads 1 --no-sync)
t_pnn=$(best sp_concat_run "$PER" "$NPROC" --no-sync)

mbs() { awk -v b="$1" -v t="$2" 'BEGIN{printf "%.0f", b/1e6/t}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }  # baseline time / ours = speed ratio

echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $NPROC cores, $(uname -sr), $(df -T "$WORK" | awk 'NR==2{print $2}') at $WORK; zstd $(zstd -V | grep -o 'v[0-9.]*'); data: $FILES files, $(awk -v b="$OUT_BYTES" 'BEGIN{printf "%.0f", b/1e6}') MB JSONL, $(awk -v b="$IN_BYTES" 'BEGIN{printf "%.0f", b/1e6}') MB zstd -3; best of $REPEAT, warm cache"
echo
echo "| task | baseline | baseline s | sp tool s | baseline MB/s | sp MB/s | sp speed / baseline |"
echo "|---|---|---:|---:|---:|---:|---:|"
echo "| extract, 1 core | \`zstd -d\` per file (taskset 1 core) | $t_z1 | $t_s1 | $(mbs "$OUT_BYTES" "$t_z1") | $(mbs "$OUT_BYTES" "$t_s1") | $(ratio "$t_z1" "$t_s1") |"
echo "| extract, $NPROC cores | \`xargs -P$NPROC zstd -d\` | $t_zn | $t_sn | $(mbs "$OUT_BYTES" "$t_zn") | $(mbs "$OUT_BYTES" "$t_sn") | $(ratio "$t_zn" "$t_sn") |"
echo "| extract, $NPROC cores | \`xargs -P$NPROC zstd -d\` + \`sync\` | $t_zns | $t_sn | $(mbs "$OUT_BYTES" "$t_zns") | $(mbs "$OUT_BYTES" "$t_sn") | $(ratio "$t_zns" "$t_sn") |"
echo "| extract --no-sync, 1 core | \`zstd -d\` per file (taskset 1 core) | $t_z1 | $t_s1n | $(mbs "$OUT_BYTES" "$t_z1") | $(mbs "$OUT_BYTES" "$t_s1n") | $(ratio "$t_z1" "$t_s1n") |"
echo "| extract --no-sync, $NPROC cores | \`xargs -P$NPROC zstd -d\` | $t_zn | $t_snn | $(mbs "$OUT_BYTES" "$t_zn") | $(mbs "$OUT_BYTES" "$t_snn") | $(ratio "$t_zn" "$t_snn") |"
echo "| concat, 1 chunk, 1 core | \`cat\` | $t_c1 | $t_p1 | $(mbs "$OUT_BYTES" "$t_c1") | $(mbs "$OUT_BYTES" "$t_p1") | $(ratio "$t_c1" "$t_p1") |"
echo "| concat, 1 chunk, 1 core | \`cat\` + \`sync\` of the output | $t_c1s | $t_p1 | $(mbs "$OUT_BYTES" "$t_c1s") | $(mbs "$OUT_BYTES" "$t_p1") | $(ratio "$t_c1s" "$t_p1") |"
echo "| concat, $NPROC chunks, $NPROC cores | \`xargs -P$NPROC cat\` | $t_cn | $t_pn | $(mbs "$OUT_BYTES" "$t_cn") | $(mbs "$OUT_BYTES" "$t_pn") | $(ratio "$t_cn" "$t_pn") |"
echo "| concat, $NPROC chunks, $NPROC cores | \`xargs -P$NPROC cat\` + \`sync\` | $t_cns | $t_pn | $(mbs "$OUT_BYTES" "$t_cns") | $(mbs "$OUT_BYTES" "$t_pn") | $(ratio "$t_cns" "$t_pn") |"
echo "| concat --no-sync, 1 chunk, 1 core | \`cat\` | $t_c1 | $t_p1n | $(mbs "$OUT_BYTES" "$t_c1") | $(mbs "$OUT_BYTES" "$t_p1n") | $(ratio "$t_c1" "$t_p1n") |"
echo "| concat --no-sync, $NPROC chunks, $NPROC cores | \`xargs -P$NPROC cat\` | $t_cn | $t_pnn | $(mbs "$OUT_BYTES" "$t_cn") | $(mbs "$OUT_BYTES" "$t_pnn") | $(ratio "$t_cn" "$t_pnn") |"
echo
echo "Rows without --no-sync are the tools' defaults: every output is fsynced before its rename."
echo "MB/s are decompressed (output) megabytes per second. Ratios above 1 mean the sp tool is faster."
rm -rf "$OUT"
