// getMetrics with the e2b SDK: a sandbox that burns a CPU and holds a 2 MiB file is sampled every 5 s (CPU, memory,
// disk); start and end narrow the samples; by id (Sandbox.getMetrics) the same; another key (OTHER_KEY) is told the
// sandbox does not exist.
import { Sandbox } from 'e2b';
import { main, outcome, input } from './common.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

await main(async () => {
  const sbx = await Sandbox.create({ timeoutMs: 180_000 });
  const id = sbx.sandboxId;
  try {
    const info = await sbx.getInfo();
    await sbx.files.write('/home/user/blob.bin', 'x'.repeat(2 << 20));
    // One CPU busy for 15 s in the background, while the samples are taken.
    await sbx.commands.run('timeout 15 sh -c "while :; do :; done"', { background: true });
    const started = Date.now();
    let metrics = [];
    while (Date.now() - started < 45_000) {
      metrics = await sbx.getMetrics();
      if (metrics.length >= 2 && metrics.some((m) => m.cpuUsedPct > 0)) break;
      await sleep(1000);
    }
    const [first, second] = metrics;
    return {
      id,
      memoryMB: info.memoryMB,
      cpuCount: info.cpuCount,
      metrics,
      byId: await Sandbox.getMetrics(id),
      fromSecond: second ? await sbx.getMetrics({ start: second.timestamp }) : null,
      untilFirst: first ? await sbx.getMetrics({ end: first.timestamp }) : null,
      future: await sbx.getMetrics({ start: new Date(Date.now() + 3_600_000) }),
      otherOwner: await outcome(Sandbox.getMetrics(id, { apiKey: input('OTHER_KEY') })),
    };
  } finally {
    await Sandbox.kill(id);
  }
});
