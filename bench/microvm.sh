#!/usr/bin/env bash
# MicroVM sandbox benchmark (QEMU driver): cold boot to agent-ready, snapshot restore to agent-ready, and the execute
# round trip through the guest agent, through a published gateway. Baselines from the same run: a bare kernel boot
# to init with the same kernel and QEMU (the floor under any boot), and the same execute on a bubblewrap sandbox.
# Firecracker's design targets (KVM) are printed beside the figures. Prints a markdown table (also written to
# bench/results/microvm-latest.md). Needs root (the image build runs debootstrap). See bench/README.md.
#
#   bash bench/microvm.sh            # 5 cold boots, 10 restores
#   QUICK=1 bash bench/microvm.sh    # 2 cold boots, 3 restores
#   AGW_BIN=dir bash bench/microvm.sh  # use an already published gateway
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RESULTS="$HERE/results"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
for tool in qemu-system-x86_64 python3 curl; do command -v "$tool" >/dev/null || die "$tool not found (bash scripts/test.sh installs what is needed)"; done

COLD=5; RESTORES=10; BARE=5
[[ ${QUICK:-0} == 1 ]] && { COLD=2; RESTORES=3; BARE=2; }
WORK=$(mktemp -d /tmp/agw-vmbench.XXXXXX)
PID=""
stop_gateway() { [[ -n $PID ]] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }; }
cleanup() {
  local rc=$?
  stop_gateway
  if [[ $rc -ne 0 || ${KEEP:-0} == 1 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

publish_gateway
if [[ ! -x $(dirname "${AGW[-1]}")/guest-agent/agw-agent && -z ${AGW_GUEST_AGENT:-} ]]; then
  log "publishing the guest agent to $WORK/guest-agent"
  dotnet publish "$REPO/src/AgenticGateway.GuestAgent" -c Release -o "$WORK/guest-agent" --artifacts-path "$WORK/artifacts-agent" \
    -nologo -v quiet >"$WORK/publish-agent.log" 2>&1 || { tail -n 40 "$WORK/publish-agent.log" >&2; die "agent publish failed"; }
  export AGW_GUEST_AGENT=$WORK/guest-agent/agw-agent
fi
log "building (or finding cached) the guest image"
IMAGE=$("${AGW[@]}" images build | tail -n 1)
[[ -f $IMAGE/vmlinuz ]] || die "image build failed"

# run_gateway NAME SANDBOXES-YAML: starts a gateway, runs the client in MODE, stops it.
run_gateway() {
  local mode=$1 sandboxes=$2 n=$3 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$WORK/$mode.yaml" <<YAML
master_key: sk-bench
models:
  - {name: m, provider: mock}
logging: {level: debug, format: text}   # the drivers log "microVM ready from boot|snapshot in N ms" at debug
storage: {data_dir: $WORK/data-$mode}
sandboxes: {$sandboxes, pools: {}, quota: {max_concurrent: 1000}}
YAML
  "${AGW[@]}" --config "$WORK/$mode.yaml" --urls "http://127.0.0.1:$port" >"$WORK/$mode.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  python3 "$HERE/microvm_bench.py" "$mode" "http://127.0.0.1:$port" sk-bench "$n" >"$WORK/$mode.json" || { tail -n 30 "$WORK/$mode.log" >&2; die "$mode failed"; }
  stop_gateway
}

log "bare kernel boot ($BARE)"
python3 "$HERE/microvm_bench.py" bare "$IMAGE" "$BARE" >"$WORK/bare.json"
log "QEMU cold boots ($COLD)"
run_gateway cold "driver: qemu, qemu: {image_dir: $IMAGE, snapshots: false}" "$COLD"
log "QEMU snapshot restores ($RESTORES)"
run_gateway snapshot "driver: qemu, qemu: {image_dir: $IMAGE, snapshots: true}" "$RESTORES"
log "bubblewrap baseline"
run_gateway bubblewrap "driver: bubblewrap" 3

mkdir -p "$RESULTS"
python3 - "$WORK" "$IMAGE" >"$RESULTS/microvm-latest.md" <<'PY'
import json, os, statistics, sys
work, image = sys.argv[1], sys.argv[2]
import re
load = lambda m: json.load(open(os.path.join(work, m + ".json")))
def ready(mode, source):
    # The driver's own figure: VMM start to agent-ready (no interpreter context yet), from the gateway's debug log.
    text = open(os.path.join(work, mode + ".log"), errors="replace").read()
    return [float(x) for x in re.findall(r"microVM ready from " + source + r" in ([0-9.]+) ms", text)]
bare, cold, snap, bw = load("bare"), load("cold"), load("snapshot"), load("bubblewrap")
accel = "KVM" if os.path.exists("/dev/kvm") else "TCG (software emulation, no KVM)"
med = lambda s: statistics.median(s)
def row(name, samples, target="", ratio=""):
    return f"| {name} | {len(samples)} | {med(samples):.1f} | {min(samples):.1f} | {max(samples):.1f} | {ratio} | {target} |"
b = med(next(iter(bare.values())))
boot_ready, restore_ready = ready("cold", "boot"), ready("snapshot", "snapshot")
c = med(boot_ready)
r = med(restore_ready)
e = med(snap["execute round trip (`1 + 1`, through the agent)"])
ebw = med(bw["execute round trip (`1 + 1`, through the agent)"])
print(f"QEMU microvm, {accel}, image {open(os.path.join(image, 'version')).readline().strip()} ({os.cpu_count()} cores)\n")
print("| measurement | n | median ms | min | max | ratio | Firecracker target (KVM) |")
print("|---|---|---|---|---|---|---|")
print(row("baseline: bare kernel boot to init", next(iter(bare.values())), "<= 125 ms to init", "1.0 (bare)"))
print(row("cold boot to agent-ready (QEMU start to the agent's ready line)", boot_ready, "< 200 ms (seed doc)", f"{c / b:.1f}x bare boot"))
print(row("cold create through the API (boot + Python context)", cold["create to agent-ready"]))
print(row("template (first create: boot, snapshot, restore)", snap["template: first create (boot + snapshot + restore)"]))
print(row("snapshot restore to agent-ready (QEMU start, state load, cont, ping, reseed)", restore_ready, "tens of ms (< 50 ms warm start)", f"{r / c:.2f}x cold boot"))
print(row("create from snapshot through the API (restore + Python context)", snap["restore from snapshot to agent-ready"]))
print(row("execute round trip in the VM", snap["execute round trip (`1 + 1`, through the agent)"], "", f"{e / ebw:.1f}x bubblewrap"))
print(row("baseline: execute round trip on bubblewrap", bw["execute round trip (`1 + 1`, through the agent)"], "", "1.0"))
PY
cat "$RESULTS/microvm-latest.md"
