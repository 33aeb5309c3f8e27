#!/usr/bin/env bash
# Routing policy benchmark (issue 21): what 20 Cedar routing policies add to a request end to end. Gateways with the
# same model group of 3 deployments on one emulator, (a) without routing_policies and (b) with the 20 policies of the
# microbenchmark (bench/AgenticGateway.Benchmarks/CedarBenchmarks.cs, copied out of it at run time), each with the
# access log on (the default) and off (logging.level: warning); interleaved rounds of sequential non-streaming chat
# requests with a virtual key whose budget makes the budget policy bind. Reports p50/p99 per target, the latency and
# CPU the policies add (b - a), and ratios against the emulator answered directly and against (a), all from one run.
# Prints a markdown report (also in bench/results/policies-latest.md; raw figures in bench/results/policies-latest.json).
#
#   bash bench/policies.sh              # 5 rounds x 2000 requests per target
#   QUICK=1 bash bench/policies.sh      # 5 rounds x 500, under a minute (plus the publish)
#   AGW_BIN=dir bash bench/policies.sh  # an already published gateway (skips the publish)
#
# Knobs: ROUNDS, REQUESTS, SAMPLE_RATE (decision_sample_rate of (b); default: the gateway's, 0.1), KEEP=1 (keep the temp dir with configs, policies and logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RESULTS="$HERE/results"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

MASTER_KEY=sk-policies-bench-master
for tool in python3 curl; do command -v "$tool" >/dev/null || die "$tool not found"; done

bench_workdir agw-policybench

# The very policies the microbenchmark evaluates (its raw string literal), so both measure the same set.
python3 - "$HERE/AgenticGateway.Benchmarks/CedarBenchmarks.cs" "$WORK/routing.cedar" <<'PY'
import re, sys, textwrap
src = open(sys.argv[1]).read()
m = re.search(r'Policies = """\n(.*?)\n\s*""";', src, re.S)
if not m: sys.exit("no Policies literal in " + sys.argv[1])
text = textwrap.dedent(m.group(1))
if text.count("permit (") + text.count("forbid (") != 20: sys.exit("expected 20 policies")
open(sys.argv[2], "w").write(text + "\n")
PY

publish_gateway
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P_EMU=$(free_port)
declare -A PORT
for g in a-on a-off b-on b-off; do PORT[$g]=$(free_port); done

"${AGW[@]}" mock --urls "http://127.0.0.1:$P_EMU" >"$WORK/emulator.log" 2>&1 &
PIDS+=($!)

# One group "smart" of 3 deployments on the emulator, all OpenAI-compatible wires so that whichever one serves a
# request costs the same and (b - a) is the policies alone: with the key's budget of 5 (cost_budget_remaining < 10)
# the first policy prefers the vllm deployment; "old-models" forbids the *-0314 one; the SLA, error-rate, busy,
# cooldown and window policies read live attributes of each deployment; the others are evaluated and not satisfied.
write_config() {  # FILE [extra top-level yaml]
  cat >"$1" <<YAML
master_key: $MASTER_KEY
models:
  - name: smart
    id: gpt-4o-openai
    provider: openai
    model: gpt-4o
    api_base: http://127.0.0.1:$P_EMU/v1
    api_key: sk-emulator
    input_cost_per_token: 0.0000025
    output_cost_per_token: 0.00001
    max_input_tokens: 128000
  - name: smart
    id: gpt-4-legacy
    provider: openai
    model: gpt-4-0314
    api_base: http://127.0.0.1:$P_EMU/v1
    api_key: sk-emulator
    input_cost_per_token: 0.000001
    output_cost_per_token: 0.000002
    max_input_tokens: 8192
  - name: smart
    id: llama-vllm
    provider: vllm
    model: llama-3.3-70b
    api_base: http://127.0.0.1:$P_EMU/v1
    api_key: sk-emulator
    input_cost_per_token: 0.0000002
    output_cost_per_token: 0.0000006
    max_input_tokens: 128000
${2:-}
YAML
}
POLICIES="routing_policies:
  file: $WORK/routing.cedar${SAMPLE_RATE:+
  decision_sample_rate: $SAMPLE_RATE}"
QUIET="logging:
  level: warning"
write_config "$WORK/gw-a-on.yaml"
write_config "$WORK/gw-a-off.yaml" "$QUIET"
write_config "$WORK/gw-b-on.yaml" "$POLICIES"
write_config "$WORK/gw-b-off.yaml" "$POLICIES
$QUIET"
declare -A GWPID
for g in a-on a-off b-on b-off; do
  AGW_DATA_DIR="$WORK/data-$g" "${AGW[@]}" --config "$WORK/gw-$g.yaml" --urls "http://127.0.0.1:${PORT[$g]}" >"$WORK/gw-$g.log" 2>&1 &
  PIDS+=($!); GWPID[$g]=$!
done
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$P_EMU/v1/models" && break; sleep 0.2; done
TARGETS=()
for g in a-on a-off b-on b-off; do
  url="http://127.0.0.1:${PORT[$g]}"
  for _ in $(seq 1 150); do curl -sf -o /dev/null "$url/health/ready" && break; sleep 0.2; done
  curl -sf -o /dev/null "$url/health/ready" || { tail -n 30 "$WORK/gw-$g.log" >&2; die "gateway $g did not come up"; }
  # A virtual key with a budget of 5: cost_budget_remaining exists (the master key has no budget) and is below 10.
  key=$(curl -sf -H "Authorization: Bearer $MASTER_KEY" -H 'Content-Type: application/json' "$url/key/generate" \
          -d '{"key_alias": "bench-policies", "max_budget": 5}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])') \
    || die "could not create $g's virtual key"
  TARGETS+=("$g=$url=$key=${GWPID[$g]}")
done

mkdir -p "$RESULTS"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
python3 "$HERE/policies_bench.py" "http://127.0.0.1:$P_EMU" "$RESULTS/policies-latest.json" "${TARGETS[@]}" | tee "$RESULTS/policies-latest.md"
echo "
Machine: $(nproc) cores, load at start $LOAD_AT_START; $(date -u +%Y-%m-%dT%H:%MZ)." | tee -a "$RESULTS/policies-latest.md"
