// After a gateway restart on the same data directory (see restart-before.mjs): both sandboxes are listed as paused
// with the template they were created from, and Sandbox.connect resumes each with its file, under the same tokens.
import { Sandbox } from '@e2b/code-interpreter';
import { main, input } from './common.mjs';

await main(async () => {
  const tag = input('RUN_TAG');
  const pausedId = input('PAUSED_ID');
  const autoId = input('AUTO_ID');
  const listed = (await Sandbox.list({ query: { metadata: { suite: tag } } }).nextItems())
    .map((i) => ({ id: i.sandboxId, templateId: i.templateId, state: i.state, role: i.metadata?.role ?? null }));
  const info = await Sandbox.getInfo(pausedId);
  const resumed = await Sandbox.connect(pausedId, { timeoutMs: 300_000 });
  const read = await resumed.files.read('/home/user/kept.txt');
  const ran = await resumed.runCode('open("/home/user/kept.txt").read()');
  const contexts = (await resumed.listCodeContexts()).length;
  const auto = await Sandbox.connect(autoId, { timeoutMs: 300_000 });
  const autoRead = await auto.files.read('/home/user/auto.txt');
  const handle = (s) => ({ id: s.sandboxId, token: s.envdAccessToken, traffic: s.trafficAccessToken ?? null });
  const after = (await Sandbox.getInfo(pausedId)).state;
  return { listed, info: { templateId: info.templateId, state: info.state }, read, ran: ran.text ?? null, ranError: ran.error?.value ?? null, contexts, autoRead, after,
    paused: handle(resumed), auto: handle(auto) };
});
