// Everything the e2b SDK can do to a sandbox by its id, with a key that does not own it (SANDBOX_ID): each must fail
// as "not found", and listing must not show it.
import { Sandbox } from '@e2b/code-interpreter';
import { main, outcome, input } from './common.mjs';

await main(async () => {
  const id = input('SANDBOX_ID');
  return {
    getInfo: await outcome(Sandbox.getInfo(id)),
    setTimeout: await outcome(Sandbox.setTimeout(id, 60_000)),
    connect: await outcome(Sandbox.connect(id)),
    kill: await outcome(Sandbox.kill(id)),
    listed: (await Sandbox.list().nextItems()).map((i) => i.sandboxId),
  };
});
