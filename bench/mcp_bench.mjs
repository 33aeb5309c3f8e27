// MCP latency driver for bench/mcp.sh (Node built-ins only): raw JSON-RPC POSTs over keep-alive connections, so what
// it times is the server's per-request cost, not an SDK client's. Each cell is one target (a URL plus the headers and
// body of its protocol) at a fixed concurrency for a fixed time: closed loop, one worker per connection, every answer
// checked (HTTP 200, the JSON-RPC result, the echoed text or the tool count). Cells are measured interleaved, round by
// round, so drift on a shared machine hits every target alike. Prints one JSON object (the samples' percentiles per
// cell) on stdout; exits 1 when any request failed.
//
//   node mcp_bench.mjs SPEC.json
//
// SPEC: { rounds, seconds, warmup, prime, cells: [{ id, target, url, headers, method, tool?, args?, expect, c, meta?,
//         pids?: { label: pid } }] } where expect is { echo: "prefix" } (the result text must be prefix + the sent text)
//         or { minTools: n, hasTool: "name" }.
import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const TIMEOUT_MS = 10_000;
const MAX_ERRORS_KEPT = 5;

const TICK_US = 1e6 / (spec.clkTck ?? 100); // /proc/PID/stat counts CPU time in clock ticks (getconf CLK_TCK)
function cpuUs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US; // utime + stime
  } catch {
    return NaN;
  }
}

/** Context switches of every thread of the process (voluntary + involuntary): each hop between threads costs one, and
 * on a shared machine each is a chance to wait for a core. */
function switches(pid) {
  let n = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
    }
  } catch {
    return NaN;
  }
  return n;
}

let seq = 0;
/** The request body of one call: a fresh id, and for tools/call a fresh text (the gateway's loop breaker refuses the
 * same call repeated within its window, as it should; a benchmark repeating one call would measure refusals). */
function body(cell) {
  const id = ++seq;
  const params = {};
  let text;
  if (cell.method === 'tools/call') {
    text = `bench ${id}`;
    params.name = cell.tool;
    params.arguments = { text };
  }
  if (cell.meta) params._meta = cell.meta;
  return { id, text, payload: JSON.stringify({ jsonrpc: '2.0', id, method: cell.method, params }) };
}

/** The JSON-RPC response with this id, from a JSON body or an SSE stream (the stateless transports answer either way). */
function responseOf(contentType, raw, id) {
  if (contentType.startsWith('application/json')) return JSON.parse(raw);
  if (contentType.startsWith('text/event-stream')) {
    for (const event of raw.split(/\r?\n\r?\n/)) {
      const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (!data) continue;
      const message = JSON.parse(data);
      if (message.id === id) return message;
    }
    throw new Error('no response with our id in the event stream');
  }
  throw new Error(`unexpected content-type ${contentType}`);
}

function check(cell, message, text) {
  if (message.error) throw new Error(`JSON-RPC error ${message.error.code}: ${message.error.message}`);
  const result = message.result;
  if (!result) throw new Error('no result');
  if (cell.expect.echo !== undefined) {
    if (result.isError) throw new Error(`tool error: ${JSON.stringify(result.content).slice(0, 300)}`);
    const got = result.content?.[0]?.text;
    if (got !== cell.expect.echo + text) throw new Error(`echo answered ${JSON.stringify(got)}, expected ${JSON.stringify(cell.expect.echo + text)}`);
  } else {
    const tools = result.tools ?? [];
    cell.lastTools = tools.length;
    if (tools.length < cell.expect.minTools) throw new Error(`tools/list returned ${tools.length} tools, expected at least ${cell.expect.minTools}`);
    if (cell.expect.hasTool && !tools.some((t) => t.name === cell.expect.hasTool)) throw new Error(`tools/list lacks ${cell.expect.hasTool}`);
  }
}

