// commands.run foreground (exit codes, CommandExitError), background with onStdout, commands.list, commands.kill,
// sendStdin, envs, cwd and timeouts per command, through envd's process.Process, with the official e2b SDK.
import { Sandbox, CommandExitError } from 'e2b';
import { main, outcome, describe } from './common.mjs';

const until = async (check, ms = 20_000) => {
  for (const end = Date.now() + ms; Date.now() < end && !check();) await new Promise((r) => setTimeout(r, 50));
};

await main(async () => {
  const sbx = await Sandbox.create({ envs: { FROM_CREATE: 'created' }, timeoutMs: 300_000 });
  try {
    const fg = await sbx.commands.run('echo hello; echo oops >&2');
    let exit = null;
    try {
      await sbx.commands.run('echo partial; exit 3');
    } catch (e) {
      exit = { ...describe(e), isCommandExitError: e instanceof CommandExitError, exitCode: e.exitCode, stdout: e.stdout };
    }
    const envCwd = await sbx.commands.run('echo $GREETING $FROM_CREATE; pwd', { envs: { GREETING: 'hi-env' }, cwd: '/tmp' });
    const who = await sbx.commands.run('whoami; echo $HOME; pwd');
    const asRoot = await sbx.commands.run('pwd', { user: 'root' });

    const ticks = [];
    const bg = await sbx.commands.run('for i in 1 2 3; do echo tick-$i; sleep 0.1; done; sleep 600', {
      background: true, timeoutMs: 0, onStdout: (d) => ticks.push(d),
    });
    await until(() => ticks.join('').includes('tick-3'));
    const listed = await sbx.commands.list();
    const listedBg = listed.find((p) => p.pid === bg.pid) ?? null;
    const killed = await sbx.commands.kill(bg.pid);
    const bgEnd = await outcome(bg.wait());
    const killedAgain = await sbx.commands.kill(bg.pid);
    const listedAfter = (await sbx.commands.list()).some((p) => p.pid === bg.pid);

    const reader = await sbx.commands.run('read a; echo got-$a', { background: true, stdin: true });
    await sbx.commands.sendStdin(reader.pid, 'ping\n');
    const readerEnd = await reader.wait();

    const started = Date.now();
    const timedOut = await outcome(sbx.commands.run('sleep 30', { timeoutMs: 1500 }));
    const timedOutAfterMs = Date.now() - started;
    // The client gives up at its deadline, the sandbox kills the command at the same one: give the kill a moment.
    let stillThere = -1;
    for (let i = 0; i < 50 && stillThere !== 0; i++) {
      stillThere = (await sbx.commands.list()).filter((p) => p.cmd === '/bin/bash' && p.args.join(' ').includes('sleep 30')).length;
      if (stillThere) await new Promise((r) => setTimeout(r, 100));
    }

    return {
      fg: { stdout: fg.stdout, stderr: fg.stderr, exitCode: fg.exitCode },
      exit, envCwd: envCwd.stdout, who: who.stdout, asRoot: asRoot.stdout,
      ticks: ticks.join(''), listedBg, killed, bgEnd, killedAgain, listedAfter,
      reader: readerEnd.stdout, timedOut, timedOutAfterMs, stillThere,
    };
  } finally {
    await sbx.kill();
  }
});
