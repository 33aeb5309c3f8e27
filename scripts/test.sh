#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, builds once, runs every test.
# Prints a closing line "N passed, N failed, N skipped" and exits non-zero on any failure.
#   --fast   only the unit and functional tests (Category=unit|functional, see tests/README.md): no servers, sandboxes,
#            VMs or browsers, so only python3 (for the closing line) and gcc, libc6-dev (the guest agent's Native AOT
#            link, part of the build) are installed.
# Further arguments go to dotnet test.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=0
if [ "${1-}" = "--fast" ]; then fast=1; shift; fi

# System packages the tests use, installed only when missing so repeated runs stay fast:
#   prometheus    for promtool, which checks the /metrics exposition
#   redis-server  for the private Redis servers the integration tests start (see tests/*/Support/RealServers.cs)
#   postgresql    for initdb and postgres, which the integration tests run as a private cluster (its own service is not used)
#   python3       prints the closing summary line from the test results, and runs Python sandboxes
#   bubblewrap    the sandbox driver; nodejs for Node sandboxes; procps (ps, pkill) used inside sandboxes;
#   python3-matplotlib  for the test of PNG results from matplotlib figures
#   chromium      the headless browser the admin UI tests drive through Playwright (it cannot download its own)
#   qemu-system-x86, busybox-static  the qemu sandbox driver's VMs and the busybox of the guest image's initramfs
#   debootstrap, e2fsprogs, xz-utils  the guest image's root filesystem (debootstrap from deb.debian.org, mke2fs -d)
#                 and its uncompressed vmlinux (the image builder also runs apt-get download and dpkg-deb)
#   gcc, libc6-dev  the native link of the guest agent, which the build publishes Native AOT (zlib is in the runtime pack)
#   pebble        Let's Encrypt's ACME test server and pebble-challtestsrv (its DNS), which the edge's ACME tests run privately
packages=(prometheus redis-server postgresql python3 bubblewrap nodejs procps python3-matplotlib chromium qemu-system-x86 busybox-static
          debootstrap e2fsprogs xz-utils gcc libc6-dev pebble)
filter=()
if [ "$fast" -eq 1 ]; then
  packages=(python3 gcc libc6-dev)
  filter=(--filter "Category=unit|Category=functional")
fi
need=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "missing packages (run as root to install): ${need[*]}" >&2
    exit 1
  fi
fi

# The Node projects of the tests, pinned by their package-lock.json: the MCP tests' upstreams and clients (the
# TypeScript MCP SDK, the MCP Inspector CLI) and the Responses API clients (openai, the AI SDK, LangChain).
# npm ci writes node_modules/.package-lock.json last, so it is missing or older after a change.
for node_project in tests/AgenticGateway.Tests/Mcp/node tests/AgenticGateway.Tests/Clients/node tests/AgenticGateway.Tests/E2b/node; do
  if [ "$fast" -eq 0 ] && { [ ! -f "$node_project/node_modules/.package-lock.json" ] || [ "$node_project/package-lock.json" -nt "$node_project/node_modules/.package-lock.json" ]; }; then
    npm ci --prefix "$node_project" --no-audit --no-fund --loglevel=error
  fi
done

# The QEMU image builder downloads Debian's kernel package with apt-get download: it needs the package lists.
if [ "$fast" -eq 0 ] && [ "$(id -u)" -eq 0 ] && ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then apt-get update -qq; fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
results="$(mktemp -d)"
dotnet build AgenticGateway.slnx -c Release -nologo -v quiet
set +e
dotnet test AgenticGateway.slnx -c Release --no-build --nologo \
  --logger "trx;LogFileName=results.trx" --results-directory "$results" "${filter[@]}" "$@"
status=$?
set -e

# One plain closing line that any CI reader understands.
python3 - "$results" <<'PY' || true
import sys, glob, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/**/*.trx", recursive=True):
    c = ET.parse(f).getroot().find("t:ResultSummary/t:Counters", ns)
    if c is None: continue
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    # A skipped test is counted in total but not executed (trx's notExecuted stays 0 for xunit skips).
    skipped += int(c.get("total", 0)) - int(c.get("executed", 0)) + int(c.get("notExecuted", 0))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
