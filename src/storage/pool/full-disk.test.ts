// A full file system is an error to the writer, never an outage (docs/storage.md, "Out of space"): on a small
// tmpfs of its own, writes past the end of space get ENOSPC while reads go on, the metadata commit has its
// reserve, deletes give space back to the file system (holes), and the pool recovers without reopening.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, statfs, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limits } from '../../base/limits.ts';
import { fillUp, tmpfsSkipReason, withTmpfs } from '../../base/testing/tmpfs.ts';
import { StoreError } from '../block-store.ts';
import { openRealDataFile, type DataFile } from './data-file.ts';
import { fsckPool } from './fsck.ts';
import { openPool, type Pool } from './pool.ts';

const MiB = 1024 * 1024;
const extent = limits.extentBytesDefault;
const skip = tmpfsSkipReason();

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buffer[i] = (i * 29 + seed * 13 + 5) & 0xff;
  return buffer;
}

const isNoSpace = (error: unknown) => error instanceof StoreError && error.code === 'ENOSPC';

async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/** Writes 1 MiB chunks from `offset` until the pool answers ENOSPC; returns the bytes written. */
async function writeUntilFull(pool: Pool, id: string, offset: number): Promise<number> {
  let written = 0;
  for (;;) {
    try {
      await pool.write(id, offset + written, pattern(MiB, written / MiB));
    } catch (error) {
      assert.ok(isNoSpace(error), `expected ENOSPC, got ${String(error)}`);
      return written;
    }
    written += MiB;
  }
}

