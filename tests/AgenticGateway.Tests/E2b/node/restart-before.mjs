// Before a gateway restart (restart-after.mjs runs against the restarted gateway, same data directory): one sandbox
// paused by the SDK, one left running with auto-pause (the gateway pauses it as it stops), each with a file written.
// Their tokens are printed so the test can check the restarted gateway honours them.
import { Sandbox } from '@e2b/code-interpreter';
import { main, input } from './common.mjs';

await main(async () => {
  const tag = input('RUN_TAG');
  const paused = await Sandbox.create({ metadata: { suite: tag, role: 'paused' }, timeoutMs: 300_000 });
  await paused.files.write('/home/user/kept.txt', 'kept across the restart');
  await paused.pause();
  const auto = await Sandbox.create('base', { metadata: { suite: tag, role: 'auto' }, timeoutMs: 300_000, lifecycle: { onTimeout: 'pause' } });
  await auto.files.write('/home/user/auto.txt', 'paused as the gateway stopped');
  const handle = (s) => ({ id: s.sandboxId, token: s.envdAccessToken, traffic: s.trafficAccessToken ?? null });
  return { paused: handle(paused), auto: handle(auto) };
});
