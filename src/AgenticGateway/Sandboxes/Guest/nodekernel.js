'use strict';
// Node context of the sandbox agent: one persistent vm context, code in, results out. Control lines (JSON) arrive on
// the file descriptor in AGW_CONTROL_FD; results, exceptions and "done" go as JSON lines to AGW_RESULT_FD.
// console output goes to the process's own stdout/stderr, which are pipes the agent reads (synchronous on Linux).
const fs = require('fs');
const path = require('path');
const util = require('util');
const vm = require('vm');
const Module = require('module');
const readline = require('readline');

const resultFd = Number(process.env.AGW_RESULT_FD);
const controlFd = Number(process.env.AGW_CONTROL_FD);
delete process.env.AGW_RESULT_FD;
delete process.env.AGW_CONTROL_FD;
try { fs.writeFileSync('/proc/self/oom_score_adj', '500'); } catch (_) { /* not allowed: keep the default */ }

const send = (o) => fs.writeSync(resultFd, JSON.stringify(o) + '\n');
const cwd = process.cwd();
const sandbox = {
  require: Module.createRequire(path.join(cwd, '__cell__.js')),
  module: { exports: {} }, __filename: path.join(cwd, '__cell__.js'), __dirname: cwd,
  console, process, Buffer, URL, URLSearchParams, TextEncoder, TextDecoder, AbortController, AbortSignal,
  setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, queueMicrotask,
  structuredClone, atob, btoa, fetch: globalThis.fetch, performance: globalThis.performance,
};
sandbox.exports = sandbox.module.exports;
const context = vm.createContext(sandbox);
vm.runInContext('globalThis.global = globalThis;', context);

let interrupt = null;
// A SIGINT while a script runs breaks it (breakOnSigint); while awaiting a promise it rejects the wait; idle, it is ignored.
process.on('SIGINT', () => { if (interrupt) interrupt(); });

const isErrorLike = (e) => e !== null && typeof e === 'object' && 'message' in e;
let cells = 0;

async function run(msg) {
  cells += 1;
  const saved = {};
  for (const [k, v] of Object.entries(msg.env || {})) { saved[k] = process.env[k]; process.env[k] = v; }
  let ok = true;
  try {
    if (msg.cwd) process.chdir(msg.cwd);
    let value = vm.runInContext(msg.code || '', context, { filename: `cell-${cells}`, breakOnSigint: true });
    if (value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function') {
      value = await Promise.race([value, new Promise((_, reject) => {
        interrupt = () => reject(Object.assign(new Error('Script execution interrupted.'), { name: 'KeyboardInterrupt' }));
      })]);
    }
    if (value !== undefined) {
      send({ type: 'result', is_main_result: true, text: util.inspect(value, { depth: 4, maxArrayLength: 200, breakLength: 120 }) });
    }
  } catch (e) {
    ok = false;
    send({
      type: 'exception',
      name: (e && e.name) || typeof e,
      value: isErrorLike(e) ? String(e.message) : util.inspect(e),
      traceback: isErrorLike(e) && e.stack ? String(e.stack) : util.inspect(e),
    });
  } finally {
    interrupt = null;
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  send({ type: 'done', ok });
}

const queue = [];
let running = false;
async function pump() {
  if (running) return;
  running = true;
  while (queue.length > 0) {
    let msg;
    try { msg = JSON.parse(queue.shift()); } catch (_) { continue; }
    await run(msg);
  }
  running = false;
}

const lines = readline.createInterface({ input: fs.createReadStream(null, { fd: controlFd }) });
lines.on('line', (line) => { queue.push(line); pump(); });
lines.on('close', () => process.exit(0));
send({ type: 'ready', pid: process.pid });
