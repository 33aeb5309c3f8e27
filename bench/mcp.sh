#!/usr/bin/env bash
# MCP gateway benchmark (issue 17): what the gateway adds to a tools/call over calling the upstream MCP server
# directly, and what a tools/list fanned out over 10 upstreams costs (list cache warm and cold) against one direct
# tools/list. Upstreams are the tests' Node servers on the official TypeScript SDK, stateless (a full request per POST);
# the gateway is the published Release build in the default configuration (master key, access log on). Baselines are
# measured in the same run, interleaved round by round with the gateway. Prints a markdown report (also written to
# bench/results/mcp-latest.md, the driver's raw JSON to bench/results/mcp-latest.json). See bench/README.md.
#
#   bash bench/mcp.sh              # 5 rounds of 5 s per cell, about 5 minutes on 2 cores (plus the publish)
#   QUICK=1 bash bench/mcp.sh      # 2 rounds of 2 s, smoke test, about 2 minutes (plus the publish)
#   AGW_BIN=dir bash bench/mcp.sh  # an already published gateway (skips the publish)
#
# Other knobs: ROUNDS, SECONDS_PER_CELL, WARMUP and PRIME (seconds), CONCURRENCY (the higher concurrency of the call
# cells, default 16), KEEP=1 (keep the temp dir with configs and logs; also kept when the run fails).
# Exit codes: 0 all good; 1 setup failed or any request failed (HTTP status, JSON-RPC error, tool error, wrong answer).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RESULTS="$HERE/results"
NODE_DIR="$REPO/tests/AgenticGateway.Tests/Mcp/node"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

if [[ ${QUICK:-0} == 1 ]]; then
  ROUNDS=${ROUNDS:-2}; SECONDS_PER_CELL=${SECONDS_PER_CELL:-2}; WARMUP=${WARMUP:-1}; PRIME=${PRIME:-3}
else
  ROUNDS=${ROUNDS:-5}; SECONDS_PER_CELL=${SECONDS_PER_CELL:-5}; WARMUP=${WARMUP:-1}; PRIME=${PRIME:-5}
fi
CONCURRENCY=${CONCURRENCY:-16}
UPSTREAMS=10
MASTER_KEY=sk-master

for tool in node npm python3 curl; do command -v "$tool" >/dev/null || die "$tool not found"; done
if [[ ! -d $NODE_DIR/node_modules/@modelcontextprotocol/sdk ]]; then
  log "installing the test upstreams' packages (npm ci in $NODE_DIR)"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund >/dev/null) || die "npm ci failed in $NODE_DIR"
fi

bench_workdir agw-mcpbench

publish_gateway
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Upstreams: s0 .. s9, stateless (each POST builds the SDK's server and transport and answers one request) -------
declare -A UP_PORT UP_PID
for i in $(seq 0 $((UPSTREAMS - 1))); do
  node "$NODE_DIR/http-server.mjs" 0 --stateless --name "s$i" >"$WORK/s$i.log" 2>&1 &
  PIDS+=($!); UP_PID[s$i]=$!
done
for i in $(seq 0 $((UPSTREAMS - 1))); do
  for _ in $(seq 100); do grep -q '^LISTENING ' "$WORK/s$i.log" && break; kill -0 "${UP_PID[s$i]}" 2>/dev/null || break; sleep 0.1; done
  UP_PORT[s$i]=$(awk '/^LISTENING / {print $2; exit}' "$WORK/s$i.log")
  [[ -n ${UP_PORT[s$i]} ]] || { cat "$WORK/s$i.log" >&2; die "upstream s$i did not start"; }
done

# --- Gateways: the default configuration (master key, no logging section: level information, access log on) ---------
# gw-call: the one upstream s0 (tools/call). gw-list: all ten, list cache at its default ttl. gw-cold: all ten,
# mcp.list_ttl 0, so every tools/list asks every upstream.
read -r P_CALL P_LIST P_COLD < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks: s.close()')
write_config() {  # FILE COUNT [extra lines under mcp:]
  {
    echo "master_key: $MASTER_KEY"
    # The configuration needs a model; this one is never called.
    echo "models: [{name: m, provider: mock}]"
    echo "mcp:"
    [[ -z ${3:-} ]] || echo "$3"
    echo "  servers:"
    for i in $(seq 0 $(($2 - 1))); do
      echo "    s$i: {url: \"http://127.0.0.1:${UP_PORT[s$i]}/mcp\", transport: http}"
    done
  } >"$1"
}
write_config "$WORK/gw-call.yaml" 1
write_config "$WORK/gw-list.yaml" "$UPSTREAMS"
write_config "$WORK/gw-cold.yaml" "$UPSTREAMS" "  list_ttl: 0s"
declare -A GW_PORT=([gw-call]=$P_CALL [gw-list]=$P_LIST [gw-cold]=$P_COLD) GW_PID
for g in gw-call gw-list gw-cold; do
  AGW_DATA_DIR="$WORK/data-$g" "${AGW[@]}" --config "$WORK/$g.yaml" --urls "http://127.0.0.1:${GW_PORT[$g]}" >"$WORK/$g.log" 2>&1 &
  PIDS+=($!); GW_PID[$g]=$!
done
for g in gw-call gw-list gw-cold; do
  for _ in $(seq 150); do
    curl -sf -o /dev/null "http://127.0.0.1:${GW_PORT[$g]}/health/ready" && break
    kill -0 "${GW_PID[$g]}" 2>/dev/null || break
    sleep 0.2
  done
  curl -sf -o /dev/null "http://127.0.0.1:${GW_PORT[$g]}/health/ready" || { tail -n 30 "$WORK/$g.log" >&2; die "$g did not come up"; }
done

# The caller: a virtual key without restrictions, as an agent would hold (authenticated, permission-checked per tool).
new_key() {  # PORT: a new virtual key on that gateway
  curl -sf -H "Authorization: Bearer $MASTER_KEY" -H 'Content-Type: application/json' "http://127.0.0.1:$1/key/generate" \
    -d '{"key_alias": "mcp-bench"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'
}
KEY=$(new_key "$P_CALL") && LIST_KEY=$(new_key "$P_LIST") && COLD_KEY=$(new_key "$P_COLD") || die "could not create the virtual keys"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "http://127.0.0.1:$P_CALL/mcp" \
       -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
[[ $code == 401 ]] || die "gw-call answered $code without a key (expected 401): auth is not on"

# --- The cells ------------------------------------------------------------------------------------------------------
# Through the gateway: the 2026-07-28 stateless protocol, a single POST with the headers the spec requires
# (MCP-Protocol-Version, Mcp-Method, Mcp-Name for tools/call) and params._meta's protocol version, client info and
# capabilities. Directly: the upstream's own stateless protocol (TypeScript SDK 1.32.2 speaks up to 2025-11-25, not
# 2026-07-28): a POST with MCP-Protocol-Version 2025-11-25 and no session, which the SDK's stateless transport serves.
python3 - "$WORK/spec.json" <<PY
import json, sys
up = "http://127.0.0.1:${UP_PORT[s0]}/mcp"
meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "agentic-gateway-bench", "version": "1.0.0"},
        "io.modelcontextprotocol/clientCapabilities": {}}
