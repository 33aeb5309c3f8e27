// runCode with @e2b/code-interpreter: state across cells, an error, a JavaScript context, a matplotlib PNG, and the
// context calls (create, list, restart, remove).
import { Sandbox } from '@e2b/code-interpreter';
import { main } from './common.mjs';

const execution = (e) => ({
  text: e.text ?? null,
  results: e.results.map((r) => ({ text: r.text ?? null, isMainResult: r.isMainResult, formats: r.formats(), png: r.png ? r.png.slice(0, 16) : null })),
  stdout: e.logs.stdout, stderr: e.logs.stderr,
  error: e.error ? { name: e.error.name, value: e.error.value, traceback: e.error.traceback } : null,
  executionCount: e.executionCount ?? null,
});

await main(async () => {
  const sbx = await Sandbox.create({ timeoutMs: 300_000 });
  try {
    const streamed = [];
    const first = execution(await sbx.runCode('x = 41\nprint("set")', { onStdout: (m) => streamed.push(m.line) }));
    const second = execution(await sbx.runCode('x + 1'));
    const text = execution(await sbx.runCode('"a string"'));
    const failed = execution(await sbx.runCode('1 / 0'));
    const env = execution(await sbx.runCode('import os\nos.environ["ONLY_HERE"]', { envs: { ONLY_HERE: 'yes' } }));
    const js = await sbx.createCodeContext({ language: 'javascript' });
    const jsFirst = execution(await sbx.runCode('const a = 20; console.log("js"); a', { context: js }));
    const jsSecond = execution(await sbx.runCode('a * 2', { context: js }));
    const jsByLanguage = execution(await sbx.runCode('6 * 7', { language: 'javascript' }));
    const plot = execution(await sbx.runCode('import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()'));
    const contexts = (await sbx.listCodeContexts()).map((c) => ({ id: c.id, language: c.language, cwd: c.cwd }));
    await sbx.restartCodeContext(js);
    const afterRestart = execution(await sbx.runCode('typeof a', { context: js }));
    await sbx.removeCodeContext(js);
    const removed = (await sbx.listCodeContexts()).some((c) => c.id === js.id);
    return { streamed, first, second, text, failed, env, js: { id: js.id, language: js.language, cwd: js.cwd }, jsFirst, jsSecond, jsByLanguage, plot, contexts, afterRestart, removed };
  } finally {
    await sbx.kill();
  }
});