function post(agent, cell) {
  const { id, text, payload } = body(cell);
  const url = new URL(cell.url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', timeout: TIMEOUT_MS,
      headers: { ...cell.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${raw.slice(0, 300)}`);
          check(cell, responseOf(res.headers['content-type'] ?? '', raw, id), text);
          resolve();
        } catch (e) {
          reject(e);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs one cell for `seconds`: c workers, each on its own keep-alive connection. */
async function run(cell, seconds, agents) {
  const agent = agents.get(cell.id) ?? new http.Agent({ keepAlive: true, maxSockets: cell.c, maxFreeSockets: cell.c });
  agents.set(cell.id, agent);
  const samples = [];
  const errors = [];
  let errorCount = 0;
  const cpu0 = Object.fromEntries(Object.entries(cell.pids ?? {}).map(([k, pid]) => [k, cpuUs(pid)]));
  const sw0 = Object.fromEntries(Object.entries(cell.pids ?? {}).map(([k, pid]) => [k, switches(pid)]));
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: cell.c }, async () => {
    while (performance.now() < end) {
      const t = process.hrtime.bigint();
      try {
        await post(agent, cell);
        samples.push(Number(process.hrtime.bigint() - t) / 1e6);
      } catch (e) {
        errorCount++;
        if (errors.length < MAX_ERRORS_KEPT) errors.push(String(e.message ?? e));
      }
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  const cpu = Object.fromEntries(Object.entries(cell.pids ?? {}).map(([k, pid]) => [k, cpuUs(pid) - cpu0[k]]));
  const sw = Object.fromEntries(Object.entries(cell.pids ?? {}).map(([k, pid]) => [k, switches(pid) - sw0[k]]));
  return { samples, errorCount, errors, elapsed, cpu, sw };
}

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))] : NaN;

const agents = new Map();
const out = { rounds: spec.rounds, seconds: spec.seconds, warmup: spec.warmup, prime: spec.prime, cells: {}, errors: 0 };
for (const cell of spec.cells) out.cells[cell.id] = { target: cell.target, c: cell.c, samples: [], rounds: [], errors: 0, errorMessages: [], cpu: {}, switches: {}, seconds: 0 };

// Priming: a fresh .NET process runs tier-0 code and re-JITs hot methods during its first seconds of load; discarded.
for (const cell of spec.cells) if (spec.prime > 0) await run(cell, spec.prime, agents);
for (let round = 0; round < spec.rounds; round++) {
  for (const cell of spec.cells) {
    if (spec.warmup > 0) await run(cell, spec.warmup, agents);
    const r = await run(cell, spec.seconds, agents);
    const o = out.cells[cell.id];
    o.samples.push(...r.samples);
    const sorted = [...r.samples].sort((a, b) => a - b);
    o.rounds.push({ n: r.samples.length, p50: pct(sorted, 50), rps: r.samples.length / r.elapsed });
    o.errors += r.errorCount;
    o.errorMessages.push(...r.errors.slice(0, MAX_ERRORS_KEPT - o.errorMessages.length));
    o.seconds += r.elapsed;
    for (const [k, us] of Object.entries(r.cpu)) o.cpu[k] = (o.cpu[k] ?? 0) + us;
    for (const [k, n] of Object.entries(r.sw)) o.switches[k] = (o.switches[k] ?? 0) + n;
    process.stderr.write(`[bench] round ${round + 1}/${spec.rounds} ${cell.id}: ${r.samples.length} requests, p50 ${pct(sorted, 50).toFixed(3)} ms, ${r.errorCount} errors\n`);
  }
}
for (const [id, o] of Object.entries(out.cells)) {
  const sorted = o.samples.sort((a, b) => a - b);
  o.n = sorted.length;
  o.p50 = pct(sorted, 50); o.p90 = pct(sorted, 90); o.p99 = pct(sorted, 99);
  o.rps = o.n / o.seconds;
  o.cpuUsPerRequest = Object.fromEntries(Object.entries(o.cpu).map(([k, us]) => [k, o.n ? us / o.n : NaN]));
  o.switchesPerRequest = Object.fromEntries(Object.entries(o.switches).map(([k, n]) => [k, o.n ? n / o.n : NaN]));
  delete o.samples;
  o.tools = spec.cells.find((c) => c.id === id).lastTools;
  out.errors += o.errors;
}
for (const agent of agents.values()) agent.destroy();
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
process.exit(out.errors ? 1 : 0);
