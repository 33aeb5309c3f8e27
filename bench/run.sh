#!/usr/bin/env bash
# Gateway overhead benchmark: the same provider emulator measured directly, through a plain nginx reverse
# proxy, and through the gateway, with wrk on loopback. Prints one markdown table (also written to
# bench/results/latest.md) plus a streaming "no coalescing" check. See bench/README.md.
#
#   bash bench/run.sh                 # 10 s per measurement
#   DURATION=30 bash bench/run.sh     # longer measurements
#   QUICK=1 bash bench/run.sh         # 3 s measurements, smoke test
#
# Other knobs: WARMUP (seconds, discarded run before each measurement), PRIME (seconds of load per mode that
# every target gets once after startup, see prime()), NGINX_WORKERS (default auto),
# AGW_BIN (an already published gateway directory; skips the publish step), KEEP=1 (keep the temp dir),
# BASELINE_BIN (another build's published directory, e.g. the previous commit's: measured as a fourth target in the
# same run, interleaved with the others, so "CPU per request at most today's" is a same-run ratio). Allocations per
# request are read from each gateway by a startup hook (bench/alloc-hook), the same way for both builds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RESULTS="$HERE/results"

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
export AGW_DATA_DIR="$WORK/data"
chmod 755 "$WORK"   # nginx workers run as an unprivileged user when started as root; they must reach it
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $rc -ne 0 || ${KEEP:-0} == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
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

# wait_up NAME URL: poll until URL answers 2xx, failing early if the process died.
wait_up() {
  local name=$1 url=$2 pidvar="PID_${1//-/_}"
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "$url" && return 0
    kill -0 "${!pidvar}" 2>/dev/null || { tail -n 30 "$WORK/$name.log" >&2; die "$name exited during startup"; }
    sleep 0.2
  done
  tail -n 30 "$WORK/$name.log" >&2
  die "$name did not come up at $url"
}

# --- Publish the gateway (Release) ---------------------------------------------------------------------
publish_gateway
TARGETS=(direct nginx gateway)
if [[ -n ${BASELINE_BIN:-} ]]; then
  if [[ -x $BASELINE_BIN/AgenticGateway ]]; then BASE=("$BASELINE_BIN/AgenticGateway"); else BASE=(dotnet "$BASELINE_BIN/AgenticGateway.dll"); fi
  TARGETS=(direct nginx baseline gateway)
fi
# The allocation sampler every measured gateway loads (a startup hook, so a baseline build needs no change).
dotnet build "$HERE/alloc-hook" -c Release -o "$WORK/alloc-hook" --artifacts-path "$WORK/alloc-artifacts" -nologo -v quiet >"$WORK/alloc-hook.log" 2>&1 \
  || { tail -n 20 "$WORK/alloc-hook.log" >&2; die "building bench/alloc-hook failed"; }
# with_alloc NAME: the environment (for env, which execs the gateway in place: its pid stays the measured one) that
# makes the sampler write the gateway's allocated bytes to $WORK/NAME.alloc.
with_alloc() { echo "DOTNET_STARTUP_HOOKS=$WORK/alloc-hook/AllocHook.dll AGW_BENCH_ALLOC_FILE=$WORK/$1.alloc"; }

# --- Ports, configs, servers ---------------------------------------------------------------------------
# Bind port 0 for all ports at once (so they are distinct), then release them for the servers.
read -r P_EMU P_SLOW P_NGINX P_GW P_GW_AUTH P_BASE < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks: s.close()')

write_gateway_config() {  # FILE [master key]
  {
    [[ -n ${2:-} ]] && echo "master_key: $2"
    cat <<EOF
server:
  port: 8080
models:
  - name: bench-model
    provider: openai_compatible
    model: bench-model
    api_base: http://127.0.0.1:$P_EMU/v1
    api_key: sk-bench
    # Priced: the virtual key's budget (below) is refused on a model without a price (docs/security.md).
    input_cost_per_token: 0.0000025
    output_cost_per_token: 0.00001
  - name: bench-slow
    provider: openai_compatible
    model: bench-slow
    api_base: http://127.0.0.1:$P_SLOW/v1
    api_key: sk-bench
logging:
  level: warning
EOF
  } >"$1"
}
write_gateway_config "$WORK/gateway.yaml"
write_gateway_config "$WORK/gateway-auth.yaml" "$MASTER_KEY"

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

