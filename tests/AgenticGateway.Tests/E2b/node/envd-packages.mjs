// pip install and npm install inside the sandbox, offline from local sources: pip despite Debian's PEP 668 marker
// (into the user site), npm into /home/user/node_modules; nothing outside the sandbox's own space.
import { Sandbox } from 'e2b';
import { main } from './common.mjs';

await main(async () => {
  const sbx = await Sandbox.create({ timeoutMs: 300_000 });
  try {
    await sbx.files.write('/home/user/pydemo/setup.py', "from setuptools import setup\nsetup(name='agwdemo', version='1.0', py_modules=['agwdemo'])\n");
    await sbx.files.write('/home/user/pydemo/agwdemo.py', "ANSWER = 42\n");
    const pip = await sbx.commands.run('pip install --no-index --no-build-isolation ./pydemo 2>&1', { timeoutMs: 120_000 });
    const imported = await sbx.commands.run('cd /tmp && python3 -c "import agwdemo, os; print(agwdemo.ANSWER, agwdemo.__file__.startswith(os.path.expanduser(\'~\')))"');
    await sbx.files.write('/home/user/jsdemo/package.json', JSON.stringify({ name: 'agw-jsdemo', version: '1.0.0', main: 'index.js' }));
    await sbx.files.write('/home/user/jsdemo/index.js', 'module.exports = 43;\n');
    const npm = await sbx.commands.run('npm install --offline --no-audit --no-fund ./jsdemo 2>&1', { timeoutMs: 120_000 });
    const required = await sbx.commands.run('node -e "console.log(require(\'agw-jsdemo\'))"');
    return { pip: pip.exitCode, imported: imported.stdout, npm: npm.exitCode, required: required.stdout };
  } finally {
    await sbx.kill();
  }
});
