#!/usr/bin/env bash
# NVIDIA Base Command Platform job templates for each step of a SlimPajama run:
# prints the `ngc base-command job run ...` command for STAGE (or submits it
# with --run, which needs the ngc CLI configured for your org).
#
#   scripts/bcp/submit.sh STAGE [--run]
#
# Stages (replicas x ranks per node, and why):
#   download   2 x 48, MPI      network-bound; 96 ranks share one request budget (10/s for the job)
#   extract    2 x 48, MPI      zstd decompression, one file per rank at a time
#   concat     1 x 16, MPI      copy_file_range: the file system does the work
#   tokenize   4 x 8,  MPI      8 ranks x 16 threads per 128-core node; ranks draw chunks as they finish
#   tokenize-pytorch  4 x 8, PYTORCH   the same under RANK/WORLD_SIZE only (fixed size-balanced shares)
#   fused      4 x 8,  MPI      extract + concat + tokenize in one pass from the shards (sp_tokenize --chunk-size)
#   verify     1 x 1            sp_inspect over every dataset, then the blend files
#   all        4 x 8,  MPI      scripts/slimpajama.sh: the whole chain, resumable, as one job
#
# Environment: ORG, TEAM, ACE, INSTANCE (default dgxa100.80g.8.norm), IMAGE (an image with the tools:
# see the Dockerfile), WORKSPACE (workspace id, mounted at /workspace), REPLICAS and NPERNODE (override the
# stage's), RUNTIME (default 24h), TOOLS (default /opt/sp_toolkit/bin), CHUNK_SIZE (default 34G),
# TOKENIZER_FLAGS (sp_tokenize's tokenizer flags; default GPT-2 from the image's vocab cache).
# Every stage keeps what is complete: submit the same stage again after a time limit or a failure.
set -euo pipefail
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  usage
  [ $# -ge 1 ] && exit 0
  exit 2
fi
stage=$1
run=0
if [ $# -ge 2 ]; then
  [ "$2" = "--run" ] || { echo "submit.sh: unknown argument '$2' (expected --run)" >&2; exit 2; }
  run=1
fi
tools=${TOOLS:-/opt/sp_toolkit/bin}
data=/workspace/slimpajama
tokenizer=${TOKENIZER_FLAGS:-}
array=MPI
case "$stage" in
  download)
    replicas=2 npernode=48
    cmd="HF_TOKEN=\$(cat /workspace/secrets/hf_token) $tools/sp_download --manifest slimpajama:train"
    cmd+=" --output-dir $data/download --connections 8 --max-requests-per-second 10"
    cmd+=" --report /results/download.json --progress lines" ;;
  extract)
    replicas=2 npernode=48
    cmd="$tools/sp_extract --input-dir $data/download --output-dir $data/jsonl --progress lines" ;;
  concat)
    replicas=1 npernode=16
    cmd="$tools/sp_concat --input-dir $data/jsonl --output-dir $data/chunks --target-size ${CHUNK_SIZE:-34G}"
    cmd+=" --progress lines" ;;
  tokenize|tokenize-pytorch)
    replicas=4 npernode=8
    [ "$stage" = tokenize-pytorch ] && array=PYTORCH
    cmd="$tools/sp_tokenize --input-dir $data/chunks --output-dir $data/tokenized --append-eod${tokenizer:+ $tokenizer}"
    cmd+=" --progress lines --stats-json /results/tokenize.json" ;;
  fused)
    replicas=4 npernode=8
    cmd="$tools/sp_tokenize --input-dir $data/download --output-dir $data/tokenized --chunk-size ${CHUNK_SIZE:-34G}"
    cmd+=" --append-eod${tokenizer:+ $tokenizer} --progress lines --stats-json /results/tokenize.json" ;;
  verify)
    replicas=1 npernode=1
    cmd="$tools/sp_inspect $data/tokenized --expect-eod${tokenizer:+ $tokenizer} --html /results/report.html"
    cmd+=" && $tools/sp_blend $data/tokenized --path-prefix $data/tokenized --output $data/blend.txt"
    cmd+=" && $tools/sp_blend $data/tokenized --path-prefix $data/tokenized --format megatron-sequences-json"
    cmd+=" --output $data/sequences.json" ;;
  all)
    replicas=4 npernode=8 ;;
  *)
    echo "submit.sh: unknown stage '$stage'" \
      "(download, extract, concat, tokenize, tokenize-pytorch, fused, verify, all)" >&2
    exit 2 ;;
esac
replicas=${REPLICAS:-$replicas}
npernode=${NPERNODE:-$npernode}
if [ "$stage" = all ]; then
  # One command on the job's launch node; mpirun there starts the ranks on every replica.
  commandline="SP_BIN=$tools LAUNCH='mpirun --allow-run-as-root -np $((replicas * npernode)) --npernode $npernode'"
  commandline+=" CHUNK_SIZE=${CHUNK_SIZE:-34G}${tokenizer:+ TOKENIZER_FLAGS='$tokenizer'}"
  commandline+=" HF_TOKEN=\$(cat /workspace/secrets/hf_token) /opt/sp_toolkit/share/sp_toolkit/slimpajama.sh $data"
else
  commandline="bcprun --nnodes $replicas --npernode $npernode --cmd '$cmd'"
fi
job=(ngc base-command job run --name "slimpajama-$stage" --org "${ORG:-<org>}" --team "${TEAM:-<team>}"
     --ace "${ACE:-<ace>}" --instance "${INSTANCE:-dgxa100.80g.8.norm}" --image "${IMAGE:-<image with sp_toolkit>}"
     --replicas "$replicas" --array-type "$array" --workspace "${WORKSPACE:-<workspace-id>}:/workspace:RW"
     --result /results --total-runtime "${RUNTIME:-24h}" --commandline "$commandline")
if [ $run = 1 ]; then
  command -v ngc >/dev/null || { echo "submit.sh: the ngc CLI is not installed" >&2; exit 1; }
  exec "${job[@]}"
fi
# Printed to paste into a shell: one flag per line, values in double quotes
# ("$" escaped, so $(cat ...) runs in the job, not here).
dq() { local v=${1//\\/\\\\}; v=${v//\"/\\\"}; v=${v//\$/\\\$}; v=${v//\`/\\\`}; printf '"%s"' "$v"; }
printf 'ngc base-command job run'
for ((i = 4; i < ${#job[@]}; i += 2)); do printf ' \\\n  %s %s' "${job[i]}" "$(dq "${job[i + 1]}")"; done
printf '\n'
