#!/usr/bin/env bash
# Sandbox benchmark: cold create, warm acquire, execute round trip, 1 MiB file write/read, and creates per second,
# through a published gateway with real bubblewrap sandboxes. Baselines measured in the same run: `bwrap true` for a
# namespace start, and a bare persistent python3 pipe round trip for execute. Prints a markdown table (also written
# to bench/results/sandbox-latest.md). See bench/README.md.
#
#   bash bench/sandbox.sh            # default iteration counts
#   QUICK=1 bash bench/sandbox.sh    # fewer iterations, smoke test
#   AGW_BIN=dir bash bench/sandbox.sh  # use an already published gateway
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

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/config.yaml" <<YAML
master_key: sk-bench
models:
  - {name: m, provider: mock}
logging: {level: warning}
storage: {data_dir: $WORK/data}
sandboxes:
  pools:
    python: {min_ready: 4, max_total: 200}
  quota: {max_concurrent: 1000}
YAML
"${AGW[@]}" --config "$WORK/config.yaml" --urls "http://127.0.0.1:$PORT" >"$WORK/gateway.log" 2>&1 &
PID=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/health" >/dev/null || { tail -n 30 "$WORK/gateway.log" >&2; die "gateway did not start"; }

mkdir -p "$RESULTS"
python3 "$HERE/sandbox_bench.py" "http://127.0.0.1:$PORT" sk-bench "${QUICK:-0}" | tee "$RESULTS/sandbox-latest.md"
