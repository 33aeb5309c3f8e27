// pause then Sandbox.connect on a microVM: the interpreter's memory (a variable) and the files survive the pause.
import { Sandbox } from '@e2b/code-interpreter';
import { main } from './common.mjs';

await main(async () => {
  const sbx = await Sandbox.create({ timeoutMs: 600_000, requestTimeoutMs: 180_000 });
  const id = sbx.sandboxId;
  try {
    const before = await sbx.runCode('x = 41\nopen("/home/user/kept.txt", "w").write("kept")\nx');
    const paused = await sbx.pause({ requestTimeoutMs: 180_000 });
    const state = (await Sandbox.getInfo(id)).state;
    const resumed = await Sandbox.connect(id, { timeoutMs: 600_000, requestTimeoutMs: 180_000 });
    const variable = await resumed.runCode('x + 1');
    const file = await resumed.runCode('open("/home/user/kept.txt").read()');
    return {
      before: before.text, paused, state, variable: variable.text, variableError: variable.error?.value ?? null,
      file: file.text, fileError: file.error?.value ?? null,
    };
  } finally {
    await Sandbox.kill(id);
  }
});
