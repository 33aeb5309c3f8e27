#!/usr/bin/env bash
# The edge's cost as a plain reverse proxy: one HTTP route (an entry point, a router with Host(`bench.local`), a
# loadBalancer with one server) in front of a small fast upstream (the emulator's GET /v1/models), against nginx and
# HAProxy proxying to the same upstream, the plain YARP hop (bench/yarp-hop), and the upstream directly, all in the
# same run, interleaved per scenario. Reports req/s, p50/p99 and what each proxy adds to direct's p50, with ratios
# against the YARP hop (issue 19's target: the edge at >= 0.9x the YARP hop). The edge runs twice: as configured by
# default (the access log on, one line per request) and tuned (TUNED_YAML, default logging: level: warning).
#
#   bash bench/edge.sh            # 10 s per measurement
#   QUICK=1 bash bench/edge.sh    # 3 s per measurement
#
# Knobs: DURATION, WARMUP, PRIME (seconds), AGW_BIN (an already published gateway), KEEP=1 (keep the temp dir),
# TUNED_YAML, MIN_YARP_RATIO (exit 2 when the default edge's req/s at c=32 is below it; default 0.9).
# Results: bench/results/edge-latest.md (and edge-latest-wrk.log). Exit codes: 0 ok, 1 errors or setup, 2 below target.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RESULTS="$HERE/results"
MIN_YARP_RATIO=${MIN_YARP_RATIO:-0.9}
TUNED_YAML=${TUNED_YAML-'logging:
  level: warning'}
if [[ ${QUICK:-0} == 1 ]]; then
  DURATION=${DURATION:-3}; WARMUP=${WARMUP:-1}; PRIME=${PRIME:-3}
else
  DURATION=${DURATION:-10}; WARMUP=${WARMUP:-3}; PRIME=${PRIME:-5}
fi
WRK_TIMEOUT=5s
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

# --- Tools (installed as run.sh does) ------------------------------------------------------------------------
missing=()
for tool in nginx haproxy wrk; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if (( ${#missing[@]} )); then
  log "installing ${missing[*]} (apt-get)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
for tool in nginx haproxy wrk python3 curl; do command -v "$tool" >/dev/null || die "$tool not found"; done

WORK=$(mktemp -d /tmp/agw-edge-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $rc -eq 1 || $rc -gt 2 || ${KEEP:-0} == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start() { local name=$1; shift; "$@" >"$WORK/$name.log" 2>&1 & PIDS+=($!); printf -v "PID_${name//-/_}" '%s' "$!"; }
pid_of() { local v="PID_${1//-/_}"; echo "${!v}"; }
wait_up() {  # NAME URL [HOST]
  local name=$1 url=$2 host=${3:-} h=()
  [[ -n $host ]] && h=(-H "Host: $host")
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "${h[@]}" "$url" && return 0
    kill -0 "$(pid_of "$name")" 2>/dev/null || { tail -n 30 "$WORK/$name.log" >&2; die "$name exited during startup"; }
    sleep 0.2
  done
  tail -n 30 "$WORK/$name.log" >&2; die "$name did not come up at $url"
}

publish_gateway
log "publishing the YARP hop (Release)"
dotnet publish "$HERE/yarp-hop" -c Release -o "$WORK/yarp" --artifacts-path "$WORK/yarp-artifacts" -nologo -v quiet >"$WORK/yarp-publish.log" 2>&1 \
  || { tail -n 40 "$WORK/yarp-publish.log" >&2; die "publishing bench/yarp-hop failed"; }
if [[ -x $WORK/yarp/YarpHop ]]; then YARP=("$WORK/yarp/YarpHop"); else YARP=(dotnet "$WORK/yarp/YarpHop.dll"); fi
dotnet build "$HERE/alloc-hook" -c Release -o "$WORK/alloc-hook" --artifacts-path "$WORK/alloc-artifacts" -nologo -v quiet >"$WORK/alloc-hook.log" 2>&1 \
  || die "building bench/alloc-hook failed"
with_alloc() { echo "DOTNET_STARTUP_HOOKS=$WORK/alloc-hook/AllocHook.dll AGW_BENCH_ALLOC_FILE=$WORK/$1.alloc"; }
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

read -r P_EMU P_NGINX P_HAPROXY P_YARP P_EDGE P_EDGE_API P_TUNED P_TUNED_API < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(8)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks: s.close()')

# The edge as a user writes it: an entry point, a router, a load balancer (Traefik's file-provider format, inline in
# the gateway's config file). The gateway's own API listens apart (--urls); the entry point serves the route.
write_edge_config() {  # FILE PORT [extra YAML]
  cat >"$1" <<EOC
master_key: sk-master
models:
  - name: bench-model
    provider: openai_compatible
    model: bench-model
    api_base: http://127.0.0.1:$P_EMU/v1
    api_key: sk-bench
entryPoints:
  web:
    address: "127.0.0.1:$2"
http:
  routers:
    bench:
      entryPoints: [web]
      rule: "Host(\`bench.local\`)"
      service: upstream
  services:
    upstream:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:$P_EMU"
EOC
  [[ -z ${3:-} ]] || printf '%s\n' "$3" >>"$1"
}
write_edge_config "$WORK/edge.yaml" "$P_EDGE"
write_edge_config "$WORK/edge-tuned.yaml" "$P_TUNED" "$TUNED_YAML"

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF2
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/client_body; proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 1000000; keepalive_timeout 120s;
    upstream emulator { server 127.0.0.1:$P_EMU; keepalive 64; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$P_NGINX;
        location / { proxy_pass http://emulator; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
    }
}
EOF2
# HAProxy in HTTP mode with server-side keep-alive (its default http-reuse safe), no logging, one process with a
# thread per core (nbthread defaults to the cores available).
cat >"$WORK/haproxy.cfg" <<EOF2
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    option http-keep-alive
frontend bench
    bind 127.0.0.1:$P_HAPROXY
    default_backend emulator
backend emulator
    http-reuse always
    server emu 127.0.0.1:$P_EMU
EOF2

# shellcheck disable=SC2046
{
  start emu env $(with_alloc emu) "${AGW[@]}" mock --urls "http://127.0.0.1:$P_EMU"
  start yarp env $(with_alloc yarp) "${YARP[@]}" --upstream "http://127.0.0.1:$P_EMU" --urls "http://127.0.0.1:$P_YARP"
  start edge env $(with_alloc edge) AGW_DATA_DIR="$WORK/data-edge" "${AGW[@]}" --config "$WORK/edge.yaml" --urls "http://127.0.0.1:$P_EDGE_API"
  start edge-tuned env $(with_alloc edge-tuned) AGW_DATA_DIR="$WORK/data-edge-tuned" "${AGW[@]}" --config "$WORK/edge-tuned.yaml" --urls "http://127.0.0.1:$P_TUNED_API"
}
start nginx nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -g 'daemon off;'
start haproxy haproxy -f "$WORK/haproxy.cfg" -db

TARGETS=(direct nginx haproxy yarp edge edge-tuned)
declare -A URL=(
  [direct]="http://127.0.0.1:$P_EMU/v1/models" [nginx]="http://127.0.0.1:$P_NGINX/v1/models"
  [haproxy]="http://127.0.0.1:$P_HAPROXY/v1/models" [yarp]="http://127.0.0.1:$P_YARP/v1/models"
  [edge]="http://127.0.0.1:$P_EDGE/v1/models" [edge-tuned]="http://127.0.0.1:$P_TUNED/v1/models"
)
wait_up emu "${URL[direct]}"
wait_up yarp "${URL[yarp]}"
wait_up nginx "${URL[nginx]}"
wait_up haproxy "${URL[haproxy]}"
wait_up edge "${URL[edge]}" bench.local
wait_up edge-tuned "${URL[edge-tuned]}" bench.local
# The route is the edge's, not the gateway's: another Host gets Traefik's 404 on the entry point.
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: other.local' "${URL[edge]}")
[[ $code == 404 ]] || die "the edge's entry point answered $code for an unrouted host (expected Traefik's 404): is the router in place?"

RAW="$WORK/wrk.log"; : >"$RAW"
declare -A R
TICK=$(getconf CLK_TCK)
cpu_ticks() { local t=0 p; for p in "$@"; do [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
target_pids() {
  case $1 in
    direct) echo "$PID_emu" ;;
    nginx) echo "$PID_nginx $(pgrep -P "$PID_nginx" | tr '\n' ' ')" ;;
    *) pid_of "$1" ;;
  esac
}
alloc_now() { local f="$WORK/$1.alloc" a=; [[ $1 == direct ]] && f="$WORK/emu.alloc"; [[ -r $f ]] && { read -r a _ <"$f" || true; }; echo "$a"; }
host_of() { [[ $1 == edge* ]] && echo "host=bench.local" || echo "host=127.0.0.1"; }

log "priming every target (${PRIME}s at c=32, discarded)"
for t in edge edge-tuned yarp nginx haproxy direct; do
  wrk -t2 -c32 -d"${PRIME}s" --timeout "$WRK_TIMEOUT" -s "$HERE/edge.lua" "${URL[$t]}" -- "$(host_of "$t")" >/dev/null
done

measure() {  # SCENARIO TARGET CONNS
  local scn=$1 tgt=$2 c=$3 threads=2 out line kv pids cpu0 cpu1 a0 a1
  (( c == 1 )) && threads=1
  log "$scn: $tgt"
  wrk -t"$threads" -c"$c" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" -s "$HERE/edge.lua" "${URL[$tgt]}" -- "$(host_of "$tgt")" >/dev/null
  pids=$(target_pids "$tgt"); sleep 0.05; a0=$(alloc_now "$tgt")
  # shellcheck disable=SC2086
  cpu0=$(cpu_ticks $pids)
  out=$(wrk -t"$threads" -c"$c" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" -s "$HERE/edge.lua" "${URL[$tgt]}" -- "$(host_of "$tgt")")
  # shellcheck disable=SC2086
  cpu1=$(cpu_ticks $pids); sleep 0.05; a1=$(alloc_now "$tgt")
  printf '### %s / %s\n%s\n\n' "$scn" "$tgt" "$out" >>"$RAW"
  line=$(grep '^RESULT ' <<<"$out") || die "no RESULT line from wrk for $scn/$tgt: $out"
  for kv in ${line#RESULT }; do R["$scn|$tgt|${kv%%=*}"]=${kv#*=}; done
  R["$scn|$tgt|cpu_us"]=$(awk -v t=$((cpu1 - cpu0)) -v hz="$TICK" -v n="${R[$scn|$tgt|requests]}" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else printf "n/a" }')
  R["$scn|$tgt|alloc_kb"]=$(awk -v a="$a0" -v b="$a1" -v n="${R[$scn|$tgt|requests]}" 'BEGIN { if (a != "" && b != "" && n > 0) printf "%.2f", (b - a) / 1024 / n; else printf "n/a" }')
}

SCENARIOS=("c=1" "c=32")
for scn in "${SCENARIOS[@]}"; do
  for t in "${TARGETS[@]}"; do measure "$scn" "$t" "${scn#c=}"; done
done

# --- Report ------------------------------------------------------------------------------------------
mkdir -p "$RESULTS"
REPORT="$RESULTS/edge-latest.md"
rc=0
{
  echo "# Edge benchmark: a plain HTTP route ($(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo
  echo "GET /v1/models on the emulator (a small JSON answer), ${DURATION}s per measurement after ${WARMUP}s of warm-up, wrk keep-alive; $(nproc) cores, load average at start $LOAD_AT_START."
  echo "edge = the gateway's edge as configured by default (access log on); edge-tuned = with: $(tr '\n' ' ' <<<"$TUNED_YAML")."
  echo
  echo "| scenario | target | req/s | vs yarp | p50 ms | p99 ms | added p50 vs direct (ms) | CPU µs/req | KB alloc/req | errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for scn in "${SCENARIOS[@]}"; do
    for t in "${TARGETS[@]}"; do
      k="$scn|$t"
      errs=$(( ${R[$k|status_errors]} + ${R[$k|connect]} + ${R[$k|read]} + ${R[$k|write]} + ${R[$k|timeout]} ))
      (( errs == 0 )) || rc=1
      awk -v s="$scn" -v t="$t" -v r="${R[$k|rps]}" -v y="${R[$scn|yarp|rps]}" -v p50="${R[$k|p50_us]}" -v p99="${R[$k|p99_us]}" \
          -v d="${R[$scn|direct|p50_us]}" -v cpu="${R[$k|cpu_us]}" -v al="${R[$k|alloc_kb]}" -v e="$errs" \
          'BEGIN { printf "| %s | %s | %.0f | %.2f | %.3f | %.3f | %.3f | %s | %s | %d |\n", s, t, r, r / y, p50 / 1000, p99 / 1000, (p50 - d) / 1000, cpu, al, e }'
    done
  done
  echo
  ratio=$(awk -v a="${R[c=32|edge|rps]}" -v b="${R[c=32|yarp|rps]}" 'BEGIN { printf "%.2f", a / b }')
  echo "Target: edge/yarp req/s at c=32 >= $MIN_YARP_RATIO; measured $ratio (tuned: $(awk -v a="${R[c=32|edge-tuned|rps]}" -v b="${R[c=32|yarp|rps]}" 'BEGIN { printf "%.2f", a / b }'))."
  if (( rc == 0 )) && awk -v r="$ratio" -v m="$MIN_YARP_RATIO" 'BEGIN { exit !(r < m) }'; then echo; echo "**Below the target.**"; rc=2; fi
  (( rc != 1 )) || { echo; echo "**Errors in the measurements: the run is invalid (see edge-latest-wrk.log).**"; }
} | tee "$REPORT"
cp "$RAW" "$RESULTS/edge-latest-wrk.log"
# tee hid the block's rc: recompute from the report.
grep -q 'run is invalid' "$REPORT" && exit 1
grep -q 'Below the target' "$REPORT" && exit 2
exit 0
