#!/usr/bin/env bash
# Throughput of sp_download against a fast loopback server (nginx, run as our
# own process with a temporary config), compared with `curl --parallel` on the
# same files with the same number of concurrent transfers.
#
#   bench/sp_download_bench.sh [BUILD_DIR] [FILES] [FILE_MB] [CONNECTIONS] [RUNS]
#
# Defaults: build-download, 64 files of 16 MB, 16 connections, best of 3.
# Scratch (served files and downloads) lives in $BENCH_DIR (default: a new
# directory under /dev/shm, so the disk is not what is measured).
set -euo pipefail

BUILD=${1:-build-download}
FILES=${2:-64}
MB=${3:-16}
CONN=${4:-16}
RUNS=${5:-3}
SP=$(cd "$(dirname "$0")/.." && pwd)/$BUILD/bin/sp_download
[[ -x $SP ]] || { echo "no $SP; build sp_download first" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx not installed (apt-get install nginx-light)" >&2; exit 1; }

BASE=${BENCH_DIR:-$(mktemp -d /dev/shm/sp_dl_bench.XXXXXX)}
mkdir -p "$BASE/www" "$BASE/nginx"
chmod 755 "$BASE" "$BASE/www"  # nginx workers may run as another user (nobody)
NGINX_PID=
cleanup() {
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null || true
  [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$BASE"
}
trap cleanup EXIT

for i in $(seq 0 $((FILES - 1))); do
  [[ -f $BASE/www/f$i.bin ]] || head -c $((MB << 20)) /dev/urandom > "$BASE/www/f$i.bin"
done

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$BASE/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $BASE/nginx/nginx.pid;
error_log $BASE/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path $BASE/nginx/body;
  proxy_temp_path $BASE/nginx/proxy;
  fastcgi_temp_path $BASE/nginx/fastcgi;
  uwsgi_temp_path $BASE/nginx/uwsgi;
  scgi_temp_path $BASE/nginx/scgi;
  server {
    listen 127.0.0.1:$PORT;
    root $BASE/www;
  }
}
CONF
nginx -c "$BASE/nginx/nginx.conf" -p "$BASE/nginx" 2>>"$BASE/nginx/error.log" &
NGINX_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/f0.bin" && break; sleep 0.1; done

: > "$BASE/manifest.tsv"
: > "$BASE/manifest_sha.tsv"
: > "$BASE/curl.cfg"
for i in $(seq 0 $((FILES - 1))); do
  url="http://127.0.0.1:$PORT/f$i.bin"
  printf '%s\n' "$url" >> "$BASE/manifest.tsv"
  printf '%s\t%s\t%s\n' "$url" "$(sha256sum "$BASE/www/f$i.bin" | cut -d' ' -f1)" $((MB << 20)) >> "$BASE/manifest_sha.tsv"
  printf 'url = "%s"\noutput = "%s"\n' "$url" "$BASE/out/f$i.bin" >> "$BASE/curl.cfg"
done
TOTAL=$((FILES * MB << 20))

best() {  # best wall time of RUNS runs of "$@", output dir emptied before each
  local best=
  for _ in $(seq "$RUNS"); do
    rm -rf "$BASE/out"; mkdir -p "$BASE/out"; sync
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$BASE/err" || { echo "failed: $*" >&2; tail -5 "$BASE/err" >&2; exit 1; }
    t1=$(date +%s.%N)
    # Count only complete files, so a fast failure is never reported as speed.
    local got
    got=$(find "$BASE/out" -name 'f*.bin' -size "$((MB << 20))c" | wc -l)
    [[ $got == "$FILES" ]] || { echo "only $got of $FILES files complete after: $*" >&2; exit 1; }
    best=$(python3 -c "import sys; a=$t1-$t0; b='$best'; print(min(a, float(b)) if b else a)")
  done
  echo "$best"
}
rate() { python3 -c "print(f'{$TOTAL / $1 / 1e6:8.1f} MB/s  ({$1:.2f} s)')"; }

echo "sp_download bench: $FILES files x $MB MiB, $CONN connections, best of $RUNS, scratch $BASE ($(nproc) CPUs)"
T_CURL=$(best curl -sf --parallel --parallel-max "$CONN" --parallel-immediate -K "$BASE/curl.cfg")
echo "curl --parallel               $(rate "$T_CURL")"
T_SP=$(best "$SP" --manifest "$BASE/manifest.tsv" --output-dir "$BASE/out" --connections "$CONN" --quiet)
echo "sp_download (no hash)         $(rate "$T_SP")"
T_SHA=$(best "$SP" --manifest "$BASE/manifest_sha.tsv" --output-dir "$BASE/out" --connections "$CONN" --quiet)
echo "sp_download (size + SHA-256)  $(rate "$T_SHA")"
python3 -c "print(f'sp_download / curl: {$T_CURL / $T_SP:.2f}x (no hash), {$T_CURL / $T_SHA:.2f}x (SHA-256)')"
