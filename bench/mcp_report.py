"""Markdown report of bench/mcp.sh from the driver's JSON (bench/mcp_bench.mjs): python3 mcp_report.py RESULT.json
COMMIT LOAD ACCESS_LINES CONCURRENCY UPSTREAMS. Also re-renders a kept bench/results/mcp-latest.json."""
import datetime, json, os, statistics, sys

result_file, commit, load, access, conc, upstreams = sys.argv[1:]


def nan_for_null(x):
    """The driver writes NaN (a cell without one successful request) as null; arithmetic on it must not fail the report."""
    if isinstance(x, dict): return {k: nan_for_null(v) for k, v in x.items()}
    if isinstance(x, list): return [nan_for_null(v) for v in x]
    return float("nan") if x is None else x


r = nan_for_null(json.load(open(result_file)))
cells = r["cells"]
f = lambda x: f"{x:.2f}"


def per_round_added(c):
    d, g = cells[f"call c={c} direct"], cells[f"call c={c} gateway"]
    return [gr["p50"] - dr["p50"] for dr, gr in zip(d["rounds"], g["rounds"])]


print("## MCP gateway benchmark (issue 17)")
print()
print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, {os.cpu_count()} cores, commit {commit}; "
      f"{r['rounds']} rounds of {r['seconds']} s per cell after {r['warmup']} s warm-up, interleaved ({r['prime']} s priming "
      f"per cell first). Upstreams: the tests' Node server (TypeScript SDK 1.32.2), stateless. Gateway: the default "
      f"configuration (access log on: {access} /mcp lines logged by the call gateway), a virtual key. Through the gateway: "
      f"2026-07-28 stateless POSTs; directly: the upstream's own 2025-11-25 stateless POSTs. "
      f"Load average before the run: {load} (1, 5, 15 min); other work on the machine moves every figure.")
print()
print("tools/call of `echo` (a fresh text per call), latency in ms. *added p50*: the gateway's p50 minus direct's over all "
      "rounds; *median of rounds*: the median of each round's own difference (robust to a round that another job on the "
      "machine slowed):")
print()
print("| concurrency | direct p50 / p90 / p99 | gateway p50 / p90 / p99 | added p50 | added p50, median of rounds (each round) | "
      "ratio p50 | direct req/s | gateway req/s | gateway CPU µs/call | gateway context switches/call | upstream CPU µs/call (direct / via gateway) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in (1, int(conc)):
    d, g = cells[f"call c={c} direct"], cells[f"call c={c} gateway"]
    rounds = per_round_added(c)
    print(f"| {c} | {f(d['p50'])} / {f(d['p90'])} / {f(d['p99'])} | {f(g['p50'])} / {f(g['p90'])} / {f(g['p99'])} | "
          f"{g['p50'] - d['p50']:+.2f} | {statistics.median(rounds):+.2f} ({', '.join(f'{x:+.2f}' for x in rounds)}) | "
          f"{g['p50'] / d['p50']:.2f} | {d['rps']:.0f} | {g['rps']:.0f} | {g['cpuUsPerRequest'].get('gateway', float('nan')):.0f} | "
          f"{g['switchesPerRequest'].get('gateway', float('nan')):.0f} | "
          f"{d['cpuUsPerRequest'].get('upstream', float('nan')):.0f} / {g['cpuUsPerRequest'].get('upstream', float('nan')):.0f} |")
print()
print(f"tools/list at concurrency 1, latency in ms: one upstream directly against the gateway's fan-out over {upstreams} "
      f"upstreams (7 tools each), list cache warm (default ttl 30 s) and cold (mcp.list_ttl: 0s, every list asks every upstream):")
print()
print("| target | tools | p50 | p90 | p99 | ratio p50 to direct | req/s | gateway CPU µs/list |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
d = cells["list direct"]
for key in ("list direct", "list gateway warm", "list gateway cold"):
    x = cells[key]
    cpu = x["cpuUsPerRequest"].get("gateway")
    print(f"| {x['target']} | {x.get('tools', 'n/a')} | {f(x['p50'])} | {f(x['p90'])} | {f(x['p99'])} | {x['p50'] / d['p50']:.2f} | "
          f"{x['rps']:.0f} | {'' if cpu is None else f'{cpu:.0f}'} |")
print()
call1 = statistics.median(per_round_added(1))
print(f"Issue 17's target, added tools/call latency at p50 ≤ 1 ms (c=1, median of rounds): {call1:+.2f} ms, "
      f"{'met' if call1 <= 1 else 'NOT met'} (reported, not asserted).")
print()
if r["errors"]:
    print(f"**INVALID: {r['errors']} requests failed:**")
    print()
    for key, x in cells.items():
        if x["errors"]:
            print(f"- {key}: {x['errors']} errors, e.g. " + "; ".join(x["errorMessages"][:3]))
else:
    print("Errors: none (every answer was HTTP 200 with the expected JSON-RPC result).")
