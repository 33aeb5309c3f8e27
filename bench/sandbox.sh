#!/usr/bin/env bash
# Sandbox benchmark: cold create, warm acquire, execute round trip, 1 MiB file write/read, and creates per second,
# through a published gateway with real bubblewrap sandboxes. Baselines measured in the same run: `bwrap true` for a
# namespace start, and a bare persistent python3 pipe round trip for execute. Prints a markdown table (also written
# to bench/results/sandbox-latest.md). See bench/README.md.
#
#   bash bench/sandbox.sh            # default iteration counts
#   QUICK=1 bash bench/sandbox.sh    # fewer iterations, smoke test
#   AGW_BIN=dir bash bench/sandbox.sh  # use an already published gateway
#   BASELINE_BIN=dir bash bench/sandbox.sh  # also measure another build (e.g. the previous commit's), in the same run:
#                                  # baseline, this build, this build, baseline (so drift on a shared machine cancels),
#                                  # then a table of medians and this build / baseline ratios
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RESULTS="$HERE/results"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

command -v bwrap >/dev/null || { log "installing bubblewrap"; apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap; }
for tool in bwrap python3 curl; do command -v "$tool" >/dev/null || die "$tool not found"; done

WORK=$(mktemp -d /tmp/agw-sbench.XXXXXX)
PID=""
cleanup() {
  local rc=$?
  [[ -n $PID ]] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  if [[ $rc -ne 0 || ${KEEP:-0} == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

publish_gateway

# bench_one NAME CMD...: start the gateway CMD with its own data directory, run the client against it, stop it.
bench_one() {
  local name=$1; shift
  local port dir=$WORK/$name
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/config.yaml" <<YAML
master_key: sk-bench
models:
  - {name: m, provider: mock}
logging: {level: warning}
storage: {data_dir: $dir/data}
sandboxes:
  pools:
    python: {min_ready: 4, max_total: 200}
  quota: {max_concurrent: 1000}
YAML
  "$@" --config "$dir/config.yaml" --urls "http://127.0.0.1:$port" >"$dir/gateway.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  curl -fs "http://127.0.0.1:$port/health" >/dev/null || { tail -n 30 "$dir/gateway.log" >&2; die "$name did not start"; }
  log "measuring $name"
  SANDBOX_BENCH_JSON="$dir/result.json" SANDBOX_BENCH_PID=$PID python3 "$HERE/sandbox_bench.py" "http://127.0.0.1:$port" sk-bench "${QUICK:-0}" >"$dir/table.md"
  kill "$PID"; wait "$PID" 2>/dev/null || true
  PID=""
}

mkdir -p "$RESULTS"
if [[ -z ${BASELINE_BIN:-} ]]; then
  bench_one gateway "${AGW[@]}"
  tee "$RESULTS/sandbox-latest.md" <"$WORK/gateway/table.md"
  exit 0
fi
if [[ -x $BASELINE_BIN/AgenticGateway ]]; then BASE=("$BASELINE_BIN/AgenticGateway"); else BASE=(dotnet "$BASELINE_BIN/AgenticGateway.dll"); fi
bench_one baseline-1 "${BASE[@]}"
bench_one gateway-1 "${AGW[@]}"
bench_one gateway-2 "${AGW[@]}"
bench_one baseline-2 "${BASE[@]}"
python3 - "$WORK" "$BASELINE_BIN" <<'PY' | tee "$RESULTS/sandbox-latest.md"
import json, sys
work, baseline = sys.argv[1], sys.argv[2]
runs = {name: json.load(open(f"{work}/{name}/result.json")) for name in ("baseline-1", "gateway-1", "gateway-2", "baseline-2")}
print(f"Sandboxes: this build against {baseline}, measured in one run (baseline, this, this, baseline); medians of each")
print("run's p50 in ms, averaged over its two runs (the create rate per second). Ratio = this build / baseline.")
print()
print("| measurement | baseline | this build | ratio |")
print("|---|---:|---:|---:|")
for row in runs["gateway-1"]:
    b = (runs["baseline-1"][row] + runs["baseline-2"][row]) / 2
    g = (runs["gateway-1"][row] + runs["gateway-2"][row]) / 2
    print(f"| {row} | {b:.2f} | {g:.2f} | {g / b:.2f} |")
PY
cat "$WORK/gateway-1/table.md"
