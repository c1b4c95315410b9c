#!/usr/bin/env bash
# The issue-10 benchmark on the lent 16-core machine, from the repo root, carrying devrun/ (bench/device/pack.sh):
#   bash bench/device/run.sh ab|stage|families|familiesab|variants|ceiling|scaling|ranks|fused|profile|all
# ab: GPT-2, baseline vs this build, 1 worker on the corpus and 16 on it x 10, alternating A B A B;
# stage: stage_bench (where a byte's time goes); families: every family at 1 and 16 workers beside the
# Python references (tiktoken, tokenizers, sentencepiece, installed on the lent machine); ranks: the
# 1 GB corpus in 16 files tokenized as 1 rank x 16 workers, 4 x 4 and 16 x 1 (RANK/WORLD_SIZE processes,
# static size-balanced shares), alternating, for issue 11's ranks-by-threads table; fused: 64 .jsonl.zst shards
# of the 1 GB corpus to ~4 tokenized chunks, staged (sp_extract -> sp_concat -> sp_tokenize) vs fused
# (sp_tokenize --chunk-size), 16 workers, on the machine's disk: wall time, bytes written, same outputs;
# familiesab: every family, baseline vs this build, alternating (SUMS=1 prints each output's sha256);
# variants: candidate builds (devrun/variants/*) in turn, medians and ratios to the first;
# ceiling: 1, 8 and 16 independent single-worker processes at once, the box's own limit on parallel efficiency;
# scaling: 1 and 16 workers on the 1 GB corpus, alternating, per family, and their ratio (the 16-thread target);
# profile: perf (packed by PERF=1 bench/device/pack.sh) on one worker, GPT-2 and cl100k, flat profiles by symbol
# and the hottest instructions of the top one (the box's guest has no hardware counters: cpu-clock samples).
set -u
D=$PWD/devrun
export LD_LIBRARY_PATH=$D/lib SP_GPT2_DIR=$D SP_TOKENIZERS_DIR=/dev/shm/models
S=/dev/shm/sb; mkdir -p $S/o /dev/shm/models
part=${1:-all}
if [ ! -f $S/bench100.jsonl ]; then
  tar -xJf $D/models.tar.xz -C /dev/shm/models
  xz -dc $D/corpus/bench100.jsonl.xz > $S/bench100.jsonl
  for i in 1 2 3 4 5 6 7 8 9 10; do cat $S/bench100.jsonl; done > $S/big.jsonl
  python3 - <<PY
import json, os
s = json.load(open("$D/corpus/bench100.jsonl.stats.json"))
p = "$S/bench100.jsonl"
s["key"] = [os.path.getsize(p), int(os.path.getmtime(p))]
json.dump(s, open(p + ".stats.json", "w"))
PY
fi
nproc; lscpu | grep -E "Model name|MHz|L2|L3"
python3 -c "import tiktoken as t, tokenizers as h, sentencepiece as s; print(t.__version__, h.__version__,
  s.__version__)"
