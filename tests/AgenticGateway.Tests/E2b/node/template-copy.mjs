// Template.build with COPY: the SDK hashes each COPY's files, asks GET /templates/{id}/files/{hash} for an upload link,
// PUTs a gzipped tar there, starts the build and polls its status; a RUN step reads what was copied; building again
// finds the files cached (no upload); Sandbox.create(name) starts with them. Input: TEMPLATE_NAME.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox, Template } from 'e2b';
import { main, input } from './common.mjs';

await main(async () => {
  const name = input('TEMPLATE_NAME');
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'agw-e2b-template-'));
  try {
    fs.writeFileSync(path.join(context, 'hello.txt'), 'hello from a copied file\n');
    fs.mkdirSync(path.join(context, 'data', 'nested'), { recursive: true });
    fs.writeFileSync(path.join(context, 'data', 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(context, 'data', 'nested', 'b.txt'), 'beta\n');
    fs.writeFileSync(path.join(context, 'data', 'run.sh'), '#!/bin/sh\necho "ran from the copied directory"\n', { mode: 0o755 });

    const template = Template({ fileContextPath: context })
      .fromTemplate('base')
      .copy('hello.txt', '/home/user/hello.txt')
      .copy('data', '/home/user/data')
      .runCmd('cat hello.txt data/a.txt data/nested/b.txt > combined.txt && ./data/run.sh >> combined.txt && echo "read the copies"');

    const first = [];
    const built = await Template.build(template, name, { onBuildLogs: (e) => first.push(e.message) });
    const second = [];
    const rebuilt = await Template.build(template, name, { onBuildLogs: (e) => second.push(e.message) });

    const sandbox = await Sandbox.create(name, { timeoutMs: 120_000 });
    try {
      return {
        templateId: built.templateId,
        rebuiltTemplateId: rebuilt.templateId,
        firstLogs: first,
        secondLogs: second,
        templateIdInSandbox: (await sandbox.getInfo()).templateId,
        hello: await sandbox.files.read('/home/user/hello.txt'),
        combined: await sandbox.files.read('/home/user/combined.txt'),
        data: (await sandbox.files.list('/home/user/data')).map((e) => e.name).sort(),
        nested: await sandbox.files.read('/home/user/data/nested/b.txt'),
        runs: (await sandbox.commands.run('/home/user/data/run.sh')).stdout,
      };
    } finally {
      await sandbox.kill();
    }
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
});
