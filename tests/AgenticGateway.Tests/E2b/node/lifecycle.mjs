// Sandbox.create (a template name, the default template), getInfo, Sandbox.list with a metadata filter, setTimeout
// and kill, with the official e2b SDK.
import { Sandbox } from 'e2b';
import { main, input, outcome } from './common.mjs';

const info = (i) => ({
  sandboxId: i.sandboxId, templateId: i.templateId, name: i.name ?? null, metadata: i.metadata, state: i.state,
  startedAt: i.startedAt.toISOString(), endAt: i.endAt.toISOString(), cpuCount: i.cpuCount, memoryMB: i.memoryMB,
  envdVersion: i.envdVersion,
});

await main(async () => {
  const tag = input('RUN_TAG');
  const first = await Sandbox.create('base', { metadata: { suite: tag, role: 'first' }, envs: { GREETING: 'hi' }, timeoutMs: 120_000 });
  const second = await Sandbox.create({ metadata: { suite: tag, role: 'second' }, timeoutMs: 120_000 });
  const created = info(await first.getInfo());
  const listedFirst = (await Sandbox.list({ query: { metadata: { suite: tag, role: 'first' } } }).nextItems()).map(info);
  const listedSuite = (await Sandbox.list({ query: { metadata: { suite: tag } } }).nextItems()).map((i) => i.sandboxId).sort();
  const running = (await Sandbox.list({ query: { state: ['running'], metadata: { suite: tag } } }).nextItems()).length;
  const paused = (await Sandbox.list({ query: { state: ['paused'], metadata: { suite: tag } } }).nextItems()).length;
  await first.setTimeout(600_000);
  const extended = info(await Sandbox.getInfo(first.sandboxId));
  const runningBeforeKill = await first.isRunning();
  const killed = await first.kill();
  // The SDK's own probes of a killed sandbox: not running (envd's 502), and a file read is the "not running" error.
  const runningAfterKill = await first.isRunning();
  const readAfterKill = await outcome(first.files.read('/home/user/x.txt'));
  const killedAgain = await Sandbox.kill(first.sandboxId);
  const afterKill = (await Sandbox.list({ query: { metadata: { suite: tag } } }).nextItems()).map((i) => i.sandboxId);
  await second.kill();
  return {
    first: first.sandboxId, second: second.sandboxId, created, listedFirst, listedSuite, running, paused, extended,
    killed, killedAgain, afterKill, runningBeforeKill, runningAfterKill, readAfterKill,
  };
});