/** Waits until background reclaim brought the pool down to `usedBytes` and every free was released. */
async function settle(pool: Pool, usedBytes: number): Promise<void> {
  const done = () => pool.usage().usedBytes <= usedBytes && pool.usage().pendingFreeBytes === 0;
  for (let i = 0; i < 500 && !done(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    await pool.flush();
  }
  assert.ok(done(), `reclaim settled: ${JSON.stringify(pool.usage())}`);
}

async function checkClean(dir: string): Promise<void> {
  const report = await fsckPool(dir);
  assert.deepEqual(report.problems, [], `fsck: ${report.problems.join('; ')}`);
}

test('a full file system fails writes with ENOSPC, keeps reads, and recovers after deletes', { skip }, () =>
  withTmpfs(64 * MiB, async (mount) => {
    const dir = join(mount, 'pool');
    const pool = await openPool({ dir });
    try {
      await pool.createVolume('vol-a', 256 * MiB);
      await pool.write('vol-a', 0, pattern(4 * MiB, 99));
      await pool.snapshot('vol-a', 'snap-a');
      const written = await writeUntilFull(pool, 'vol-a', 4 * MiB);
      // The headroom and the reserve stay free: the pool stops short of the file system's end.
      assert.ok(written >= 8 * MiB && written < 60 * MiB, `wrote ${written / MiB} MiB before ENOSPC`);
      assert.ok(pool.usage().availableBytes < MiB, 'no room reported');
      assert.equal(pool.space().fullness, 'full');
      assert.ok((await freeBytes(mount)) >= limits.storageHeadroomBytes - 2 * MiB, 'headroom kept free');
      // Reads of everything work; in-place writes and flushes too (they need no new space).
      assert.deepEqual(await pool.read('snap-a', 0, 4 * MiB), pattern(4 * MiB, 99));
      assert.deepEqual(await pool.read('vol-a', 4 * MiB, MiB), pattern(MiB, 0));
      await pool.write('vol-a', 4 * MiB + 10, Buffer.from('in place'));
      await pool.flush();
      await pool.createVolume('vol-b', 64 * MiB);
      await assert.rejects(pool.write('vol-b', 0, pattern(4 * MiB, 7)), isNoSpace);

      // Deleting gives the space back to the file system (punched holes), and writes work again.
      const before = await freeBytes(mount);
      await pool.deleteVolume('vol-a');
      await settle(pool, 4 * MiB);
      const returned = (await freeBytes(mount)) - before;
      assert.ok(
        returned >= written - MiB,
        `df moved by ${returned / MiB} MiB after freeing ${written / MiB}`,
      );
      await pool.write('vol-b', 0, pattern(4 * MiB, 7));
      assert.deepEqual(await pool.read('vol-b', 0, 4 * MiB), pattern(4 * MiB, 7));
      assert.notEqual(pool.space().fullness, 'full');
    } finally {
      await pool.close();
    }
    await checkClean(dir);
    const again = await openPool({ dir });
    assert.deepEqual(await again.read('snap-a', 0, 4 * MiB), pattern(4 * MiB, 99));
    await again.close();
  }),
);

test('when something else fills the disk, the reserve lets the metadata commit through', { skip }, () =>
  withTmpfs(48 * MiB, async (mount) => {
    const dir = join(mount, 'pool');
    const pool = await openPool({ dir });
    const filler = join(mount, 'filler');
    try {
      await pool.createVolume('vol-a', 16 * MiB);
      await pool.write('vol-a', 0, pattern(2 * MiB, 3));
      await pool.snapshot('vol-a', 'snap-a');
      await pool.write('vol-a', 4 * MiB, pattern(MiB, 5));
      await fillUp(filler);
      // Control operations commit metadata into a full file system until the reserve is spent.
      let made = 0;
      for (; made < 20_000; made++) {
        try {
          await pool.createVolume(`vol-${made}`, MiB);
        } catch (error) {
          assert.ok(isNoSpace(error), `expected ENOSPC, got ${String(error)}`);
          break;
        }
      }
      assert.ok(made < 20_000, 'metadata kept growing into a full file system');
      assert.equal(pool.space().reserveHeld, false, 'the reserve was used');
      await assert.rejects(pool.snapshot('vol-a', 'snap-b'), isNoSpace);
      await assert.rejects(pool.write('vol-a', 8 * MiB, pattern(MiB, 4)), isNoSpace);
      // Reads, in-place writes, flushes and deletes still work.
      assert.deepEqual(await pool.read('snap-a', 0, 2 * MiB), pattern(2 * MiB, 3));
      await pool.write('vol-a', 4 * MiB + 100, Buffer.from('in place'));
      await pool.flush();
      if (made > 0) await pool.deleteVolume('vol-0');
      // Space comes back: the pool takes its reserve again and carries on, without reopening.
      await unlink(filler);
      await pool.snapshot('vol-a', 'snap-b');
      await pool.write('vol-a', 8 * MiB, pattern(MiB, 4));
      assert.equal(pool.space().reserveHeld, true);
      assert.deepEqual(await pool.read('vol-a', 8 * MiB, MiB), pattern(MiB, 4));
    } finally {
      await pool.close();
    }
    await checkClean(dir);
    const again = await openPool({ dir });
    assert.deepEqual(await again.read('snap-a', 0, 2 * MiB), pattern(2 * MiB, 3));
    assert.equal((await again.read('snap-b', 4 * MiB + 100, 8)).toString(), 'in place');
    await again.close();
  }),
);

test('a write whose data I/O fails with ENOSPC changes nothing and is reported as ENOSPC', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-pool-'));
  try {
    const real = await openRealDataFile(join(dir, 'data'));
    let failWrites = false;
    const full = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const flaky: DataFile = {
      read: (...args) => real.read(...args),
      write: (...args) => (failWrites ? Promise.reject(full()) : real.write(...args)),
      sync: () => real.sync(),
      punch: (position, length) => real.punch(position, length),
      truncate: (length) => real.truncate(length),
      sizeBytes: () => real.sizeBytes(),
      close: () => real.close(),
    };
    const pool = await openPool({ dir, dataFile: flaky });
    await pool.createVolume('vol-a', 4 * MiB);
    await pool.write('vol-a', 0, pattern(2 * extent, 1));
    await pool.snapshot('vol-a', 'snap-a');
    const used = pool.usage().usedBytes;
    failWrites = true;
    // A copy-on-write after the snapshot, a partial first write and a whole-extent write: all undone.
    await assert.rejects(pool.write('vol-a', 100, pattern(3 * extent, 2)), isNoSpace);
    await assert.rejects(pool.write('vol-a', 3 * extent + 7, pattern(100, 3)), isNoSpace);
    assert.equal(pool.usage().usedBytes, used, 'no extent kept by failed writes');
    assert.deepEqual(await pool.read('vol-a', 0, 4 * extent), await pool.read('snap-a', 0, 4 * extent));
    assert.deepEqual(pool.mapRange('vol-a', 0, 4 * MiB), pool.mapRange('snap-a', 0, 4 * MiB));
    failWrites = false;
    await pool.write('vol-a', 100, pattern(3 * extent, 2));
    await pool.flush();
    assert.deepEqual(await pool.read('vol-a', 100, 3 * extent), pattern(3 * extent, 2));
    assert.deepEqual(await pool.read('snap-a', 0, 2 * extent), pattern(2 * extent, 1));
    await pool.close();
    await checkClean(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
