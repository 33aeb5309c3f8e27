// runCode as agents call it: several at once on one context (each runs, in turn), a silent cell ended by its own
// timeoutMs, the next cell right after it, and a silent cell longer than requestTimeoutMs.
import { Sandbox } from '@e2b/code-interpreter';
import { main, outcome } from './common.mjs';

const counted = 'import time\ntime.sleep(1)\nn = globals().get("n", 0) + 1\nn';

await main(async () => {
  const sbx = await Sandbox.create({ timeoutMs: 300_000 });
  try {
    const parallel = await Promise.all([sbx.runCode(counted), sbx.runCode(counted), sbx.runCode(counted)]);
    const started = Date.now();
    const timedOut = await outcome(sbx.runCode('import time\ntime.sleep(8)', { timeoutMs: 1500 }));
    const timedOutAfterMs = Date.now() - started;
    const next = await sbx.runCode('6 * 7');
    const slow = await outcome(sbx.runCode('import time\ntime.sleep(3)\n"done"', { requestTimeoutMs: 1500, timeoutMs: 30_000 }));
    return {
      parallel: parallel.map((e) => ({ text: e.text ?? null, error: e.error?.name ?? null })),
      timedOut, timedOutAfterMs, next: { text: next.text ?? null, error: next.error?.name ?? null },
      slow: slow.ok ? { text: slow.ok.text ?? null } : slow,
    };
  } finally {
    await sbx.kill();
  }
});