def modern(method, name=None):
    h = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
    if name: h["Mcp-Name"] = name
    return h
direct = {"MCP-Protocol-Version": "2025-11-25"}
def auth(key, h): return {**h, "Authorization": "Bearer " + key}
up_pid, call_pid = ${UP_PID[s0]}, ${GW_PID[gw-call]}
cells = []
for c in (1, ${CONCURRENCY}):
    cells.append(dict(id=f"call c={c} direct", target="direct", url=up, headers=direct, method="tools/call", tool="echo",
                      expect={"echo": "s0: "}, c=c, pids={"upstream": up_pid}))
    cells.append(dict(id=f"call c={c} gateway", target="gateway", url="http://127.0.0.1:$P_CALL/mcp",
                      headers=auth("$KEY", modern("tools/call", "s0-echo")), meta=meta, method="tools/call", tool="s0-echo",
                      expect={"echo": "s0: "}, c=c, pids={"upstream": up_pid, "gateway": call_pid}))
# tools/list: one upstream directly (its 7 tools), and the gateway's federation of ten (70 tools), warm and cold.
cells.append(dict(id="list direct", target="direct", url=up, headers=direct, method="tools/list",
                  expect={"minTools": 7, "hasTool": "echo"}, c=1, pids={"upstream": up_pid}))
cells.append(dict(id="list gateway warm", target="gateway warm", url="http://127.0.0.1:$P_LIST/mcp",
                  headers=auth("$LIST_KEY", modern("tools/list")), meta=meta, method="tools/list",
                  expect={"minTools": 7 * $UPSTREAMS, "hasTool": "s$((UPSTREAMS - 1))-echo"}, c=1, pids={"gateway": ${GW_PID[gw-list]}}))
cells.append(dict(id="list gateway cold", target="gateway cold", url="http://127.0.0.1:$P_COLD/mcp",
                  headers=auth("$COLD_KEY", modern("tools/list")), meta=meta, method="tools/list",
                  expect={"minTools": 7 * $UPSTREAMS, "hasTool": "s$((UPSTREAMS - 1))-echo"}, c=1, pids={"gateway": ${GW_PID[gw-cold]}}))
json.dump(dict(rounds=$ROUNDS, seconds=$SECONDS_PER_CELL, warmup=$WARMUP, prime=$PRIME, clkTck=$(getconf CLK_TCK), cells=cells),
          open(sys.argv[1], "w"), indent=1)
PY

log "measuring: $ROUNDS rounds of ${SECONDS_PER_CELL}s per cell (after ${WARMUP}s warm-up each, ${PRIME}s priming per cell first)"
DRIVER_RC=0
node "$HERE/mcp_bench.mjs" "$WORK/spec.json" >"$WORK/result.json" || DRIVER_RC=$?
[[ -s $WORK/result.json ]] || die "the driver produced no result (exit $DRIVER_RC)"
for g in gw-call gw-list gw-cold; do kill -0 "${GW_PID[$g]}" 2>/dev/null || die "$g exited during the run (see $WORK/$g.log)"; done
ACCESS_LINES=$(grep -c '/mcp' "$WORK/gw-call.log" || true)

mkdir -p "$RESULTS"
python3 "$HERE/mcp_report.py" "$WORK/result.json" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "$LOAD_AT_START" "$ACCESS_LINES" "$CONCURRENCY" "$UPSTREAMS" | tee "$RESULTS/mcp-latest.md"
cp "$WORK/result.json" "$RESULTS/mcp-latest.json"
log "written $RESULTS/mcp-latest.md (raw: $RESULTS/mcp-latest.json)"
(( DRIVER_RC == 0 )) || { log "FAILED: requests failed (see the report)"; exit 1; }
