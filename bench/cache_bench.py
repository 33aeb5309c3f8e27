#!/usr/bin/env python3
"""The cache benchmark's driver (bench/cache.sh starts the servers): the replay harness on the labelled pairs and the
latency a cache hit adds. Standard library only. Prints a markdown report and writes the raw figures as JSON.

Replay: for each pair of bench/data/cache-pairs.jsonl, in a context of its own (a system prompt naming the pair, so
pairs never match each other), question A is sent through /v1/chat/completions (a miss: the answer is stored and its
prompt indexed), then question B; the x-agw-cache header says whether B was served from A's answer (semantic-hit).
A hit on a pair labelled "different" is a false hit. The threshold sweep uses /cache/similarity (the same embedding
and guard) for every pair and counts, per threshold, the hits and false hits with and without the guard.

Latency: sequential requests with keep-alive, interleaved round by round: the emulator answered directly (the
baseline) and the same request answered from the exact cache through the gateway, access log on and off.
"""
import http.client, json, os, statistics, sys, time
from urllib.parse import urlparse

gw_on, gw_off, emulator, master, pairs_path, out_json = sys.argv[1:7]
threshold = float(os.environ.get("THRESHOLD", "0.85"))
quick = os.environ.get("QUICK", "0") == "1"
rounds = int(os.environ.get("ROUNDS", "3" if quick else "5"))
per_round = int(os.environ.get("REQUESTS", "300" if quick else "2000"))


class Client:
    def __init__(self, base):
        u = urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)

    def post(self, path, body, key=None):
        headers = {"Content-Type": "application/json"}
        if key: headers["Authorization"] = "Bearer " + key
        self.conn.request("POST", path, body=json.dumps(body), headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def chat(question, system):
    return {"model": "gpt-4o", "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}


pairs = [json.loads(l) for l in open(pairs_path) if l.strip()]
gw = Client(gw_on)

# --- Replay through the gateway at the configured threshold -------------------------------------------------------
replay = []
for p in pairs:
    system = f"You answer question set {p['id']}."
    s, h, _ = gw.post("/v1/chat/completions", chat(p["a"], system), master)
    if s != 200: sys.exit(f"pair {p['id']}: A answered {s}")
    # The store is off the response path: wait until A's answer is in the cache before B is sent.
    for _ in range(200):
        s, _, body = gw.post("/cache/lookup", {"request": chat(p["a"], system), "semantic": False}, master)
        if s == 200 and json.loads(body)["hit"]: break
        time.sleep(0.01)
    s, h, _ = gw.post("/v1/chat/completions", chat(p["b"], system), master)
    if s != 200: sys.exit(f"pair {p['id']}: B answered {s}")
    replay.append({"id": p["id"], "label": p["label"], "kind": p["kind"], "result": h.get("x-agw-cache", "?")})

para = [r for r in replay if r["label"] == "paraphrase"]
diff = [r for r in replay if r["label"] == "different"]
hits = sum(r["result"] == "semantic-hit" for r in para)
false_hits = [r for r in diff if r["result"] in ("semantic-hit", "hit")]

# --- Threshold sweep from /cache/similarity -------------------------------------------------------------------------
sims = []
for p in pairs:
    s, _, body = gw.post("/cache/similarity", {"a": p["a"], "b": p["b"]}, master)
    if s != 200: sys.exit(f"similarity of pair {p['id']} answered {s}: {body[:200]}")
    d = json.loads(body)
    sims.append({"id": p["id"], "label": p["label"], "kind": p["kind"], "similarity": d["similarity"], "guard": d["guard"]})
sweep = []
for t in [0.70, 0.75, 0.80, 0.85, 0.90, 0.92, 0.95]:
    ph = sum(1 for x in sims if x["label"] == "paraphrase" and x["similarity"] >= t and x["guard"] is None)
    fh = sum(1 for x in sims if x["label"] == "different" and x["similarity"] >= t and x["guard"] is None)
    fh_raw = sum(1 for x in sims if x["label"] == "different" and x["similarity"] >= t)
    sweep.append({"threshold": t, "hit_rate": ph / len(para), "false_hits": fh, "false_hits_without_guard": fh_raw})

# --- Latency: exact hits through the gateway vs the emulator directly ----------------------------------------------
def sample(client, path, body, key, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        s, h, _ = client.post(path, body, key)
        out.append((time.perf_counter_ns() - t0) / 1e6)
        if s != 200: sys.exit(f"{path} answered {s}")
    return out

latency_body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "What is the boiling point of water at sea level?"}], "max_tokens": 16}
targets = {"emulator (direct)": (Client(emulator), "/v1/chat/completions", {**latency_body, "model": "mock-gpt"}, "sk-none"),
           "gateway exact hit, access log on": (Client(gw_on), "/v1/chat/completions", latency_body, master),
           "gateway exact hit, access log off": (Client(gw_off), "/v1/chat/completions", latency_body, master)}