log "ports: emulator $P_EMU, slow emulator $P_SLOW, nginx $P_NGINX, gateway $P_GW"
start emu      "${AGW[@]}" mock --urls "http://127.0.0.1:$P_EMU"
start emu-slow "${AGW[@]}" mock --urls "http://127.0.0.1:$P_SLOW" --tokens-per-second 50
start gateway  env $(with_alloc gateway) "${AGW[@]}" --config "$WORK/gateway.yaml" --urls "http://127.0.0.1:$P_GW"
# The baseline keeps its state apart: a data directory is locked by the gateway using it.
[[ -n ${BASELINE_BIN:-} ]] && start baseline env $(with_alloc baseline) AGW_DATA_DIR="$WORK/data-baseline" "${BASE[@]}" --config "$WORK/gateway.yaml" --urls "http://127.0.0.1:$P_BASE"
start nginx    nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -g 'daemon off;'
wait_up emu      "http://127.0.0.1:$P_EMU/v1/models"
wait_up emu-slow "http://127.0.0.1:$P_SLOW/v1/models"
wait_up gateway  "http://127.0.0.1:$P_GW/health/ready"
[[ -n ${BASELINE_BIN:-} ]] && wait_up baseline "http://127.0.0.1:$P_BASE/health/ready"
wait_up nginx    "http://127.0.0.1:$P_NGINX/v1/models"
RSS_START_KB=$(awk '/^VmRSS/ {print $2}' "/proc/$PID_gateway/status")

declare -A URL=(
  [direct]="http://127.0.0.1:$P_EMU/v1/chat/completions"
  [nginx]="http://127.0.0.1:$P_NGINX/v1/chat/completions"
  [gateway]="http://127.0.0.1:$P_GW/v1/chat/completions"
  [baseline]="http://127.0.0.1:$P_BASE/v1/chat/completions"
)

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
for t in "${TARGETS[@]}"; do check_target "$t" "${URL[$t]}"; done

# --- Load ---------------------------------------------------------------------------------------------
# prime URL [KEY]: load a freshly started target for PRIME s non-stream + PRIME s stream at c=32, discarded.
# .NET starts on unoptimised tier-0 code and recompiles hot methods over the first seconds of load (tiered
# compilation, dynamic PGO); unprimed, the first scenario measures the JIT (p99 of hundreds of ms), not the
# steady state. The per-measurement warm-up (WARMUP) is too short for that on its own.
prime() {
  local url=$1 key=${2:-} auth=()
  [[ -n $key ]] && auth=("key=$key")
  log "priming $url (${PRIME}s non-stream + ${PRIME}s stream, discarded)"
  wrk -t2 -c32 -d"${PRIME}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "$url" -- "${auth[@]}" >/dev/null
  wrk -t2 -c32 -d"${PRIME}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "$url" -- stream "${auth[@]}" >/dev/null
}
# Through the gateway first: that also primes the emulator behind it; then the others (cheap if already warm).
for t in gateway nginx direct; do prime "${URL[$t]}"; done
[[ -n ${BASELINE_BIN:-} ]] && prime "${URL[baseline]}"

RAW="$WORK/wrk.log"
: >"$RAW"
declare -A R   # R[scenario|target|field] from wrk's RESULT line

# CPU time (user + system, in clock ticks) of the processes serving a target: the emulator for direct, nginx's
# master and workers, the gateway process alone. Divided by the requests served, it shows what each proxy costs
# per request, independent of how the 2 shared cores were split between the processes during the run.
TICK=$(getconf CLK_TCK)
cpu_ticks() { local t=0 p; for p in "$@"; do [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
target_pids() {
  case $1 in
    direct)  echo "$PID_emu" ;;
    nginx)   echo "$PID_nginx $(pgrep -P "$PID_nginx" | tr '\n' ' ')" ;;
    gateway) echo "${PID_gateway_auth:-$PID_gateway}" ;;
    baseline) echo "$PID_baseline" ;;
  esac
}
# Bytes the gateway serving TARGET has allocated so far (its sampler's last value), or nothing for nginx and the emulator.
alloc_file() {
  case $1 in
    gateway) if [[ -n ${PID_gateway_auth:-} ]]; then echo "$WORK/gateway-auth.alloc"; else echo "$WORK/gateway.alloc"; fi ;;
    baseline) echo "$WORK/baseline.alloc" ;;
  esac
}
alloc_now() { local f; f=$(alloc_file "$1"); [[ -n $f && -r $f ]] && cat "$f" || echo ""; }

