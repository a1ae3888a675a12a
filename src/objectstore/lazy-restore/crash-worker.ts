// Child process of the lazy-restore crash test: a volume cloned from an archived snapshot hydrates in the
// background while seeded FUA writes and trims land on it, until the test SIGKILLs it. After each
// acknowledged operation it appends the operation's index to the progress file and fdatasyncs it.
// Usage: node --import tsx src/objectstore/lazy-restore/crash-worker.ts <dir> <archive-dir> <seed> <progress-file>
import { fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../base/log.ts';
import { openBlockStore } from '../../storage/open-block-store.ts';
import { openDirStore } from '../dir/dir-store.ts';
import {
  crashHydrationBytesPerSecond,
  crashOp,
  crashOpPauseMs,
  crashSnapshotId,
  crashVolumeId,
} from './crash-workload.ts';
import { openLazyRestoreStore } from './lazy-store.ts';

const [dir, archiveDir, seedText, progressPath] = process.argv.slice(2);
if (dir === undefined || archiveDir === undefined || seedText === undefined || progressPath === undefined) {
  console.error('usage: crash-worker.ts <dir> <archive-dir> <seed> <progress-file>');
  process.exit(2);
}
const seed = Number(seedText);
const store = await openLazyRestoreStore({
  inner: await openBlockStore({ dir: join(dir, 'pool') }),
  source: await openDirStore(archiveDir),
  recordsPath: join(dir, 'lazy-restore.json'),
  logger: silentLogger,
  hydrationBytesPerSecond: crashHydrationBytesPerSecond,
});
if (store.device(crashVolumeId) === undefined) {
  await store.adoptArchived(crashSnapshotId);
  await store.clone(crashSnapshotId, crashVolumeId);
}
const progress = openSync(progressPath, 'a');
process.stdout.write('ready\n');
for (let index = 0; ; index++) {
  const op = crashOp(seed, index);
  if (op.type === 'write') await store.write(crashVolumeId, op.offset, op.data, { fua: true });
  else await store.trim(crashVolumeId, op.offset, op.length, { fua: true });
  writeSync(progress, `${index}\n`);
  fdatasyncSync(progress);
  await new Promise((resolve) => setTimeout(resolve, crashOpPauseMs));
}
