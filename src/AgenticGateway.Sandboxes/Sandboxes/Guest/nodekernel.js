// Node interpreter loop of a code context, started by the agent (one process per context, its own process group).
//
// fd 0: /dev/null. fd 1, 2: pipes the agent reads. fd 3: results to the agent, JSON lines. fd 4: executions from the
// agent, JSON lines {"seq", "code", "env"?, "cwd"?}. Same messages as pykernel.py: ready once; then per execution results,
// exceptions and one done, written after stdout and stderr have been flushed.
//
// Every snippet runs in one vm context, so top-level let/const/class/function declarations persist. SIGINT (the
// agent's timeout or cancel) breaks off a running snippet (breakOnSigint) or abandons the promise being awaited; the
// kernel itself survives it.
//
// breakOnSigint is cheap only while node's SIGINT watchdog helper (a process-wide, reference-counted singleton) is
// already running: otherwise every call starts and joins its thread (~100 us). So a worker thread stays parked inside a
// breakOnSigint run for the kernel's whole life. It also receives the SIGINTs that arrive while no snippet is running
// (the newest registered watchdog gets a SIGINT first), and passes them on, so an awaited promise can be abandoned.
// Costs ~10 MB; without worker_threads the kernel falls back to a process.on('SIGINT') listener.
'use strict';

const fs = require('fs');
const vm = require('vm');
const util = require('util');
const net = require('net');
const path = require('path');
const Module = require('module');
const { Worker } = require('worker_threads');

const RES_FD = 3;
const CTL_FD = 4;

if (process.env.AGW_CWD) {
  process.chdir(process.env.AGW_CWD);
}
delete process.env.AGW_CWD;
// Under memory pressure the interpreter goes before the agent.
try { fs.writeFileSync('/proc/self/oom_score_adj', '500'); } catch { /* not allowed: keep the default */ }

