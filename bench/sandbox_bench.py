"""Sandbox latency benchmark client (standard library only). Run by bench/sandbox.sh; prints a markdown table."""
import http.client, json, os, statistics, subprocess, sys, time, urllib.parse

from benchlib import timed

base, key, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
url = urllib.parse.urlparse(base)
N = 10 if quick else 1
conn = http.client.HTTPConnection(url.hostname, url.port)
HEAD = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}


def call(method, path, body=None, raw=None, expect=(200, 201)):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=HEAD)
    r = conn.getresponse()
    payload = r.read()
    if r.status not in expect:
        raise SystemExit(f"{method} {path}: {r.status} {payload[:300]!r}")
    return payload


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def metric(name):
    conn.request("GET", "/metrics", headers=HEAD)
    text = conn.getresponse().read().decode()
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


rows = []

# CPU, which a busy shared machine inflates far less than wall time: the gateway's own (utime + stime, clock ticks) and
# the processes of a sandbox (every thread's run time from schedstat, ns), found as the gateway's child processes.
GATEWAY = int(os.environ.get("SANDBOX_BENCH_PID", "0"))
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def children(pid):
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def tree_cpu_ms(pid):
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except OSError:
        pass
    return total / 1e6 + sum(tree_cpu_ms(c) for c in children(pid))


def gateway_cpu_ms():
    with open(f"/proc/{GATEWAY}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_MS

# Baselines, same machine, same run.
bwrap = ["bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
         "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent", "/bin/true"]
rows.append(("baseline: `bwrap ... true` (namespace start)", timed(lambda: subprocess.run(bwrap, check=True), 40 // N + 5)))
kernel = subprocess.Popen(["python3", "-u", "-c", "import sys\ng={}\nfor line in sys.stdin:\n    exec(line, g)\n    sys.stdout.write('ok\\n'); sys.stdout.flush()"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
def pipe_rt():
    kernel.stdin.write("x=1+1\n"); kernel.stdin.flush(); kernel.stdout.readline()
timed(pipe_rt, 50)
rows.append(("baseline: bare python3 pipe round trip", timed(pipe_rt, 2000 // N)))
kernel.stdin.close(); kernel.wait()

# Cold create: a request the warm pool cannot serve (other memory size) starts a sandbox from nothing.
def cold():
    sid = json.loads(call("POST", "/v1/sandboxes", {"runtime": "python", "memory_mb": 384}))["id"]
    cold.ids.append(sid)
cold.ids = []


def pool_full():
    deadline = time.time() + 60
    while metric('sandbox_pool_ready{runtime="python"}') < 4 and time.time() < deadline: time.sleep(0.05)


# Priming: a fresh gateway runs each method of the create path unoptimised at first and compiles it again (twice, with
# dynamic PGO) once it has been called 30 times, which on these machines cost the gateway 65-85 ms of CPU per create
# over the first ~40 creates and 9-11 ms from the 80th on. As bench/run.sh does for the LLM path, discarded creates
# first, so that the rows below show a running gateway rather than its JIT.
PRIME = int(os.environ.get("SANDBOX_BENCH_PRIME", "30" if quick else "80"))
for _ in range(PRIME):
    call("DELETE", f"/v1/sandboxes/{json.loads(call('POST', '/v1/sandboxes', {'runtime': 'python', 'memory_mb': 384}))['id']}")

# The pool fills at start-up: let it finish, so that no pool start competes with the cold ones (nor counts as one).
pool_full()
pooled = set(children(GATEWAY)) if GATEWAY else set()
cpu_before = gateway_cpu_ms() if GATEWAY else 0
cold_ms = timed(cold, 30 // N + 3)
if GATEWAY:
    gateway_ms = (gateway_cpu_ms() - cpu_before) / len(cold_ms)
    sandbox_cpu = [tree_cpu_ms(c) for c in children(GATEWAY) if c not in pooled]
for sid in cold.ids: call("DELETE", f"/v1/sandboxes/{sid}")
rows.append(("cold create (python, interpreter ready)", cold_ms))

# Warm acquire: wait until the pool is full again before each take.
warm_ms, warm_ids = [], []
for _ in range(30 // N + 3):
    pool_full()
    t = time.perf_counter()
    warm_ids.append(json.loads(call("POST", "/v1/sandboxes", {"runtime": "python"}))["id"])
    warm_ms.append((time.perf_counter() - t) * 1000)
for sid in warm_ids: call("DELETE", f"/v1/sandboxes/{sid}")
rows.append(("warm acquire (from the pool)", warm_ms))

sid = json.loads(call("POST", "/v1/sandboxes", {"runtime": "python"}))["id"]
code = {"code": "print(1+1)"}
timed(lambda: call("POST", f"/v1/sandboxes/{sid}/execute", code), 50)
rows.append(("execute round trip `print(1+1)` (warm context)", timed(lambda: call("POST", f"/v1/sandboxes/{sid}/execute", code), 1000 // N)))
blob = os.urandom(1 << 20)
rows.append(("file write 1 MiB (PUT)", timed(lambda: call("PUT", f"/v1/sandboxes/{sid}/files?path=blob.bin", raw=blob), 100 // N)))
rows.append(("file read 1 MiB (GET)", timed(lambda: call("GET", f"/v1/sandboxes/{sid}/files?path=blob.bin"), 100 // N)))
call("DELETE", f"/v1/sandboxes/{sid}")

# Throughput: cold create + delete back to back for a fixed time.
span = 3 if quick else 10
count, start = 0, time.perf_counter()
while time.perf_counter() - start < span:
    s = json.loads(call("POST", "/v1/sandboxes", {"runtime": "bash"}))["id"]
    call("DELETE", f"/v1/sandboxes/{s}")
    count += 1
rate = count / (time.perf_counter() - start)

if GATEWAY:
    # After the timed rows, so that the ratios below keep their row numbers.
    rows.append(("cold create CPU: the sandbox's processes (bash, setpriv, bwrap, agent, interpreter)", sandbox_cpu))
    rows.append(("cold create CPU: the gateway's share (mean per create)", [gateway_ms]))

print("| measurement | n | p50 ms | p99 ms |")
print("|---|---:|---:|---:|")
for name, samples in rows:
    print(f"| {name} | {len(samples)} | {statistics.median(samples):.2f} | {pct(samples, 99):.2f} |")
print(f"| sandboxes created and deleted per second (bash, cold, one client) | {count} | {rate:.1f}/s | |")
base_pipe = statistics.median(rows[1][1]); base_bwrap = statistics.median(rows[0][1])
print()
print(f"Ratios: execute p50 / bare pipe = {statistics.median(rows[4][1]) / base_pipe:.1f}x; "
      f"cold create p50 / bwrap start = {statistics.median(rows[2][1]) / base_bwrap:.1f}x")
# For sandbox.sh's comparison of two builds: every row's median, and the create rate.
if os.environ.get("SANDBOX_BENCH_JSON"):
    with open(os.environ["SANDBOX_BENCH_JSON"], "w") as f:
        json.dump({**{name: statistics.median(samples) for name, samples in rows}, "creates per second (bash, cold)": rate}, f)
