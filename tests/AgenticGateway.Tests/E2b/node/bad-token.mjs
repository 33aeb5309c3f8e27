// The sandbox-facing calls with a wrong access token (the SDK's envdAccessToken replaced), and the REST API with a
// wrong key: both refused.
import { Sandbox } from '@e2b/code-interpreter';
import { main, outcome, input } from './common.mjs';

await main(async () => {
  const id = input('SANDBOX_ID');
  const sbx = await Sandbox.connect(id);
  const right = await outcome(sbx.runCode('1 + 1').then((e) => e.text));
  sbx.envdAccessToken = 'not-the-token';
  const wrong = await outcome(sbx.runCode('1 + 1').then((e) => e.text));
  const badKey = await outcome(Sandbox.list({ apiKey: 'sk-not-a-gateway-key' }).nextItems());
  return { right, wrong, badKey };
});
