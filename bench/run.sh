#!/usr/bin/env bash
# Gateway overhead benchmark: the same provider emulator measured directly, through nginx, through a plain YARP hop,
# and through the gateway as a user runs it (access log on, a virtual key with rpm/tpm limits and a budget, a spend
# log per request) and tuned, with wrk on loopback. Prints a markdown report (also written to
# bench/results/latest.md) plus a streaming "no coalescing" check, and fails when the gateway falls below
# MIN_YARP_RATIO of YARP's throughput. See bench/README.md.
#
#   bash bench/run.sh                 # 10 s per measurement, about 7-8 minutes on 2 cores
#   QUICK=1 bash bench/run.sh         # 3 s measurements, smoke test, about 4 minutes
#   DURATION=30 bash bench/run.sh     # longer measurements
#   SOAK=600 bash bench/run.sh        # then 10 minutes at full load on the gateway: RSS and GC heap growth
#
# Other knobs: WARMUP (seconds, discarded run before each measurement), PRIME (seconds of load per mode that
# every target gets once after startup, see prime()), NGINX_WORKERS (default auto),
# AGW_BIN (an already published gateway directory; skips the publish step), KEEP=1 (keep the temp dir),
# BASELINE_BIN (another build's published directory, e.g. the previous commit's: measured as one more target in the
# same run, interleaved with the others, so "CPU per request at most today's" is a same-run ratio). Allocations per
# request are read from every .NET target by a startup hook (bench/alloc-hook), the same way for all.
#
# Exit codes: 0 all good; 1 a measurement had errors, the streaming check failed, or setup failed; 2 the gateway's
# req/s fell below MIN_YARP_RATIO x YARP's (non-stream or stream, c=32); 3 the soak failed (RSS growth, peak RSS,
# errors). The first that applies, in that order; the report's end says which.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RESULTS="$HERE/results"