run() { # label bin workers file [args...]
  local label=$1 bin=$2 w=$3 f=$4; shift 4
  rm -f $S/o/*
  local t0=$(date +%s.%N)
  $bin --input $f --output-prefix $S/o/x --workers $w --no-sync --append-eod "$@" >/dev/null 2>&1 || echo FAIL $label
  local t1=$(date +%s.%N)
  python3 -c "print('$label w=$w $(basename $f)', round($(stat -c %s $f)/1e6/($t1-$t0),1), 'MB/s')"
  if [ -n "${SUMS:-}" ]; then sha256sum $S/o/x_text_document.bin | cut -c1-16; fi
}
if [ $part = ab ] || [ $part = all ]; then
  echo "== GPT-2 A/B, base d79dc1e vs new, bench100, 1 worker"
  for r in 1 2 3 4 5 6; do
    run base $D/base/bin/sp_tokenize 1 $S/bench100.jsonl
    run new $D/bin/sp_tokenize 1 $S/bench100.jsonl
  done
  echo "== GPT-2 A/B, 16 workers, big (bench100 x 10)"
  for r in 1 2 3; do run base $D/base/bin/sp_tokenize 16 $S/big.jsonl; run new $D/bin/sp_tokenize 16 $S/big.jsonl; done
  echo "== new, 1 worker on big (for the 16-thread efficiency)"
  for r in 1 2; do run new $D/bin/sp_tokenize 1 $S/big.jsonl; done
  echo "== load only"
  echo '{"text":"a"}' > $S/one.jsonl
  for r in 1 2 3; do
    run base-load $D/base/bin/sp_tokenize 1 $S/one.jsonl
    run new-load $D/bin/sp_tokenize 1 $S/one.jsonl
  done
fi
if [ $part = stage ] || [ $part = all ]; then
  echo "== stage_bench, bench100"
  $D/bin/stage_bench --help 2>&1 | head -3
  $D/bin/stage_bench $S/bench100.jsonl 2>&1 | tail -20
fi
if [ $part = families ] || [ $part = all ]; then
  echo "== families"
  python3 bench/tokenizer_families_bench.py --corpus $S/bench100.jsonl --build $D --models /dev/shm/models \
    --workers 1,16 --runs 2 --reference python --reference-mb 20 2>&1 | tail -40
fi
if [ $part = ranks ]; then
  echo "== ranks x workers, GPT-2, big (bench100 x 10) in 16 files"
  mkdir -p $S/parts && rm -f $S/parts/*
  (cd $S/parts && split -n l/16 -d --additional-suffix=.jsonl $S/big.jsonl part_)
  total=$(du -cb $S/parts/*.jsonl | tail -1 | cut -f1)
  layout() { # ranks workers [sp_tokenize flags]
    local ranks=$1 w=$2 r; shift 2
    rm -rf $S/o && mkdir -p $S/o
    local t0=$(date +%s.%N)
    for ((r = 0; r < ranks; r++)); do
      RANK=$r WORLD_SIZE=$ranks $D/bin/sp_tokenize --input-dir $S/parts --output-dir $S/o --workers $w --no-sync \
        --append-eod --quiet "$@" &
    done
    wait
    local t1=$(date +%s.%N)
    python3 -c "print('ranks x workers $ranks x $w $*:', round($total/1e6/($t1-$t0),1), 'MB/s')"
  }
  for rep in 1 2 3; do
    layout 1 16 --files-at-once 1; layout 1 16; layout 4 4 --files-at-once 1; layout 16 1
  done
  ls $S/o | wc -l
fi
if [ $part = fused ]; then
  echo "== fused vs staged, GPT-2, big (bench100 x 10) as 64 .jsonl.zst shards -> ~4 chunks, 16 workers, outputs synced (the default)"
  W=${FUSED_DIR:-/tmp/sp_fused}; rm -rf $W; mkdir -p $W/shards
  (cd $W/shards && split -n l/64 -d -a 2 --additional-suffix=.jsonl $S/big.jsonl shard_ &&
    $D/bin/zstd -q -3 -T16 --rm shard_*.jsonl)
  shards=$(du -cb $W/shards/*.zst | tail -1 | cut -f1)
  jsonl=$(stat -c %s $S/big.jsonl)
  chunk=$(( (jsonl + 3) / 4 ))
  written() { du -sb "$@" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }  # bytes on disk: outputs + intermediates
  staged() {
    rm -rf $W/x $W/c $W/s && sync
    local t0=$(date +%s.%N)
    $D/bin/sp_extract --input-dir $W/shards --output-dir $W/x --threads 16 --quiet &&
    $D/bin/sp_concat --input-dir $W/x --output-dir $W/c --target-size $chunk --threads 16 --quiet &&
    $D/bin/sp_tokenize --input-dir $W/c --output-dir $W/s --workers 16 --append-eod --quiet ||
      echo FAIL staged
    local t1=$(date +%s.%N)
    local b=$(written $W/x $W/c $W/s)
    python3 -c "print('staged: %.2f s, %.1f MB/s of JSONL, %.0f MB written' % ($t1-$t0, $jsonl/1e6/($t1-$t0), $b/1e6))"
  }
  fused() { # [sp_tokenize flags]; FUSED_BIN picks the binary (the baseline's, to compare builds)
    rm -rf $W/f && sync
    local t0=$(date +%s.%N)
    ${FUSED_BIN:-$D/bin/sp_tokenize} --input-dir $W/shards --output-dir $W/f --chunk-size $chunk --workers 16 \
      --append-eod --quiet "$@" || echo FAIL fused
    local t1=$(date +%s.%N)
    local b=$(written $W/f)
    python3 -c "print('fused ${FUSED_BIN:+base }$*:  %.2f s, %.1f MB/s of JSONL, %.0f MB written' % ($t1-$t0, $jsonl/1e6/($t1-$t0), $b/1e6))"
  }
  echo "shards: $shards bytes compressed, $jsonl bytes of JSONL, chunk size $chunk"
  for rep in 1 2 3; do
    staged; fused --files-at-once 1; fused; FUSED_BIN=$D/base/bin/sp_tokenize fused
    FUSED_BIN=$D/base/bin/sp_tokenize fused --files-at-once 1
  done
  for f in $W/f/*.bin $W/f/*.idx; do cmp -s $f $W/s/$(basename $f) || echo "DIFFERENT: $(basename $f)"; done
  ls $W/f | wc -l; ls $W/s | wc -l
fi
M=/dev/shm/models
fam() { # name -> sp_tokenize flags
  case $1 in
    gpt2) echo "" ;;
    llama3|qwen3|llama2|gemma) echo "--tokenizer-type HuggingFaceTokenizer --tokenizer-model $M/$1" ;;
    cl100k|o200k) echo "--tokenizer-type TikTokenizer --tokenizer-model $M/tiktoken/${1}_base.tiktoken \
      --tiktoken-pattern ${1}_base" ;;
    spm_bpe) echo "--tokenizer-type SentencePieceTokenizer --tokenizer-model $M/spm/bpe_bytefallback.model" ;;
    spm_unigram) echo "--tokenizer-type SentencePieceTokenizer --tokenizer-model $M/spm/unigram_nfkc.model" ;;
  esac
}
if [ $part = variants ]; then
  # Candidate builds of one change side by side: every sp_tokenize copied into devrun/variants/ (by hand, after
  # pack.sh), in turn, ROUNDS times (default 5), 1 worker on bench100 for each of VFAMILIES (default gpt2
  # cl100k) and 16 workers on big for W16FAMILIES (default gpt2); then each one's median and its ratio to the
  # first variant (name them so that the baseline sorts first, e.g. v0_base).
  { for f in ${VFAMILIES:-gpt2 cl100k}; do
      for r in $(seq ${ROUNDS:-5}); do
        for v in $D/variants/*; do SUMS=1 run "$f $(basename $v)" $v 1 $S/bench100.jsonl $(fam $f); done
      done
    done
    for f in ${W16FAMILIES:-gpt2}; do
      for r in $(seq ${ROUNDS:-5}); do
        for v in $D/variants/*; do run "$f $(basename $v)" $v 16 $S/big.jsonl $(fam $f); done
      done
    done; } | tee $S/variants.txt
  python3 - $S/variants.txt <<'PY'
import re, statistics, sys
runs, sums = {}, {}
last = None
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) (\S+) w=(\d+) \S+ ([0-9.]+) MB/s", line)
    if m:
        last = (m[1], m[3], m[2])
        runs.setdefault(last, []).append(float(m[4]))
    elif last and re.fullmatch(r"[0-9a-f]{16}\n", line):
        sums.setdefault(last[:2], set()).add(line.strip())
groups = {}
for (fam, w, v), xs in runs.items(): groups.setdefault((fam, w), []).append((v, statistics.median(xs), len(xs)))
for (fam, w), vs in groups.items():
    vs.sort()
    same = "outputs identical" if len(sums.get((fam, w), ())) <= 1 else "OUTPUTS DIFFER"
    print(f"{fam}, {w} worker(s), {same}:")
    for v, med, n in vs: print(f"  {v:24s} median {med:8.1f} MB/s of {n}  x{med / vs[0][1]:.3f}")
PY
fi
if [ $part = familiesab ]; then
  echo "== every family, baseline vs this build, alternating: 1 worker on bench100 (3 pairs), 16 on big (2 pairs)"
  export SUMS=1
  for f in ${FAMILIES:-gpt2 cl100k o200k llama3 qwen3 llama2 gemma spm_bpe spm_unigram}; do
    for r in 1 2 3; do
      run "$f base" $D/base/bin/sp_tokenize 1 $S/bench100.jsonl $(fam $f)
      run "$f new" $D/bin/sp_tokenize 1 $S/bench100.jsonl $(fam $f)
    done
    for r in 1 2; do
      run "$f base" $D/base/bin/sp_tokenize 16 $S/big.jsonl $(fam $f)
      run "$f new" $D/bin/sp_tokenize 16 $S/big.jsonl $(fam $f)
    done
  done
fi
if [ $part = ceiling ]; then
  # What the box gives to perfectly independent work: N single-worker processes, each on its own copy of the
  # 100 MB corpus, at once, against one such process alone. Their per-process MB/s over the lone one is the
  # parallel efficiency no amount of coordination can beat on this machine (shared L3, memory, clocks).
  echo "== ceiling: N independent 1-worker sp_tokenize processes (GPT-2, bench100 each)"
  for n in 1 8 16 1 8 16; do
    t0=$(date +%s.%N)
    for i in $(seq 1 $n); do $D/bin/sp_tokenize --input $S/bench100.jsonl --output-prefix $S/o/ind$i --workers 1 \
      --no-sync --append-eod >/dev/null 2>&1 & done; wait
    t1=$(date +%s.%N); rm -f $S/o/ind*
    python3 -c "print('$n processes:', round($n*$(stat -c %s $S/bench100.jsonl)/1e6/($t1-$t0),1), 'MB/s in all,', \
      round($(stat -c %s $S/bench100.jsonl)/1e6/($t1-$t0),1), 'MB/s each')"
  done
  for r in 1 2; do run "one process" $D/bin/sp_tokenize 16 $S/big.jsonl; run "one process" $D/bin/sp_tokenize 1 $S/big.jsonl; done
fi
if [ $part = scaling ]; then
  # Issue 10's 16-thread target (>= 13.5x one thread on the 1 GB run): for each of SFAMILIES (default gpt2
  # spm_bpe), 1 worker and 16 workers on big, alternating, ROUNDS times (default 3); medians and their ratio.
  { for f in ${SFAMILIES:-gpt2 spm_bpe}; do
      for r in $(seq ${ROUNDS:-3}); do
        run "$f" $D/bin/sp_tokenize 1 $S/big.jsonl $(fam $f)
        run "$f" $D/bin/sp_tokenize 16 $S/big.jsonl $(fam $f)
      done
    done; } | tee $S/scaling.txt
  python3 - $S/scaling.txt <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) w=(\d+) \S+ ([0-9.]+) MB/s", line)
    if m: runs.setdefault(m[1], {}).setdefault(int(m[2]), []).append(float(m[3]))
for fam, by_w in runs.items():
    one, all16 = statistics.median(by_w.get(1, [0])), statistics.median(by_w.get(16, [0]))
    print(f"{fam}: 1 worker median {one:.1f} MB/s, 16 workers {all16:.1f} MB/s: {all16 / one:.2f}x"
          f" (efficiency {all16 / one / 16:.2f})" if one else f"{fam}: no 1-worker run")
PY
fi
if [ $part = profile ]; then
  tar -xJf $D/perfb.tar.xz -C /tmp
  perf() { LD_LIBRARY_PATH=/tmp/perfb/lib:$D/lib /tmp/perfb/perf "$@"; }
  for f in gpt2 cl100k; do
    echo "== profile, $f, 1 worker, bench100"
    one=($D/bin/sp_tokenize --input $S/bench100.jsonl --output-prefix $S/o/x --workers 1 --no-sync --append-eod
      $(fam $f))
    rm -f $S/o/*
    /usr/bin/time -f "%e s wall, %U s user, %S s system, %R minor faults" "${one[@]}" 2>&1 | tail -1
    rm -f $S/o/*
    perf record -e cpu-clock -F 10000 -o /tmp/perf.$f -- "${one[@]}" >/dev/null 2>&1
    perf report -i /tmp/perf.$f --stdio --no-children --sort dso,sym 2>/dev/null | grep -E "^ +[0-9]" | head -25 \
      > /tmp/perf.$f.txt
    cut -c1-150 /tmp/perf.$f.txt
    echo "-- hottest instructions of the top symbol (share of its samples)"
    perf annotate -i /tmp/perf.$f --stdio -s "$(head -1 /tmp/perf.$f.txt | sed 's/.*\] //')" 2>/dev/null |
      grep -E "^ +[0-9]+\.[0-9]+ :" | sort -rn | head -8 | cut -c1-90
  done
fi