# measure SCENARIO TARGET URL CONNS MODE [KEY]: warm-up run (discarded), then the measured run.
measure() {
  local scn=$1 tgt=$2 url=$3 c=$4 mode=$5 key=${6:-} threads=2 args=() out kv
  (( c == 1 )) && threads=1           # one connection cannot use two wrk threads
  [[ $mode == stream ]] && args+=(stream)
  [[ -n $key ]] && args+=("key=$key")
  log "$scn: $tgt (warm-up ${WARMUP}s, measure ${DURATION}s)"
  wrk -t"$threads" -c"$c" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "$url" -- "${args[@]}" >/dev/null
  local pids cpu0 cpu1 alloc0 alloc1
  pids=$(target_pids "$tgt")
  sleep 0.05   # the sampler writes every 20 ms: let it catch up with the warm-up
  alloc0=$(alloc_now "$tgt")
  cpu0=$(cpu_ticks $pids)
  out=$(wrk -t"$threads" -c"$c" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" -s "$HERE/chat.lua" "$url" -- "${args[@]}")
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

SCENARIOS=("non-stream c=1" "non-stream c=32" "non-stream c=64" "stream c=1" "stream c=32")
for scn in "${SCENARIOS[@]}"; do
  mode=${scn%% *}; c=${scn##*c=}
  # Targets interleaved per scenario, so slow drift on a noisy machine affects all three alike.
  for t in "${TARGETS[@]}"; do measure "$scn" "$t" "${URL[$t]}" "$c" "$mode"; done
done
MAIN_SCENARIOS=("${SCENARIOS[@]}")

# --- Streaming "no coalescing" check (before reading the peak RSS, so it counts too) -----------------
log "streaming check (emulator paced at 50 tokens/s)"
STREAM_CHECK_RC=0
STREAM_CHECK=$(python3 "$HERE/stream_check.py" --requests 5 --model bench-slow \
  "direct=http://127.0.0.1:$P_SLOW/v1/chat/completions" \
  "gateway=http://127.0.0.1:$P_GW/v1/chat/completions") || STREAM_CHECK_RC=$?

# --- Peak RSS of the gateway that served all of the above ------------------------------------------------
kill -0 "$PID_gateway" 2>/dev/null || die "gateway exited during the benchmark (see $WORK/gateway.log)"
RSS_PEAK_KB=$(awk '/^VmHWM/ {print $2}' "/proc/$PID_gateway/status")
kill "$PID_gateway"; wait "$PID_gateway" 2>/dev/null || true
[[ -n ${BASELINE_BIN:-} ]] && { kill "$PID_baseline"; wait "$PID_baseline" 2>/dev/null || true; }

# --- Auth on: a second gateway with master_key, non-stream c=32 ----------------------------------------------
# All three targets get the Authorization header (the emulator and nginx ignore it), re-measured side by side.
start gateway-auth env $(with_alloc gateway-auth) "${AGW[@]}" --config "$WORK/gateway-auth.yaml" --urls "http://127.0.0.1:$P_GW_AUTH"
wait_up gateway-auth "http://127.0.0.1:$P_GW_AUTH/health/ready"
URL_AUTH="http://127.0.0.1:$P_GW_AUTH/v1/chat/completions"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "$URL_AUTH" \
       -d '{"model":"bench-model","messages":[{"role":"user","content":"hello"}]}')
[[ $code == 401 ]] || die "auth gateway answered $code without a key (expected 401): auth is not on"
check_target gateway-auth "$URL_AUTH" "$MASTER_KEY"
prime "$URL_AUTH" "$MASTER_KEY"   # a fresh process again, so prime it like the first one
AUTH_SCN="non-stream c=32 (auth on)"
measure "$AUTH_SCN" direct  "${URL[direct]}" 32 non-stream "$MASTER_KEY"
measure "$AUTH_SCN" nginx   "${URL[nginx]}"  32 non-stream "$MASTER_KEY"
measure "$AUTH_SCN" gateway "$URL_AUTH"      32 non-stream "$MASTER_KEY"
SCENARIOS+=("$AUTH_SCN")

# --- Virtual key with limits and a budget (issue 4): auth lookup, rpm/tpm windows, budget check, pricing and a
# spend log per request (write-ahead file + batching writer into SQLite), on the same auth gateway.
VKEY=$(curl -sf -H "Authorization: Bearer $MASTER_KEY" -H 'Content-Type: application/json' "http://127.0.0.1:$P_GW_AUTH/key/generate" \
        -d '{"key_alias": "bench", "rpm_limit": 1000000000, "tpm_limit": 1000000000000, "max_budget": 1000000}' \
      | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])') || die "could not create the benchmark's virtual key"
check_target gateway-auth "$URL_AUTH" "$VKEY"
code=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $VKEY" -H 'Content-Type: application/json' "$URL_AUTH" \
       -d '{"model":"bench-model","messages":[{"role":"user","content":"hello"}]}' | grep -ci '^x-ratelimit-remaining-requests' || true)
[[ $code == 1 ]] || die "the virtual key's limits are not applied (no x-ratelimit headers)"
KEY_SCN="non-stream c=32 (virtual key: limits + budget + spend log)"
measure "$KEY_SCN" direct  "${URL[direct]}" 32 non-stream "$VKEY"
measure "$KEY_SCN" nginx   "${URL[nginx]}"  32 non-stream "$VKEY"
measure "$KEY_SCN" gateway "$URL_AUTH"      32 non-stream "$VKEY"
SCENARIOS+=("$KEY_SCN")
SPEND_LOGS=$(curl -sf -H "Authorization: Bearer $MASTER_KEY" "http://127.0.0.1:$P_GW_AUTH/v1/usage?key=$VKEY" | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])')
log "spend logs stored for the virtual key: $SPEND_LOGS"

