// The sandbox's user as E2B users see it: `user` (uid 1000, home /home/user) runs commands and owns what the files
// API writes, so a command can change it; `root` on request (root in a microVM, the same user under bubblewrap).
import { Sandbox } from 'e2b';
import { main } from './common.mjs';

await main(async () => {
  const sbx = await Sandbox.create({ timeoutMs: 300_000 });
  try {
    const run = async (cmd, opts) => (await sbx.commands.run(cmd, opts)).stdout;
    const who = await run('whoami; id -u; id -g; id -G; echo "$HOME $USER $LOGNAME"; pwd');
    const asRoot = await run('id -u; echo $HOME', { user: 'root' });
    await sbx.files.write('/home/user/api/note.txt', 'from the files API\n');
    await sbx.files.makeDir('/home/user/api/dir');
    await sbx.files.rename('/home/user/api/note.txt', '/home/user/api/dir/note.txt');
    const owners = await run('stat -c "%n %u:%g" /home/user /home/user/api /home/user/api/dir /home/user/api/dir/note.txt; stat -c "%n %a" /tmp');
    const modified = await run('echo by a command >> /home/user/api/dir/note.txt && cat /home/user/api/dir/note.txt');
    await sbx.files.write('/tmp/as-root.txt', 'root\n', { user: 'root' });
    const rootFile = await run('stat -c %u /tmp/as-root.txt');
    return { who, asRoot, owners, modified, rootFile };
  } finally {
    await sbx.kill();
  }
});
