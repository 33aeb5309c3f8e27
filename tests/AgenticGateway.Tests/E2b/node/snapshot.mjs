// createSnapshot, listSnapshots, Sandbox.create(snapshotId), fork and deleteSnapshot with the e2b SDKs: a sandbox made
// from a snapshot (or forked) starts with the files its source had, and the source keeps running.
import { Sandbox } from '@e2b/code-interpreter';
import { main, outcome } from './common.mjs';

await main(async () => {
  const source = await Sandbox.create({ timeoutMs: 300_000 });
  const made = [];
  try {
    await source.runCode('open("/home/user/state.txt", "w").write("from the source")');
    const snapshot = await source.createSnapshot();
    const listed = [];
    const paginator = Sandbox.listSnapshots({ sandboxId: source.sandboxId });
    while (paginator.hasNext) listed.push(...(await paginator.nextItems()).map((s) => s.snapshotId));
    const fromSnapshot = await Sandbox.create(snapshot.snapshotId, { timeoutMs: 120_000 });
    made.push(fromSnapshot);
    const readFromSnapshot = (await fromSnapshot.runCode('open("/home/user/state.txt").read()')).text;
    const forks = await source.fork({ count: 2, timeoutMs: 120_000 });
    made.push(...forks.filter((f) => !(f instanceof Error)));
    const forkReads = [];
    for (const f of forks) forkReads.push(f instanceof Error ? `error: ${f.message}` : (await f.runCode('open("/home/user/state.txt").read()')).text);
    const sourceState = (await source.getInfo()).state;
    const deleted = await Sandbox.deleteSnapshot(snapshot.snapshotId);
    const deletedAgain = await Sandbox.deleteSnapshot(snapshot.snapshotId);
    const createFromDeleted = await outcome(Sandbox.create(snapshot.snapshotId));
    return {
      source: source.sandboxId, snapshotId: snapshot.snapshotId, listed, fromSnapshot: fromSnapshot.sandboxId, readFromSnapshot,
      forkIds: forks.map((f) => (f instanceof Error ? null : f.sandboxId)), forkReads, sourceState, deleted, deletedAgain, createFromDeleted,
    };
  } finally {
    for (const s of [source, ...made]) await s.kill().catch(() => {});
  }
});
