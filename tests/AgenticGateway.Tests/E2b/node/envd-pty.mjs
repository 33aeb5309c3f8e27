// A pty (process.Start with pty, Update to resize, SendInput as pty bytes) and commands.connect to a running command
// (process.Connect), with the official e2b SDK.
import { Sandbox } from 'e2b';
import { main } from './common.mjs';

const until = async (check, ms = 20_000) => {
  for (const end = Date.now() + ms; Date.now() < end && !check();) await new Promise((r) => setTimeout(r, 50));
};

await main(async () => {
  const sbx = await Sandbox.create({ timeoutMs: 300_000 });
  try {
    const decoder = new TextDecoder();
    let screen = '';
    const pty = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => { screen += decoder.decode(d); } });
    await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('stty size\n'));
    await until(() => screen.includes('24 80'));
    await sbx.pty.resize(pty.pid, { cols: 100, rows: 30 });
    await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('stty size; exit\n'));
    await until(() => screen.includes('30 100'));
    const ptyEnd = await pty.wait().then((r) => r.exitCode, (e) => e.exitCode ?? String(e));

    const first = await sbx.commands.run('sleep 1; echo before; sleep 1; echo after', { background: true });
    await first.disconnect();
    const seen = [];
    const again = await sbx.commands.connect(first.pid, { onStdout: (d) => seen.push(d) });
    const result = await again.wait();
    return { sizes: ['24 80', '30 100'].map((s) => screen.includes(s)), ptyEnd, reconnected: result.stdout, seen: seen.join('') };
  } finally {
    await sbx.kill();
  }
});