# --- Report ---------------------------------------------------------------------------------------------
ms()  { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
num() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
INVALID=()
report() {
  echo "## Agentic Gateway benchmark"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')," \
       "wrk ${DURATION}s per cell after ${WARMUP}s warm-up, nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') worker_processes $NGINX_WORKERS." \
       "Latencies in ms; stream latency = time to the last byte."
  echo
  echo "| scenario | direct req/s | direct p50 | direct p99 | nginx req/s | nginx p50 | nginx p99 | gateway req/s | gateway p50 | gateway p99 | gateway/nginx req/s | gateway added p50 | gateway added p99 | errors d/n/g |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  local scn t row errs e
  for scn in "${SCENARIOS[@]}"; do
    row="| $scn"
    errs=()
    for t in direct nginx gateway; do
      row+=" | $(num "${R[$scn|$t|rps]}") | $(ms "${R[$scn|$t|p50_us]}") | $(ms "${R[$scn|$t|p99_us]}")"
      e=$(( ${R[$scn|$t|status_errors]} + ${R[$scn|$t|connect]} + ${R[$scn|$t|read]} + ${R[$scn|$t|write]} + ${R[$scn|$t|timeout]} ))
      errs+=("$e")
      (( e == 0 )) || INVALID+=("$scn / $t: HTTP status>=400 ${R[$scn|$t|status_errors]}, connect ${R[$scn|$t|connect]}, read ${R[$scn|$t|read]}, write ${R[$scn|$t|write]}, timeout ${R[$scn|$t|timeout]} (of ${R[$scn|$t|requests]} requests)")
    done
    row+=" | $(awk -v g="${R[$scn|gateway|rps]}" -v n="${R[$scn|nginx|rps]}" 'BEGIN { if (n > 0) printf "%.2f", g / n; else printf "n/a" }')"
    row+=" | $(awk -v g="${R[$scn|gateway|p50_us]}" -v d="${R[$scn|direct|p50_us]}" 'BEGIN { printf "%+.2f", (g - d) / 1000 }')"
    row+=" | $(awk -v g="${R[$scn|gateway|p99_us]}" -v d="${R[$scn|direct|p99_us]}" 'BEGIN { printf "%+.2f", (g - d) / 1000 }')"
    row+=" | ${errs[0]}/${errs[1]}/${errs[2]} |"
    echo "$row"
  done
  echo
  echo "CPU time per request (µs, user + system, of the serving process only; the emulator behind nginx and the"
  echo "gateway is not counted in their columns):"
  echo
  echo "| scenario | direct (emulator) | nginx | gateway | gateway/nginx |"
  echo "|---|---:|---:|---:|---:|"
  for scn in "${SCENARIOS[@]}"; do
    echo "| $scn | ${R[$scn|direct|cpu_us]} | ${R[$scn|nginx|cpu_us]} | ${R[$scn|gateway|cpu_us]} | $(awk -v g="${R[$scn|gateway|cpu_us]}" -v n="${R[$scn|nginx|cpu_us]}" 'BEGIN { if (n > 0) printf "%.1f", g / n; else printf "n/a" }') |"
  done
  echo
  echo "Allocations per request (KB, the gateway process's GC.GetTotalAllocatedBytes over the measured run):"
  echo
  echo "| scenario | gateway |"
  echo "|---|---:|"
  for scn in "${SCENARIOS[@]}"; do echo "| $scn | ${R[$scn|gateway|alloc_kb]} |"; done
  if [[ -n ${BASELINE_BIN:-} ]]; then
    echo
    echo "Against the baseline build ($BASELINE_BIN), measured in the same run, interleaved, same config (access log on):"
    echo
    echo "| scenario | baseline req/s | gateway req/s | req/s ratio | baseline CPU µs | gateway CPU µs | CPU ratio | baseline KB | gateway KB | alloc ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for scn in "${MAIN_SCENARIOS[@]}"; do
      e=$(( ${R[$scn|baseline|status_errors]} + ${R[$scn|baseline|connect]} + ${R[$scn|baseline|read]} + ${R[$scn|baseline|write]} + ${R[$scn|baseline|timeout]} ))
      (( e == 0 )) || INVALID+=("$scn / baseline: $e errors (of ${R[$scn|baseline|requests]} requests)")
      echo "| $scn | $(num "${R[$scn|baseline|rps]}") | $(num "${R[$scn|gateway|rps]}") | $(awk -v g="${R[$scn|gateway|rps]}" -v b="${R[$scn|baseline|rps]}" 'BEGIN { if (b > 0) printf "%.2f", g / b; else printf "n/a" }')" \
           "| ${R[$scn|baseline|cpu_us]} | ${R[$scn|gateway|cpu_us]} | $(awk -v g="${R[$scn|gateway|cpu_us]}" -v b="${R[$scn|baseline|cpu_us]}" 'BEGIN { if (b > 0) printf "%.2f", g / b; else printf "n/a" }')" \
           "| ${R[$scn|baseline|alloc_kb]} | ${R[$scn|gateway|alloc_kb]} | $(awk -v g="${R[$scn|gateway|alloc_kb]}" -v b="${R[$scn|baseline|alloc_kb]}" 'BEGIN { if (b > 0) printf "%.2f", g / b; else printf "n/a" }') |"
    done
  fi
  echo
  echo "Gateway memory: RSS $(awk -v k="$RSS_START_KB" 'BEGIN { printf "%.1f", k / 1024 }') MB after startup," \
       "peak RSS (VmHWM) $(awk -v k="$RSS_PEAK_KB" 'BEGIN { printf "%.1f", k / 1024 }') MB after all runs above except the last two rows (auth, virtual key)."
  echo
  if (( ${#INVALID[@]} )); then
    echo "**INVALID: wrk saw errors; the affected numbers do not measure successful requests:**"
    echo
    printf -- '- %s\n' "${INVALID[@]}"
  else
    echo "Errors: none (0 HTTP status >= 400, 0 socket errors in every cell)."
  fi
  echo
  echo "### Streaming check: 5 streams at 50 tokens/s (20 ms between chunks), direct vs through the gateway"
  echo
  echo "$STREAM_CHECK"
  (( STREAM_CHECK_RC == 0 )) || { echo; echo "**Streaming check FAILED (exit $STREAM_CHECK_RC).**"; }
}

mkdir -p "$RESULTS"
report >"$RESULTS/latest.md"   # not "| tee": report would run in a subshell and INVALID would not come back
cat "$RESULTS/latest.md"
cp "$RAW" "$RESULTS/latest-wrk.log"
log "written $RESULTS/latest.md (raw wrk output: $RESULTS/latest-wrk.log)"
(( ${#INVALID[@]} == 0 && STREAM_CHECK_RC == 0 )) || exit 1