function write(obj) {
  const buf = Buffer.from(JSON.stringify(obj) + '\n', 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(RES_FD, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

// The context's global object: the new realm's own intrinsics, plus node's globals (timers, process, Buffer, URL,
// TextEncoder, fetch, ...) and a require rooted at the cwd.
const cellFile = path.join(process.cwd(), '[cell]');
const sandbox = {};
const ctx = vm.createContext(sandbox, { name: 'agw' });
const inner = vm.runInContext('globalThis', ctx);
const own = new Set(Object.getOwnPropertyNames(inner));
for (const name of Object.getOwnPropertyNames(globalThis)) {
  if (own.has(name) || name === 'global') continue;
  const d = Object.getOwnPropertyDescriptor(globalThis, name);
  try { Object.defineProperty(sandbox, name, d); } catch { /* not copyable */ }
}
const cellRequire = Module.createRequire(cellFile);
const cellModule = {
  exports: {}, require: cellRequire, id: '.', filename: cellFile, loaded: true, paths: cellRequire.resolve.paths('x'),
};
Object.assign(sandbox, {
  console,                    // node's console (the realm's own writes to the inspector only)
  require: cellRequire,
  module: cellModule,
  exports: cellModule.exports,
  __filename: cellFile,
  __dirname: process.cwd(),
});
vm.runInContext('globalThis.global = globalThis', ctx);

function cleanStack(stack) {
  return String(stack).split('\n')
    .filter((l) => !/^\s+at .*(node:vm:|nodekernel\.js|sigintHandlersWrap)/.test(l))
    .join('\n');
}

function exception(seq, e) {
  let msg;
  if (e !== null && (typeof e === 'object' || typeof e === 'function') && 'stack' in e) {
    let name = 'Error';
    let value = '';
    try { name = String(e.name ?? (e.constructor && e.constructor.name) ?? 'Error'); } catch { /* keep */ }
    try { value = String(e.message ?? ''); } catch { /* keep */ }
    let tb = '';
    try { tb = cleanStack(e.stack); } catch { /* keep */ }
    msg = { type: 'exception', seq, name, value, traceback: tb };
  } else {
    let value;
    try { value = util.inspect(e); } catch { value = String(e); }
    msg = { type: 'exception', seq, name: typeof e, value, traceback: '' };
  }
  write(msg);
}

function interruptedError() {
  const e = new Error('Script execution was interrupted by `SIGINT`');
  e.code = 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
  return e;
}

// Done goes out only after everything written to stdout/stderr has reached the pipes (node queues writes to a full
// pipe): an empty write's callback runs after all earlier writes are flushed.
function finish(seq, exitCode, savedEnv) {
  restoreEnv(savedEnv);
  const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
  if (pending.length === 0) {
    write({ type: 'done', seq, exit_code: exitCode });
    next();
    return;
  }
  let left = pending.length;
  for (const s of pending) {
    s.write('', () => {
      if (--left === 0) {
        write({ type: 'done', seq, exit_code: exitCode });
        next();
      }
    });
  }
}

function applyEnv(env) {
  if (!env) return null;
  const saved = {};
  for (const k of Object.keys(env)) {
    saved[k] = Object.prototype.hasOwnProperty.call(process.env, k) ? process.env[k] : undefined;
    process.env[k] = env[k];
  }
  return saved;
}

function restoreEnv(saved) {
  if (!saved) return;
  for (const k of Object.keys(saved)) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
}

function isThenable(v) {
  try {
    return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
  } catch {
    return false;
  }
}

function showResult(seq, value) {
  if (value === undefined) return;
  let text;
  try { text = util.inspect(value); } catch (e) { text = `<inspect failed: ${e}>`; }
  write({ type: 'result', seq, is_main_result: true, text });
}

let current = null;   // { seq, interrupt } while a promise is awaited
const queue = [];
let running = false;

function execute(msg) {
  const seq = msg.seq;
  const saved = applyEnv(msg.env);
  let value;
  try {
    if (msg.cwd) process.chdir(msg.cwd);    // stays, as a cd would
    value = vm.runInContext(String(msg.code ?? ''), ctx, { filename: 'cell', breakOnSigint: true });
  } catch (e) {
    exception(seq, e);
    finish(seq, 1, saved);
    return;
  }
  if (!isThenable(value)) {
    try {
      showResult(seq, value);
    } catch (e) {
      exception(seq, e);
      finish(seq, 1, saved);
      return;
    }
    finish(seq, 0, saved);
    return;
  }
  const state = { seq, interrupt: null };
  current = state;
  new Promise((resolve, reject) => {
    state.interrupt = reject;
    Promise.resolve(value).then(resolve, reject);
  }).then((v) => {
    current = null;
    showResult(seq, v);
    finish(seq, 0, saved);
  }, (e) => {
    current = null;
    exception(seq, e);
    finish(seq, 1, saved);
  });
}

function next() {
  running = false;
  if (queue.length > 0) {
    running = true;
    const msg = queue.shift();
    setImmediate(() => execute(msg));
  }
}

function onSigint() {
  if (current && current.interrupt) current.interrupt(interruptedError());
}

const PARKED_WORKER = `
const { parentPort } = require('worker_threads');
const vm = require('vm');
const ia = new Int32Array(new SharedArrayBuffer(4));
const ctx = vm.createContext({ Atomics, ia, armed: () => parentPort.postMessage('armed') });
for (;;) {
  try {
    vm.runInContext('armed(); Atomics.wait(ia, 0, 0)', ctx, { breakOnSigint: true });
  } catch (e) {
    parentPort.postMessage('sigint');
  }
}`;

// Calls ready() once SIGINT is handled: by the parked worker, or by a listener if there is none (or it dies).
function armSigint(ready) {
  let done = false;
  let listening = false;
  const fallback = () => {
    if (!listening) {
      listening = true;
      process.on('SIGINT', onSigint);
    }
    if (!done) {
      done = true;
      ready();
    }
  };
  let worker;
  try {
    worker = new Worker(PARKED_WORKER, { eval: true, stdout: false, stderr: false });
  } catch {
    fallback();
    return;
  }
  worker.unref();
  worker.on('message', (m) => {
    if (m === 'sigint') onSigint();
    else if (m === 'armed' && !done) {
      done = true;
      ready();
    }
  });
  worker.on('error', fallback);
  worker.on('exit', fallback);
  setTimeout(fallback, 5000).unref();
}

// Errors thrown later by callbacks of earlier snippets (timers, events, unhandled rejections) must not end the kernel.
process.on('uncaughtException', (e) => {
  try {
    process.stderr.write(`Uncaught ${e && e.stack ? cleanStack(e.stack) : util.inspect(e)}\n`);
  } catch { /* nothing to do */ }
});

const ctl = new net.Socket({ fd: CTL_FD, readable: true, writable: false });
let buf = '';
ctl.setEncoding('utf8');
ctl.on('data', (chunk) => {
  buf += chunk;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    let msg;
    try { msg = JSON.parse(line); } catch { continue; }
    if (msg && typeof msg.seq === 'number') queue.push(msg);
  }
  if (!running && queue.length > 0) {
    running = true;
    execute(queue.shift());
  }
});
ctl.on('end', () => process.exit(0));
ctl.on('error', () => process.exit(0));

armSigint(() => write({ type: 'ready', pid: process.pid }));