# --- Thresholds and the tuned target: change them here --------------------------------------------------------
# The regression gate: the default gateway's req/s over the YARP hop's, at non-stream c=32 and stream c=32, must be at
# least this (issue 16's target is 0.9; this is the floor below which a change counts as a regression). Measured on
# 2 cores, 2026-12-06, same run: 0.55 at both after issue 16's changes; the build before them 0.41 and 0.47.
MIN_YARP_RATIO=${MIN_YARP_RATIO:-0.45}
# The soak (SOAK=seconds, 0 = none) fails when the RSS floor (minimum over a window) of its last third exceeds its
# first third's by more than SOAK_MAX_GROWTH, or when the gateway's peak RSS (VmHWM) exceeds MAX_RSS_MB. The issue's
# target is 150 MB (reported in the targets table); the gate is set above today's 200-220 MB, to catch a regression.
SOAK=${SOAK:-0}
SOAK_MAX_GROWTH=${SOAK_MAX_GROWTH:-0.20}
MAX_RSS_MB=${MAX_RSS_MB:-260}
# gateway-tuned: the default configuration plus TUNED_YAML (top-level YAML sections appended to the gateway's config;
# the base config has master_key and models only, so "server:", "logging:" and the like are free) and TUNED_ENV
# (space-separated NAME=VALUE pairs in the gateway's environment, e.g. DOTNET_ runtime knobs).
TUNED_YAML=${TUNED_YAML-'logging:
  level: warning'}
TUNED_ENV=${TUNED_ENV-}

if [[ ${QUICK:-0} == 1 ]]; then
  DURATION=${DURATION:-3}; WARMUP=${WARMUP:-1}; PRIME=${PRIME:-3}
else
  DURATION=${DURATION:-10}; WARMUP=${WARMUP:-3}; PRIME=${PRIME:-5}
fi
# "auto" = one nginx worker per core. The gateway is free to use every core (Kestrel + the thread pool),
# so nginx gets the same allowance; a single worker would understate the baseline on a multi-core box.
NGINX_WORKERS=${NGINX_WORKERS:-auto}
MASTER_KEY=sk-master
WRK_TIMEOUT=5s   # wrk's default (2 s) would hide slow responses as "timeout"; they are errors either way

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

# --- Tools -------------------------------------------------------------------------------------------
missing=()
for tool in nginx wrk; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if (( ${#missing[@]} )); then
  log "installing ${missing[*]} (apt-get)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
for tool in nginx wrk python3 curl; do command -v "$tool" >/dev/null || die "$tool not found"; done

# --- Temp dir and cleanup ---------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/agw-bench.XXXXXX)
chmod 755 "$WORK"   # nginx workers run as an unprivileged user when started as root; they must reach it
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Kept on a failed run, but not for a result below a threshold (exit 2 or 3): those runs worked.
  if [[ $rc -eq 1 || $rc -gt 3 || ${KEEP:-0} == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # run the EXIT trap on Ctrl-C too

# start NAME CMD...: run a server in the background, logging to $WORK/NAME.log; its pid goes to PID_NAME.
start() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_${name//-/_}" '%s' "$!"
}
pid_of() { local v="PID_${1//-/_}"; echo "${!v}"; }

# wait_up NAME URL: poll until URL answers 2xx, failing early if the process died.
wait_up() {
  local name=$1 url=$2
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "$url" && return 0
    kill -0 "$(pid_of "$name")" 2>/dev/null || { tail -n 30 "$WORK/$name.log" >&2; die "$name exited during startup"; }
    sleep 0.2
  done
  tail -n 30 "$WORK/$name.log" >&2
  die "$name did not come up at $url"
}

# --- Publish the gateway and the YARP hop (Release), build the allocation sampler ------------------------------
publish_gateway
# The load average before anything of ours runs, for the report: on a shared machine another job moves every number.
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "publishing the YARP hop (Release) to $WORK/yarp"
dotnet publish "$HERE/yarp-hop" -c Release -o "$WORK/yarp" --artifacts-path "$WORK/yarp-artifacts" -nologo -v quiet >"$WORK/yarp-publish.log" 2>&1 \
  || { tail -n 40 "$WORK/yarp-publish.log" >&2; die "publishing bench/yarp-hop failed"; }
if [[ -x $WORK/yarp/YarpHop ]]; then YARP=("$WORK/yarp/YarpHop"); else YARP=(dotnet "$WORK/yarp/YarpHop.dll"); fi
# The gateways: the default configuration, the tuned one, and optionally another build (same config as "gateway").
GATEWAYS=(gateway gateway-tuned)
if [[ -n ${BASELINE_BIN:-} ]]; then
  if [[ -x $BASELINE_BIN/AgenticGateway ]]; then BASE=("$BASELINE_BIN/AgenticGateway"); else BASE=(dotnet "$BASELINE_BIN/AgenticGateway.dll"); fi
  GATEWAYS+=(baseline)
fi
TARGETS=(direct nginx yarp "${GATEWAYS[@]}")
# The sampler every .NET target loads (a startup hook, so neither a baseline build nor the YARP hop needs a change).
dotnet build "$HERE/alloc-hook" -c Release -o "$WORK/alloc-hook" --artifacts-path "$WORK/alloc-artifacts" -nologo -v quiet >"$WORK/alloc-hook.log" 2>&1 \
  || { tail -n 20 "$WORK/alloc-hook.log" >&2; die "building bench/alloc-hook failed"; }
# with_alloc NAME: the environment (for env, which execs the process in place: its pid stays the measured one) that
# makes the sampler write the process's allocated bytes and GC heap size to $WORK/NAME.alloc.
with_alloc() { echo "DOTNET_STARTUP_HOOKS=$WORK/alloc-hook/AllocHook.dll AGW_BENCH_ALLOC_FILE=$WORK/$1.alloc"; }

# --- Ports, configs, servers ---------------------------------------------------------------------------
# Bind port 0 for all ports at once (so they are distinct), then release them for the servers.
read -r P_EMU P_SLOW P_NGINX P_YARP P_GW P_TUNED P_BASE < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(7)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks: s.close()')

# The default configuration a user starts from: a master key (so virtual keys exist), priced models (a key's budget
# is refused on a model without a price, docs/security.md), no logging section (level information: access log on).
write_gateway_config() {  # FILE [extra top-level YAML]
  cat >"$1" <<EOC
master_key: $MASTER_KEY
models:
  - name: bench-model
    provider: openai_compatible
    model: bench-model
    api_base: http://127.0.0.1:$P_EMU/v1
    api_key: sk-bench
    input_cost_per_token: 0.0000025
    output_cost_per_token: 0.00001
  - name: bench-slow
    provider: openai_compatible
    model: bench-slow
    api_base: http://127.0.0.1:$P_SLOW/v1
    api_key: sk-bench
    input_cost_per_token: 0.0000025
    output_cost_per_token: 0.00001
EOC
  [[ -z ${2:-} ]] || printf '%s\n' "$2" >>"$1"
}
write_gateway_config "$WORK/gateway.yaml"
write_gateway_config "$WORK/gateway-tuned.yaml" "$TUNED_YAML"

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    # Temp files inside our prefix, not /var/lib/nginx (bodies here are tiny; this only avoids permissions noise).
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path       $WORK/nginx/proxy;
    fastcgi_temp_path     $WORK/nginx/fastcgi;
    uwsgi_temp_path       $WORK/nginx/uwsgi;
    scgi_temp_path        $WORK/nginx/scgi;
    # nginx closes a keep-alive connection after 1000 requests by default (client and upstream side);
    # Kestrel never does, so lift the limit to compare proxies, not reconnect costs.
    keepalive_requests 1000000;
    keepalive_timeout  120s;
    upstream emulator {
        server 127.0.0.1:$P_EMU;
        keepalive 64;                   # pooled upstream connections, like the gateway's HttpClient pool
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$P_NGINX;
        location / {
            proxy_pass http://emulator;
            proxy_http_version 1.1;           # needed for upstream keep-alive
            proxy_set_header Connection "";   # ... and do not forward "Connection: close"
            proxy_buffering off;              # pass SSE chunks through as they arrive
        }
    }
}
EOF

log "ports: emulator $P_EMU, slow emulator $P_SLOW, nginx $P_NGINX, yarp $P_YARP, gateway $P_GW, gateway-tuned $P_TUNED"
# with_alloc and TUNED_ENV are unquoted on purpose: lists of NAME=VALUE words for env.
# shellcheck disable=SC2046,SC2086
{
  start emu      env $(with_alloc emu) "${AGW[@]}" mock --urls "http://127.0.0.1:$P_EMU"
  start emu-slow "${AGW[@]}" mock --urls "http://127.0.0.1:$P_SLOW" --tokens-per-second 50
  start yarp     env $(with_alloc yarp) "${YARP[@]}" --upstream "http://127.0.0.1:$P_EMU" --urls "http://127.0.0.1:$P_YARP"
  # Each gateway keeps its state apart (a data directory is locked by the gateway using it). Their stdout, the access
  # log, goes to a file, as a service's goes to a file or a journal rather than a terminal.
  start gateway       env $(with_alloc gateway) AGW_DATA_DIR="$WORK/data-gateway" \
    "${AGW[@]}" --config "$WORK/gateway.yaml" --urls "http://127.0.0.1:$P_GW"
  start gateway-tuned env $(with_alloc gateway-tuned) AGW_DATA_DIR="$WORK/data-gateway-tuned" $TUNED_ENV \
    "${AGW[@]}" --config "$WORK/gateway-tuned.yaml" --urls "http://127.0.0.1:$P_TUNED"
  [[ -z ${BASELINE_BIN:-} ]] || start baseline env $(with_alloc baseline) AGW_DATA_DIR="$WORK/data-baseline" \
    "${BASE[@]}" --config "$WORK/gateway.yaml" --urls "http://127.0.0.1:$P_BASE"
}
start nginx nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -g 'daemon off;'

declare -A URL=(
  [direct]="http://127.0.0.1:$P_EMU/v1/chat/completions"
  [nginx]="http://127.0.0.1:$P_NGINX/v1/chat/completions"
  [yarp]="http://127.0.0.1:$P_YARP/v1/chat/completions"
  [gateway]="http://127.0.0.1:$P_GW/v1/chat/completions"
  [gateway-tuned]="http://127.0.0.1:$P_TUNED/v1/chat/completions"
  [baseline]="http://127.0.0.1:$P_BASE/v1/chat/completions"
)
base_of() { echo "${URL[$1]%/v1/chat/completions}"; }
wait_up emu      "http://127.0.0.1:$P_EMU/v1/models"
wait_up emu-slow "http://127.0.0.1:$P_SLOW/v1/models"
wait_up yarp     "http://127.0.0.1:$P_YARP/v1/models"
for g in "${GATEWAYS[@]}"; do wait_up "$g" "$(base_of "$g")/health/ready"; done
wait_up nginx    "http://127.0.0.1:$P_NGINX/v1/models"
kb_of() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$(pid_of "$1")/status"; }   # kb_of NAME VmRSS|VmHWM
declare -A RSS_START_KB
for g in "${GATEWAYS[@]}"; do RSS_START_KB[$g]=$(kb_of "$g" VmRSS); done

# check_target LABEL URL [KEY]: one request of each kind must succeed before we load the target; wrk itself
# only counts status >= 400, so this is where a wrong-but-200 answer would be caught.
check_target() {
  local label=$1 url=$2 key=${3:-} out auth=()
  [[ -n $key ]] && auth=(-H "Authorization: Bearer $key")
  out=$(curl -s -w '\n%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' "$url" \
        -d '{"model":"bench-model","messages":[{"role":"user","content":"hello"}]}')
  [[ ${out##*$'\n'} == 200 && $out == *'"chat.completion"'* ]] || die "$label non-stream check failed: $out"
  out=$(curl -sN -w '\n%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' "$url" \
        -d '{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"hello"}]}')
  [[ ${out##*$'\n'} == 200 && $out == *'data: [DONE]'* ]] || die "$label stream check failed: $out"
}

# --- The measured request: a virtual key with limits and a budget (issue 16) -------------------------------------
# Each gateway gets its own key (its own database), so every request is authenticated, counted against rpm/tpm
# windows (limits too high to refuse anything), budget-checked, priced and spend-logged (write-ahead file + batching
# writer into SQLite). The other targets get the same Authorization header, which they ignore: the same request for all.
declare -A KEY
for g in "${GATEWAYS[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "${URL[$g]}" \
         -d '{"model":"bench-model","messages":[{"role":"user","content":"hello"}]}')
  [[ $code == 401 ]] || die "$g answered $code without a key (expected 401): auth is not on"
  KEY[$g]=$(curl -sf -H "Authorization: Bearer $MASTER_KEY" -H 'Content-Type: application/json' "$(base_of "$g")/key/generate" \
             -d '{"key_alias": "bench", "rpm_limit": 1000000000, "tpm_limit": 1000000000000, "max_budget": 1000000}' \
           | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])') || die "could not create $g's virtual key"
  n=$(curl -s -D - -o /dev/null -H "Authorization: Bearer ${KEY[$g]}" -H 'Content-Type: application/json' "${URL[$g]}" \
      -d '{"model":"bench-model","messages":[{"role":"user","content":"hello"}]}' | grep -ci '^x-ratelimit-remaining-requests' || true)
  [[ $n == 1 ]] || die "$g: the virtual key's limits are not applied (no x-ratelimit headers)"
done
for t in direct nginx yarp; do KEY[$t]=${KEY[gateway]}; done
for t in "${TARGETS[@]}"; do check_target "$t" "${URL[$t]}" "${KEY[$t]}"; done

# --- Load ---------------------------------------------------------------------------------------------
# prime TARGET: load a freshly started target for PRIME s non-stream + PRIME s stream at c=32, discarded.
# .NET starts on unoptimised tier-0 code and recompiles hot methods over the first seconds of load (tiered
# compilation, dynamic PGO); unprimed, the first scenario measures the JIT (p99 of hundreds of ms), not the
# steady state. The per-measurement warm-up (WARMUP) is too short for that on its own.
prime() {
  log "priming $1 (${PRIME}s non-stream + ${PRIME}s stream, discarded)"
  wrk -t2 -c32 -d"${PRIME}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "${URL[$1]}" -- "key=${KEY[$1]}" >/dev/null
  wrk -t2 -c32 -d"${PRIME}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "${URL[$1]}" -- stream "key=${KEY[$1]}" >/dev/null
}
# Through the gateway first: that also primes the emulator behind it; then the others (cheap if already warm).
for t in "${GATEWAYS[@]}" yarp nginx direct; do prime "$t"; done

RAW="$WORK/wrk.log"
: >"$RAW"
declare -A R   # R[scenario|target|field] from wrk's RESULT line

# CPU time (user + system, in clock ticks) of the processes serving a target: the emulator for direct, nginx's
# master and workers, the YARP hop or the gateway process alone. Divided by the requests served, it shows what each
# proxy costs per request, independent of how the 2 shared cores were split between the processes during the run.
TICK=$(getconf CLK_TCK)
cpu_ticks() { local t=0 p; for p in "$@"; do [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
target_pids() {
  case $1 in
    direct) echo "$PID_emu" ;;
    nginx)  echo "$PID_nginx $(pgrep -P "$PID_nginx" | tr '\n' ' ')" ;;
    *)      pid_of "$1" ;;
  esac
}
# The sampler's file of the .NET process serving TARGET (nginx has none): "ALLOCATED_BYTES HEAP_BYTES".
alloc_file() {
  case $1 in
    direct) echo "$WORK/emu.alloc" ;;
    nginx)  ;;
    *)      echo "$WORK/$1.alloc" ;;
  esac
}
# (The file has no final newline, so read returns non-zero after it has read the line.)
alloc_now() { local f a=; f=$(alloc_file "$1"); [[ -n $f && -r $f ]] && { read -r a _ <"$f" || true; }; echo "$a"; }

# measure SCENARIO TARGET CONNS MODE: warm-up run (discarded), then the measured run.
measure() {
  local scn=$1 tgt=$2 c=$3 mode=$4 threads=2 args=() out kv
  (( c == 1 )) && threads=1           # one connection cannot use two wrk threads
  [[ $mode == stream ]] && args+=(stream)
  args+=("key=${KEY[$tgt]}")
  log "$scn: $tgt (warm-up ${WARMUP}s, measure ${DURATION}s)"
  wrk -t"$threads" -c"$c" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "${URL[$tgt]}" -- "${args[@]}" >/dev/null
  local pids cpu0 cpu1 alloc0 alloc1
  pids=$(target_pids "$tgt")
  sleep 0.05   # the sampler writes every 20 ms: let it catch up with the warm-up
  alloc0=$(alloc_now "$tgt")
  # shellcheck disable=SC2086  # a list of pids
  cpu0=$(cpu_ticks $pids)
  out=$(wrk -t"$threads" -c"$c" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "${URL[$tgt]}" -- "${args[@]}")
  # shellcheck disable=SC2086
  cpu1=$(cpu_ticks $pids)
  sleep 0.05
  alloc1=$(alloc_now "$tgt")
  printf '### %s / %s\n%s\n\n' "$scn" "$tgt" "$out" >>"$RAW"
  local line
  line=$(grep '^RESULT ' <<<"$out") || die "no RESULT line from wrk for $scn/$tgt: $out"
  for kv in ${line#RESULT }; do R["$scn|$tgt|${kv%%=*}"]=${kv#*=}; done
  R["$scn|$tgt|alloc_kb"]=$(awk -v a="$alloc0" -v b="$alloc1" -v n="${R[$scn|$tgt|requests]}" 'BEGIN { if (a != "" && b != "" && n > 0) printf "%.1f", (b - a) / 1024 / n; else printf "n/a" }')
  R["$scn|$tgt|cpu_us"]=$(awk -v t=$((cpu1 - cpu0)) -v hz="$TICK" -v n="${R[$scn|$tgt|requests]}" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else printf "n/a" }')
}

# c=64 is left out: on a few shared cores it says nothing c=32 does not, and the issue's targets are at c=1 and c=32.
SCENARIOS=("non-stream c=1" "non-stream c=32" "stream c=1" "stream c=32")
GATE_SCENARIOS=("non-stream c=32" "stream c=32")   # where MIN_YARP_RATIO applies
for scn in "${SCENARIOS[@]}"; do
  mode=${scn%% *}; c=${scn##*c=}
  # Targets interleaved per scenario, so slow drift on a noisy machine affects them all alike.
  for t in "${TARGETS[@]}"; do measure "$scn" "$t" "$c" "$mode"; done
done

# --- Streaming "no coalescing" check (before reading the peak RSS, so it counts too) -----------------
log "streaming check (emulator paced at 50 tokens/s)"
STREAM_CHECK_RC=0
STREAM_CHECK=$(python3 "$HERE/stream_check.py" --requests 5 --model bench-slow --key "${KEY[gateway]}" \
  "direct=http://127.0.0.1:$P_SLOW/v1/chat/completions" \
  "gateway=${URL[gateway]}") || STREAM_CHECK_RC=$?

# --- Memory and spend logs of the gateways that served all of the above -----------------------------------------
declare -A RSS_PEAK_KB SPEND_LOGS
for g in "${GATEWAYS[@]}" yarp; do
  kill -0 "$(pid_of "$g")" 2>/dev/null || die "$g exited during the benchmark (see $WORK/$g.log)"
  RSS_PEAK_KB[$g]=$(kb_of "$g" VmHWM)
done
for g in "${GATEWAYS[@]}"; do
  SPEND_LOGS[$g]=$(curl -sf -H "Authorization: Bearer $MASTER_KEY" "$(base_of "$g")/v1/usage?key=${KEY[$g]}" \
                   | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])') || SPEND_LOGS[$g]='?'
done

# --- Soak (SOAK=seconds): the default gateway at full load, its memory sampled -------------------------------------
# The gateway that served the measurements above (warm, its spend database already holding their logs) gets c=32 with
# its virtual key for SOAK s, non-stream and stream alternating in segments, while a sampler reads its RSS (VmRSS) and
# GC heap size (the alloc hook's, after the last collection). A leak shows as a rising floor: RSS and heap move with
# every collection, so what is compared is the minimum over the first third of the soak against the minimum over the
# last third, not two single samples.
SOAK_RC=0
SOAK_REPORT=
soak() {
  local pid=$PID_gateway sample seg end mode=non-stream d out line args
  sample=$(( SOAK / 30 )); (( sample >= 1 )) || sample=1; (( sample <= 10 )) || sample=10
  seg=$(( SOAK / 6 ));     (( seg >= 2 ))    || seg=2;    (( seg <= 10 ))    || seg=10
  log "soak: ${SOAK}s at c=32 on the gateway (non-stream and stream alternating every ${seg}s), memory every ${sample}s"
  : >"$WORK/soak-samples"; : >"$WORK/soak-segments"
  (
    local rss heap
    while kill -0 "$pid" 2>/dev/null; do
      rss=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$pid/status" 2>/dev/null) || break
      heap=0; read -r _ heap 2>/dev/null <"$WORK/gateway.alloc" || true
      echo "$EPOCHREALTIME $rss ${heap:-0}" >>"$WORK/soak-samples"
      sleep "$sample"
    done
  ) &
  local sampler=$!
  PIDS+=("$sampler")
  end=$(( SECONDS + SOAK ))
  while (( SECONDS < end )); do
    d=$(( end - SECONDS )); (( d <= seg )) || d=$seg
    args=("key=${KEY[gateway]}"); [[ $mode == stream ]] && args=(stream "key=${KEY[gateway]}")
    out=$(wrk -t2 -c32 -d"${d}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "${URL[gateway]}" -- "${args[@]}")
    printf '### soak / %s\n%s\n\n' "$mode" "$out" >>"$RAW"
    line=$(grep '^RESULT ' <<<"$out") || die "no RESULT line from wrk in the soak: $out"
    echo "$EPOCHREALTIME $mode ${line#RESULT }" >>"$WORK/soak-segments"
    if [[ $mode == stream ]]; then mode=non-stream; else mode=stream; fi
  done
  sleep "$sample"   # one more sample after the last segment's load
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  kill -0 "$pid" 2>/dev/null || die "the gateway exited during the soak (see $WORK/gateway.log)"
  SOAK_REPORT=$(python3 - "$WORK/soak-samples" "$WORK/soak-segments" "$(kb_of gateway VmHWM)" \
                  "$SOAK" "$seg" "$sample" "$SOAK_MAX_GROWTH" "$MAX_RSS_MB" <<'PY'
import sys
samples_file, segments_file, hwm_kb, soak, seg, every, max_growth, max_rss_mb = sys.argv[1:]
max_growth, max_rss_mb = float(max_growth), float(max_rss_mb)
samples = [tuple(float(x) for x in l.split()) for l in open(samples_file) if len(l.split()) == 3]
segments = []
for l in open(segments_file):
    t, mode, *kvs = l.split()
    segments.append((float(t), mode, {k: float(v) for k, v in (kv.split("=") for kv in kvs)}))
if len(samples) < 6:
    print(f"**Soak FAILED: only {len(samples)} memory samples.**"); sys.exit(1)
t0, t1 = samples[0][0], samples[-1][0]
third = (t1 - t0) / 3
first = [s for s in samples if s[0] <= t0 + third]
last = [s for s in samples if s[0] >= t1 - third]
mb = lambda kb: kb / 1024
rss_first, rss_last = min(s[1] for s in first), min(s[1] for s in last)
growth = rss_last / rss_first - 1
heaps_first, heaps_last = [s[2] for s in first if s[2] > 0], [s[2] for s in last if s[2] > 0]
heap = lambda b: f"{b / 2**20:.1f}"
heap_row = "| GC heap after the last collection (MB) | n/a | n/a | n/a | n/a | n/a | n/a |"
if heaps_first and heaps_last:
    hf, hl = min(heaps_first), min(heaps_last)
    heap_row = (f"| GC heap after the last collection (MB) | {heap(samples[0][2])} | {heap(samples[-1][2])} | "
                f"{heap(max(s[2] for s in samples))} | {heap(hf)} | {heap(hl)} | {(hl / hf - 1) * 100:+.1f} % |")
windows = min(10, len(samples) // 3)   # tenths of the soak, or fewer with few samples (a floor needs several)
span = (t1 - t0) / windows
trend = [min(s[1] for s in samples if t0 + i * span <= s[0] <= t0 + (i + 1) * span) for i in range(windows)]
def rps(mode, lo, hi):
    segs = [v for t, m, v in segments if m == mode and lo <= t <= hi and v["rps"] > 0]
    req = sum(v["requests"] for v in segs)
    secs = sum(v["requests"] / v["rps"] for v in segs)
    return f"{req / secs:.0f}" if secs else "n/a"
s0, s1 = segments[0][0], segments[-1][0]
sthird = (s1 - s0) / 3
errors = sum(v["status_errors"] + v["connect"] + v["read"] + v["write"] + v["timeout"] for _, _, v in segments)
requests = sum(v["requests"] for _, _, v in segments)
hwm_mb = mb(float(hwm_kb))

print(f"### Soak: {soak} s at c=32 on the gateway (default configuration, virtual key), non-stream and stream "
      f"alternating every {seg} s, memory sampled every {every} s ({len(samples)} samples)")
print()
print("| | start | end | peak | floor, first third | floor, last third | floor growth |")
print("|---|---:|---:|---:|---:|---:|---:|")
print(f"| RSS (MB) | {mb(samples[0][1]):.1f} | {mb(samples[-1][1]):.1f} | {mb(max(s[1] for s in samples)):.1f} | "
      f"{mb(rss_first):.1f} | {mb(rss_last):.1f} | {growth * 100:+.1f} % |")
print(heap_row)
print()
print(f"RSS floor per {span:.0f} s window (MB): " + " → ".join(f"{mb(x):.0f}" for x in trend) + ".")
print(f"req/s, first third → last third: non-stream {rps('non-stream', s0, s0 + sthird)} → {rps('non-stream', s1 - sthird, s1)}, "
      f"stream {rps('stream', s0, s0 + sthird)} → {rps('stream', s1 - sthird, s1)}. "
      f"Errors: {errors:.0f} of {requests:.0f} requests. Peak RSS (VmHWM) of the whole run: {hwm_mb:.1f} MB.")
print()
failures = []
if growth > max_growth:
    failures.append(f"the RSS floor grew {growth * 100:.1f} % (limit {max_growth * 100:.0f} %)")
if hwm_mb > max_rss_mb:
    failures.append(f"peak RSS {hwm_mb:.1f} MB (limit {max_rss_mb:.0f} MB)")
if errors:
    failures.append(f"{errors:.0f} errors")
if failures:
    print("**Soak FAILED: " + "; ".join(failures) + ".**")
    sys.exit(1)
print(f"Soak passed: RSS floor growth at most {max_growth * 100:.0f} %, peak RSS at most {max_rss_mb:.0f} MB, no errors.")
PY
  ) || SOAK_RC=$?
}
(( SOAK > 0 )) && soak

# --- Report ---------------------------------------------------------------------------------------------
ms()  { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
num() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
mb()  { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a != "n/a" && b != "n/a" && b > 0) printf f, a / b; else printf "n/a" }'; }
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", (a - b) / 1000 }'; }
# table_head EXTRA...: a markdown header with a column per target, then the EXTRA (right-aligned) columns.
table_head() {
  local row="| scenario |" rule="|---|" t x
  for t in "${TARGETS[@]}"; do row+=" $t |"; rule+="---:|"; done
  for x in "$@"; do row+=" $x |"; rule+="---:|"; done
  echo "$row"; echo "$rule"
}

# Errors and the regression gate, decided before the report is written (it runs in the same shell, but this keeps
# the verdicts in one place).
INVALID=()
for scn in "${SCENARIOS[@]}"; do
  for t in "${TARGETS[@]}"; do
    e=$(( ${R[$scn|$t|status_errors]} + ${R[$scn|$t|connect]} + ${R[$scn|$t|read]} + ${R[$scn|$t|write]} + ${R[$scn|$t|timeout]} ))
    R["$scn|$t|errors"]=$e
    (( e == 0 )) || INVALID+=("$scn / $t: HTTP status>=400 ${R[$scn|$t|status_errors]}, connect ${R[$scn|$t|connect]}, read ${R[$scn|$t|read]}, write ${R[$scn|$t|write]}, timeout ${R[$scn|$t|timeout]} (of ${R[$scn|$t|requests]} requests)")
  done
done
BELOW=()
for scn in "${GATE_SCENARIOS[@]}"; do
  r=$(ratio "${R[$scn|gateway|rps]}" "${R[$scn|yarp|rps]}")
  awk -v r="$r" -v m="$MIN_YARP_RATIO" 'BEGIN { exit !(r == "n/a" || r + 0 < m + 0) }' && BELOW+=("$scn: gateway/YARP req/s $r < $MIN_YARP_RATIO")
done

report() {
  local scn t row
  echo "## Agentic Gateway benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')," \
       "wrk ${DURATION}s per cell after ${WARMUP}s warm-up, nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') worker_processes $NGINX_WORKERS." \
       "Every request carries a virtual key with rpm/tpm limits and a budget (the gateways check, limit, price and" \
       "spend-log it; the others ignore it). gateway: the default configuration (access log on);" \
       "gateway-tuned: plus $(tr '\n' ' ' <<<"$TUNED_YAML" | sed 's/  */ /g; s/ $//')${TUNED_ENV:+, env $TUNED_ENV}." \
       "Load average before the run: $LOAD_AT_START (1, 5, 15 min); other work on the machine moves every figure, so compare ratios within the run."
  echo
  echo "Throughput (req/s):"
  echo
  table_head "gateway/yarp" "tuned/yarp" "gateway/nginx"
  for scn in "${SCENARIOS[@]}"; do
    row="| $scn |"; for t in "${TARGETS[@]}"; do row+=" $(num "${R[$scn|$t|rps]}") |"; done
    row+=" $(ratio "${R[$scn|gateway|rps]}" "${R[$scn|yarp|rps]}") | $(ratio "${R[$scn|gateway-tuned|rps]}" "${R[$scn|yarp|rps]}")"
    echo "$row | $(ratio "${R[$scn|gateway|rps]}" "${R[$scn|nginx|rps]}") |"
  done
  echo
  echo "Latency, p50 / p99 (ms; stream: time to the last byte), and what each proxy adds to direct's p50:"
  echo
  table_head "yarp added p50" "gateway added p50" "tuned added p50"
  for scn in "${SCENARIOS[@]}"; do
    row="| $scn |"; for t in "${TARGETS[@]}"; do row+=" $(ms "${R[$scn|$t|p50_us]}") / $(ms "${R[$scn|$t|p99_us]}") |"; done
    for t in yarp gateway gateway-tuned; do row+=" $(added "${R[$scn|$t|p50_us]}" "${R[$scn|direct|p50_us]}") |"; done
    echo "$row"
  done
  echo
  echo "CPU per request (µs, user + system of the serving process only: the emulator behind the proxies is not in" \
       "their columns) and allocations per request (KB, the process's GC.GetTotalAllocatedBytes; nginx is not .NET):"
  echo
  row="| scenario |"; for t in "${TARGETS[@]}"; do row+=" $t CPU |"; done
  row+=" gateway/yarp CPU | tuned/yarp CPU |"; for t in "${TARGETS[@]}"; do [[ $t == nginx ]] || row+=" $t KB |"; done
  echo "$row"
  row="|---|"; for t in "${TARGETS[@]}"; do row+="---:|"; [[ $t == nginx ]] || row+="---:|"; done
  echo "$row---:|---:|"
  for scn in "${SCENARIOS[@]}"; do
    row="| $scn |"; for t in "${TARGETS[@]}"; do row+=" ${R[$scn|$t|cpu_us]} |"; done
    row+=" $(ratio "${R[$scn|gateway|cpu_us]}" "${R[$scn|yarp|cpu_us]}") | $(ratio "${R[$scn|gateway-tuned|cpu_us]}" "${R[$scn|yarp|cpu_us]}") |"
    for t in "${TARGETS[@]}"; do [[ $t == nginx ]] || row+=" ${R[$scn|$t|alloc_kb]} |"; done
    echo "$row"
  done
  if [[ -n ${BASELINE_BIN:-} ]]; then
    echo
    echo "Against the baseline build ($BASELINE_BIN), measured in the same run, interleaved, same config as gateway:"
    echo
    echo "| scenario | baseline req/s | gateway req/s | req/s ratio | baseline CPU µs | gateway CPU µs | CPU ratio | baseline KB | gateway KB | alloc ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for scn in "${SCENARIOS[@]}"; do
      echo "| $scn | $(num "${R[$scn|baseline|rps]}") | $(num "${R[$scn|gateway|rps]}") | $(ratio "${R[$scn|gateway|rps]}" "${R[$scn|baseline|rps]}")" \
           "| ${R[$scn|baseline|cpu_us]} | ${R[$scn|gateway|cpu_us]} | $(ratio "${R[$scn|gateway|cpu_us]}" "${R[$scn|baseline|cpu_us]}")" \
           "| ${R[$scn|baseline|alloc_kb]} | ${R[$scn|gateway|alloc_kb]} | $(ratio "${R[$scn|gateway|alloc_kb]}" "${R[$scn|baseline|alloc_kb]}") |"
    done
  fi
  echo
  row="Memory: RSS after startup / peak RSS (VmHWM) after the measurements and the streaming check:"
  for t in "${GATEWAYS[@]}"; do row+=" $t $(mb "${RSS_START_KB[$t]}") / $(mb "${RSS_PEAK_KB[$t]}") MB,"; done
  echo "$row yarp peak $(mb "${RSS_PEAK_KB[yarp]}") MB."
  row="Spend logs stored for the virtual key:"
  for t in "${GATEWAYS[@]}"; do row+=" $t ${SPEND_LOGS[$t]},"; done
  echo "${row%,}."
  echo
  echo "Issue 16's targets (reported, not asserted; the gateway in the default configuration, tuned in brackets):"
  echo
  echo "| target | measured |"
  echo "|---|---|"
  for scn in "${GATE_SCENARIOS[@]}"; do
    echo "| req/s ≥ 0.9x YARP, $scn | $(ratio "${R[$scn|gateway|rps]}" "${R[$scn|yarp|rps]}")x ($(ratio "${R[$scn|gateway-tuned|rps]}" "${R[$scn|yarp|rps]}")x) |"
  done
  echo "| added p50 ≤ 0.1 ms at c=1 (non-stream) | $(added "${R[non-stream c=1|gateway|p50_us]}" "${R[non-stream c=1|direct|p50_us]}") ms ($(added "${R[non-stream c=1|gateway-tuned|p50_us]}" "${R[non-stream c=1|direct|p50_us]}") ms) |"
  for scn in "${GATE_SCENARIOS[@]}"; do
    echo "| CPU per request ≤ 1.3x YARP's, $scn | $(ratio "${R[$scn|gateway|cpu_us]}" "${R[$scn|yarp|cpu_us]}")x ($(ratio "${R[$scn|gateway-tuned|cpu_us]}" "${R[$scn|yarp|cpu_us]}")x) |"
  done
  echo "| peak RSS ≤ 150 MB | $(mb "${RSS_PEAK_KB[gateway]}") MB ($(mb "${RSS_PEAK_KB[gateway-tuned]}") MB) |"
  echo "| streams chunk by chunk | $( (( STREAM_CHECK_RC == 0 )) && echo 'streaming check passed' || echo "streaming check FAILED (exit $STREAM_CHECK_RC)") |"
  if (( SOAK > 0 )); then
    echo "| no growth over the soak | $( (( SOAK_RC == 0 )) && echo "passed (${SOAK} s, below)" || echo "FAILED (${SOAK} s, below)") |"
  else
    echo "| no growth over the soak | not run (set SOAK=600) |"
  fi
  echo
  if (( ${#INVALID[@]} )); then
    echo "**INVALID: wrk saw errors; the affected numbers do not measure successful requests:**"
    echo
    printf -- '- %s\n' "${INVALID[@]}"
  else
    echo "Errors: none (0 HTTP status >= 400, 0 socket errors in every cell)."
  fi
  echo
  if (( ${#BELOW[@]} )); then
    echo "**REGRESSION: the gateway is below MIN_YARP_RATIO=$MIN_YARP_RATIO of the YARP hop's throughput:**"
    echo
    printf -- '- %s\n' "${BELOW[@]}"
  else
    echo "Regression gate passed: gateway/YARP req/s at least MIN_YARP_RATIO=$MIN_YARP_RATIO at $(printf '%s and ' "${GATE_SCENARIOS[@]}" | sed 's/ and $//')."
  fi
  echo
  echo "### Streaming check: 5 streams at 50 tokens/s (20 ms between chunks), direct vs through the gateway"
  echo
  echo "$STREAM_CHECK"
  (( STREAM_CHECK_RC == 0 )) || { echo; echo "**Streaming check FAILED (exit $STREAM_CHECK_RC).**"; }
  if (( SOAK > 0 )); then
    echo
    echo "$SOAK_REPORT"
  fi
}

mkdir -p "$RESULTS"
report >"$RESULTS/latest.md"
cat "$RESULTS/latest.md"
cp "$RAW" "$RESULTS/latest-wrk.log"
log "written $RESULTS/latest.md (raw wrk output: $RESULTS/latest-wrk.log)"
(( ${#INVALID[@]} == 0 && STREAM_CHECK_RC == 0 )) || { log "FAILED: errors in the measurements or the streaming check"; exit 1; }
(( ${#BELOW[@]} == 0 )) || { log "FAILED: ${BELOW[*]}"; exit 2; }
(( SOAK_RC == 0 )) || { log "FAILED: the soak (see the report's end)"; exit 3; }
