// pause then Sandbox.connect with the e2b SDKs: the files written before the pause are there after it (bubblewrap keeps
// the filesystem; a microVM its memory too), and while paused the sandbox is listed as paused and runs nothing.
import { Sandbox } from '@e2b/code-interpreter';
import { main, outcome, input } from './common.mjs';

await main(async () => {
  const tag = input('RUN_TAG');
  const sbx = await Sandbox.create({ metadata: { suite: tag }, timeoutMs: 300_000 });
  const id = sbx.sandboxId;
  try {
    await sbx.runCode('open("/home/user/kept.txt", "w").write("kept across the pause")');
    const paused = await sbx.pause();
    const pausedAgain = await Sandbox.pause(id);
    const state = (await Sandbox.getInfo(id)).state;
    const listedPaused = (await Sandbox.list({ query: { state: ['paused'], metadata: { suite: tag } } }).nextItems()).map((i) => i.sandboxId);
    const listedRunning = (await Sandbox.list({ query: { state: ['running'], metadata: { suite: tag } } }).nextItems()).map((i) => i.sandboxId);
    const whilePaused = await outcome(sbx.runCode('1 + 1'));
    const resumed = await Sandbox.connect(id, { timeoutMs: 300_000 });
    const read = await resumed.runCode('open("/home/user/kept.txt").read()');
    const after = (await resumed.getInfo()).state;
    const connectedAgain = await Sandbox.connect(id);
    return {
      id, paused, pausedAgain, state, listedPaused, listedRunning, whilePaused, resumedId: resumed.sandboxId,
      sameToken: resumed.envdAccessToken === sbx.envdAccessToken && connectedAgain.envdAccessToken === sbx.envdAccessToken,
      read: read.text, readError: read.error?.value ?? null, after,
    };
  } finally {
    await Sandbox.kill(id);
  }
});
