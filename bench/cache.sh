#!/usr/bin/env bash
# Cache benchmark (issue 20): (a) the replay harness: the labelled pairs of bench/data/cache-pairs.jsonl replayed through
# a gateway with a redis-semantic cache (embeddings: the emulator's lexical model mock-lexical-embed, through the
# gateway), giving the false hits at the threshold (target 0) and the hit rate, plus a threshold sweep; (b) the latency
# an exact cache hit adds: p50/p99 of hits through the gateway against the emulator answered directly, measured in the
# same run, with the access log on (the default) and off (logging.level: warning). Prints a markdown report (also in
# bench/results/cache-latest.md; raw figures in bench/results/cache-latest.json). See bench/README.md.
#
#   bash bench/cache.sh              # 5 rounds x 2000 requests per latency target
#   QUICK=1 bash bench/cache.sh      # 3 rounds x 300, about a minute (plus the publish)
#   AGW_BIN=dir bash bench/cache.sh  # an already published gateway (skips the publish)
#
# Knobs: THRESHOLD (similarity_threshold, default 0.85: the lowest of the sweep with no false hit), ROUNDS, REQUESTS, KEEP=1 (keep the temp dir with configs and logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RESULTS="$HERE/results"
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

THRESHOLD=${THRESHOLD:-0.85}
MASTER_KEY=sk-cache-bench-master
for tool in python3 curl redis-server; do command -v "$tool" >/dev/null || die "$tool not found"; done

bench_workdir agw-cachebench

publish_gateway
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P_REDIS=$(free_port); P_EMU=$(free_port); P_ON=$(free_port); P_OFF=$(free_port)

redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
"${AGW[@]}" mock --urls "http://127.0.0.1:$P_EMU" >"$WORK/emulator.log" 2>&1 &
PIDS+=($!)

write_config() {  # FILE NAMESPACE [extra top-level yaml]
  cat >"$1" <<YAML
master_key: $MASTER_KEY
models:
  - name: gpt-4o
    provider: openai
    model: mock-gpt
    api_base: http://127.0.0.1:$P_EMU/v1
    api_key: sk-emulator
  - name: embedder
    provider: openai
    model: mock-lexical-embed
    api_base: http://127.0.0.1:$P_EMU/v1
    api_key: sk-emulator
cache:
  type: redis-semantic
  url: redis://127.0.0.1:$P_REDIS
  namespace: $2
  ttl: 3600
  similarity_threshold: $THRESHOLD
  redis_semantic_cache_embedding_model: embedder
${3:-}
YAML
}
write_config "$WORK/gw-on.yaml" bench-on
write_config "$WORK/gw-off.yaml" bench-off "logging:
  level: warning"
for g in on off; do
  port_var=P_${g^^}
  AGW_DATA_DIR="$WORK/data-$g" "${AGW[@]}" --config "$WORK/gw-$g.yaml" --urls "http://127.0.0.1:${!port_var}" >"$WORK/gw-$g.log" 2>&1 &
  PIDS+=($!)
done
for url in "http://127.0.0.1:$P_ON" "http://127.0.0.1:$P_OFF"; do
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$url/health/ready" && break; sleep 0.2; done
  curl -sf -o /dev/null "$url/health/ready" || { tail -n 30 "$WORK"/gw-*.log >&2; die "gateway at $url did not come up"; }
  # The cache's Redis connection is made in the background: wait until /cache/ping says healthy.
  for _ in $(seq 1 100); do curl -sf -o /dev/null -H "Authorization: Bearer $MASTER_KEY" "$url/cache/ping" && break; sleep 0.1; done
done

mkdir -p "$RESULTS"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
THRESHOLD=$THRESHOLD python3 "$HERE/cache_bench.py" "http://127.0.0.1:$P_ON" "http://127.0.0.1:$P_OFF" "http://127.0.0.1:$P_EMU" \
  "$MASTER_KEY" "$HERE/data/cache-pairs.jsonl" "$RESULTS/cache-latest.json" | tee "$RESULTS/cache-latest.md"
echo "
Machine: $(nproc) cores, load at start $LOAD_AT_START; $(date -u +%Y-%m-%dT%H:%MZ)." | tee -a "$RESULTS/cache-latest.md"