for name, (c, path, body, key) in targets.items():
    if name.startswith("gateway"):
        s, h, _ = c.post(path, body, key)
        for _ in range(200):
            s, h, _ = c.post(path, body, key)
            if h.get("x-agw-cache") == "hit": break
            time.sleep(0.01)
        if h.get("x-agw-cache") != "hit": sys.exit(f"{name}: no exact hit (x-agw-cache: {h.get('x-agw-cache')})")
    sample(c, path, body, key, 50)  # warm-up
samples = {name: [] for name in targets}
for _ in range(rounds):
    for name, (c, path, body, key) in targets.items():
        samples[name] += sample(c, path, body, key, per_round)

def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]

lat = {name: {"p50_ms": pct(xs, 0.50), "p99_ms": pct(xs, 0.99), "n": len(xs)} for name, xs in samples.items()}
base = lat["emulator (direct)"]

report = {"threshold": threshold, "pairs": len(pairs), "paraphrases": len(para), "different": len(diff),
          "semantic_hits": hits, "hit_rate": hits / len(para), "false_hits": len(false_hits),
          "false_hit_ids": [r["id"] for r in false_hits], "replay": replay, "similarities": sims, "sweep": sweep, "latency": lat}
json.dump(report, open(out_json, "w"), indent=1)

print(f"## Cache benchmark ({'QUICK' if quick else 'full'})\n")
print(f"Embeddings: the emulator's lexical model (mock-lexical-embed); {len(pairs)} labelled pairs "
      f"({len(para)} paraphrases, {len(diff)} non-paraphrases); threshold {threshold}.\n")
print("### Replay through the gateway (redis-semantic)\n")
print(f"- false hits: **{len(false_hits)}** of {len(diff)} non-paraphrases" + (f" (pairs {report['false_hit_ids']})" if false_hits else ""))
print(f"- hit rate: **{hits}/{len(para)} = {hits / len(para):.1%}** of paraphrases served from the cache")
by_kind = {}
for r in para: by_kind.setdefault(r["kind"], []).append(r["result"] == "semantic-hit")
print("- paraphrase hits by kind: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())))
print("\n### Threshold sweep (/cache/similarity: same embedding and guard)\n")
print("| threshold | hit rate | false hits | false hits without the guard |\n|---|---|---|---|")
for s in sweep: print(f"| {s['threshold']:.2f} | {s['hit_rate']:.1%} | {s['false_hits']} | {s['false_hits_without_guard']} |")
print(f"\n### Latency a cache hit adds ({rounds} rounds x {per_round} sequential requests per target, interleaved)\n")
print("| target | p50 ms | p99 ms | p50 added | p99 added |\n|---|---|---|---|---|")
for name, v in lat.items():
    added = "" if name == "emulator (direct)" else f"{v['p50_ms'] - base['p50_ms']:+.3f} | {v['p99_ms'] - base['p99_ms']:+.3f}"
    print(f"| {name} | {v['p50_ms']:.3f} | {v['p99_ms']:.3f} | {added or '— | —'} |")
