// files.write, read, list (depth, /), exists, rename, remove, makeDir, getInfo and watchDir through envd's
// filesystem.Filesystem and /files, with the official e2b SDK; writes outside the writable roots are refused.
import { Sandbox } from 'e2b';
import { main, outcome } from './common.mjs';

const until = async (check, ms = 20_000) => {
  for (const end = Date.now() + ms; Date.now() < end && !check();) await new Promise((r) => setTimeout(r, 50));
};
const entry = (e) => ({ name: e.name, type: e.type, path: e.path, size: e.size, owner: e.owner, permissions: e.permissions });

await main(async () => {
  const sbx = await Sandbox.create({ timeoutMs: 300_000 });
  try {
    const written = await sbx.files.write('/home/user/hello.txt', 'hello world');
    const read = await sbx.files.read('/home/user/hello.txt');
    await sbx.files.write([{ path: 'multi/a.txt', data: 'A' }, { path: '/home/user/multi/b.txt', data: new Uint8Array([66, 10]) }]);
    const bytes = Array.from(await sbx.files.read('/home/user/multi/b.txt', { format: 'bytes' }));
    const home = (await sbx.files.list('/home/user')).map(entry);
    const deep = (await sbx.files.list('/home/user', { depth: 2 })).map((e) => e.path).sort();
    const root = (await sbx.files.list('/')).map((e) => e.name);
    const existsBefore = await sbx.files.exists('/home/user/hello.txt');
    const renamed = entry(await sbx.files.rename('/home/user/hello.txt', '/home/user/renamed.txt'));
    const existsOld = await sbx.files.exists('/home/user/hello.txt');
    const info = entry(await sbx.files.getInfo('/home/user/renamed.txt'));
    const made = await sbx.files.makeDir('/home/user/newdir/inner');
    const madeAgain = await sbx.files.makeDir('/home/user/newdir/inner');
    await sbx.files.remove('/home/user/renamed.txt');
    const existsRemoved = await sbx.files.exists('/home/user/renamed.txt');
    const missing = await outcome(sbx.files.read('/home/user/nope.txt'));
    const outsideWrite = await outcome(sbx.files.write('/usr/evil.txt', 'x'));
    const outsideDir = await outcome(sbx.files.makeDir('/usr/evil'));

    const events = [];
    const watch = await sbx.files.watchDir('/home/user/newdir', (e) => events.push({ name: e.name, type: e.type }));
    await sbx.files.write('/home/user/newdir/watched.txt', 'w');
    await sbx.commands.run('rm /home/user/newdir/watched.txt');
    await until(() => events.some((e) => e.name === 'watched.txt' && e.type === 'remove'));
    await watch.stop();

    return {
      written: { name: written.name, path: written.path, type: written.type }, read, bytes, home, deep, root,
      existsBefore, renamed, existsOld, info, made, madeAgain, existsRemoved, missing, outsideWrite, outsideDir, events,
    };
  } finally {
    await sbx.kill();
  }
});
