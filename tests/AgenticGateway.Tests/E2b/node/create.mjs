// Creates a sandbox with the code interpreter SDK and prints its id and access token, for a test to hand to scripts
// run with another key or a tampered token.
import { Sandbox } from '@e2b/code-interpreter';
import { main } from './common.mjs';

await main(async () => {
  const sbx = await Sandbox.create({ metadata: { purpose: 'owner-test' }, timeoutMs: 300_000 });
  return { sandboxId: sbx.sandboxId, envdAccessToken: sbx.envdAccessToken };
});
