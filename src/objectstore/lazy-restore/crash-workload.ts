// The workload of the lazy-restore crash test, shared by the worker (which runs it) and the test (which
// replays it into a model): seeded writes and trims of a volume cloned from an archived snapshot.
import { seededRandom } from '../../base/prng.ts';
import { units } from '../../base/limits.ts';

/** The archived golden snapshot's size: 128 chunks of 512 KiB. */
export const crashVolumeBytes = 64 * units.MiB;
export const crashVolumeId = 'vol-00000000000000c0a';
export const crashSnapshotId = 'snap-00000000000000c0b';
/** Hydration rate in the worker: slow enough that kills land mid-hydration, fast enough to fill some. */
export const crashHydrationBytesPerSecond = 4 * units.MiB;
/** Pause between operations, so writes do not touch every chunk before the kills are done. */
export const crashOpPauseMs = 20;

/** One operation, acknowledged with FUA before the next starts. */
export type CrashOp =
  | { readonly type: 'write'; readonly offset: number; readonly data: Buffer }
  | { readonly type: 'trim'; readonly offset: number; readonly length: number };

/** Operation `index` of run `seed`: the same for the worker and the test. */
export function crashOp(seed: number, index: number): CrashOp {
  const random = seededRandom(seed * 1_000_003 + index);
  const offset = Math.floor(random() * (crashVolumeBytes / 512 - 256)) * 512;
  const length = 512 * (1 + Math.floor(random() * 255));
  if (random() < 0.2) return { type: 'trim', offset, length };
  const data = Buffer.alloc(length);
  for (let at = 0; at < length; at += 4) data.writeUInt32LE(Math.floor(random() * 2 ** 32), at);
  return { type: 'write', offset, data };
}

/** The byte range an operation touches. */
export function crashOpRange(op: CrashOp): { offset: number; length: number } {
  return { offset: op.offset, length: op.type === 'write' ? op.data.length : op.length };
}

/** Applies an operation to a byte model of the volume. */
export function applyCrashOp(model: Buffer, op: CrashOp): void {
  if (op.type === 'write') op.data.copy(model, op.offset);
  else model.fill(0, op.offset, op.offset + op.length);
}
