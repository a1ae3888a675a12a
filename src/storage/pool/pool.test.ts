import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError, type BlockStore } from '../block-store.ts';
import { openBlockStore } from '../open-block-store.ts';
import { fsckPool } from './fsck.ts';
import { openPool } from './pool.ts';
import { openRealDataFile, type DataFile } from './data-file.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const extent = 64 * KiB;

async function withPool(
  run: (store: BlockStore, dir: string) => Promise<void>,
  options: { capacityBytes?: number; extentBytes?: number } = {},
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-pool-'));
  const store = await openBlockStore({ dir, capacityBytes: options.capacityBytes ?? 64 * MiB, ...options });
  try {
    await run(store, dir);
    await store.close();
    const report = await fsckPool(dir);
    assert.deepEqual(report.problems, [], `fsck: ${report.problems.join('; ')}`);
  } finally {
    await store.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buffer[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return buffer;
}

test('unwritten space reads as zeros and costs nothing; writes read back at any alignment', async () => {
  await withPool(async (store) => {
    await store.createVolume('vol-a', 4 * MiB);
    assert.deepEqual(await store.read('vol-a', 12345, 1000), Buffer.alloc(1000));
    assert.equal(store.usage().usedBytes, 0);
    const data = pattern(200_000, 1);
    await store.write('vol-a', 70_001, data);
    assert.deepEqual(await store.read('vol-a', 70_001, data.length), data);
    assert.deepEqual(await store.read('vol-a', 0, 70_001), Buffer.alloc(70_001));
    assert.equal(store.usage().usedBytes, 4 * extent); // blocks 1..4
    assert.deepEqual(store.deviceUsage('vol-a'), { mappedBytes: 4 * extent, ownedBytes: 4 * extent });
  });
});

test('snapshots are frozen; only the first write to an extent after a snapshot copies', async () => {
  await withPool(async (store) => {
    await store.createVolume('vol-a', 1 * MiB);
    const before = pattern(1 * MiB, 2);
    await store.write('vol-a', 0, before);
    await store.snapshot('vol-a', 'snap-1');
    const used = store.usage().usedBytes;
    await store.write('vol-a', 100, Buffer.from('hello'));
    await store.write('vol-a', 200, Buffer.from('again'));
    assert.equal(
      store.usage().usedBytes,
      used + extent,
      'second write to the same extent must not copy again',
    );
    assert.deepEqual(await store.read('snap-1', 0, 1 * MiB), before);
    const after = Buffer.from(before);
    after.write('hello', 100);
    after.write('again', 200);
    assert.deepEqual(await store.read('vol-a', 0, 1 * MiB), after);
    await assert.rejects(store.write('snap-1', 0, Buffer.alloc(1)), (e: StoreError) => e.code === 'EROFS');
    assert.deepEqual(store.diff('snap-1', 'vol-a'), [{ offset: 0, length: extent, allocated: true }]);
  });
});

test('clones to any depth read through, and deletion in any order keeps the rest intact', async () => {
  await withPool(async (store) => {
    await store.createVolume('vol-0', 512 * KiB);
    await store.write('vol-0', 0, pattern(512 * KiB, 3));
    const expected = new Map<string, Buffer>([['vol-0', pattern(512 * KiB, 3)]]);
    let parent = 'vol-0';
    for (let depth = 1; depth <= 10; depth++) {
      await store.snapshot(parent, `snap-${depth}`);
      expected.set(`snap-${depth}`, Buffer.from(expected.get(parent)!));
      await store.clone(`snap-${depth}`, `vol-${depth}`, 768 * KiB);
      const content = Buffer.concat([
        expected.get(parent)!,
        Buffer.alloc(768 * KiB - expected.get(parent)!.length),
      ]);
      const patch = pattern(1000, depth);
      patch.copy(content, depth * 50_000);
      await store.write(`vol-${depth}`, depth * 50_000, patch);
      expected.set(`vol-${depth}`, content.subarray(0, 768 * KiB));
      parent = `vol-${depth}`;
      expected.set(parent, Buffer.from(content.subarray(0, 512 * KiB)));
      expected.set(parent, Buffer.from(content));
    }
    for (const id of ['vol-0', 'snap-3', 'vol-5', 'snap-1', 'vol-9', 'snap-7']) {
      if (id.startsWith('vol')) await store.deleteVolume(id);
      else await store.deleteSnapshot(id);
      expected.delete(id);
      for (const [other, content] of expected) {
        const device = store.device(other)!;
        assert.deepEqual(
          await store.read(other, 0, device.sizeBytes),
          content.subarray(0, device.sizeBytes),
          other,
        );
      }
    }
    for (const id of [...expected.keys()]) {
      if (id.startsWith('vol')) await store.deleteVolume(id);
      else await store.deleteSnapshot(id);
    }
    assert.deepEqual(store.devices(), []);
    await store.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.flush();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(store.usage().usedBytes, 0, 'every extent comes back');
  });
});

test('trim unmaps whole extents and zeroes partial ones; mapRange reports it', async () => {
  await withPool(async (store) => {
    await store.createVolume('vol-a', 1 * MiB);
    await store.write('vol-a', 0, pattern(1 * MiB, 4));
    await store.snapshot('vol-a', 'snap-1');
    await store.trim('vol-a', 1000, 3 * extent);
    const expected = pattern(1 * MiB, 4);
    expected.fill(0, 1000, 1000 + 3 * extent);
    assert.deepEqual(await store.read('vol-a', 0, 1 * MiB), expected);
    assert.deepEqual(await store.read('snap-1', 0, 1 * MiB), pattern(1 * MiB, 4));
    assert.deepEqual(store.mapRange('vol-a', 0, 4 * extent), [
      { offset: 0, length: extent, allocated: true },
      { offset: extent, length: 2 * extent, allocated: false },
      { offset: 3 * extent, length: extent, allocated: true },
    ]);
    await store.writeZeroes('vol-a', 5 * extent, extent, { noHole: true });
    assert.equal(store.mapRange('vol-a', 5 * extent, extent)[0]!.allocated, true);
    assert.deepEqual(await store.read('vol-a', 5 * extent, extent), Buffer.alloc(extent));
  });
});

test('out of space fails the write with ENOSPC and leaves the pool working', async () => {
  await withPool(
    async (store) => {
      await store.createVolume('vol-a', 1 * MiB);
      await store.write('vol-a', 0, pattern(4 * extent, 5));
      await assert.rejects(store.write('vol-a', 4 * extent, pattern(extent + 1, 6)), (e: StoreError) => {
        return e instanceof StoreError && e.code === 'ENOSPC';
      });
      assert.deepEqual(await store.read('vol-a', 0, 4 * extent), pattern(4 * extent, 5));
      await store.write('vol-a', 10, Buffer.from('in place still works'));
      await store.trim('vol-a', 0, extent);
      await store.write('vol-a', 6 * extent, pattern(100, 7));
      assert.deepEqual(await store.read('vol-a', 6 * extent, 100), pattern(100, 7));
    },
    { capacityBytes: 5 * extent },
  );
});

test('a pool reopens with its data, devices and lineage; it can grow', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-pool-'));
  try {
    const store = await openBlockStore({ dir, capacityBytes: 8 * MiB });
    await store.createVolume('vol-a', 1 * MiB);
    await store.write('vol-a', 3, pattern(300_000, 8));
    await store.snapshot('vol-a', 'snap-1');
    await store.clone('snap-1', 'vol-b', 2 * MiB);
    await store.write('vol-b', 5, Buffer.from('clone'));
    await store.close();
    const again = await openBlockStore({ dir, capacityBytes: 16 * MiB, extentBytes: 4096 });
    assert.equal(again.extentBytes, extent);
    assert.equal(again.usage().capacityBytes, 16 * MiB);
    assert.deepEqual(await again.read('snap-1', 3, 300_000), pattern(300_000, 8));
    assert.equal((await again.read('vol-b', 5, 5)).toString(), 'clone');
    assert.deepEqual(again.device('vol-b'), {
      id: 'vol-b',
      kind: 'volume',
      sizeBytes: 2 * MiB,
      parentId: 'snap-1',
    });
    await again.close();
    assert.deepEqual((await fsckPool(dir)).problems, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('concurrent writes, reads and snapshots of one volume stay whole', async () => {
  await withPool(async (store) => {
    await store.createVolume('vol-a', 1 * MiB);
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 64; i++) {
      ops.push(store.write('vol-a', (i % 8) * 4096 + 100, Buffer.alloc(4096, i + 1)));
      if (i % 16 === 5) ops.push(store.snapshot('vol-a', `snap-${i}`));
    }
    await Promise.all(ops);
    // Each snapshot holds, per 4 KiB slot, one whole write (never a mix of two).
    for (const id of ['snap-5', 'snap-21', 'snap-37', 'snap-53', 'vol-a']) {
      const content = await store.read(id, 100, 8 * 4096);
      for (let slot = 0; slot < 8; slot++) {
        const bytes = content.subarray(slot * 4096, (slot + 1) * 4096);
        assert.ok(
          bytes.every((b) => b === bytes[0]),
          `${id} slot ${slot} is torn`,
        );
      }
    }
  });
});

test('errors are typed: ENOENT, EEXIST, EINVAL', async () => {
  await withPool(async (store) => {
    await store.createVolume('vol-a', 4096);
    await assert.rejects(store.createVolume('vol-a', 4096), (e: StoreError) => e.code === 'EEXIST');
    await assert.rejects(store.read('vol-x', 0, 1), (e: StoreError) => e.code === 'ENOENT');
    await assert.rejects(store.read('vol-a', 4000, 100), (e: StoreError) => e.code === 'EINVAL');
    await assert.rejects(store.createVolume('vol-b', 1000), (e: StoreError) => e.code === 'EINVAL');
    await assert.rejects(store.resizeVolume('vol-a', 512), (e: StoreError) => e.code === 'EINVAL');
    const removed: string[] = [];
    store.onDeviceRemoved((id) => removed.push(id));
    await store.deleteVolume('vol-a');
    assert.deepEqual(removed, ['vol-a']);
  });
});

test('one process owns a pool: a second open and an online fsck are refused', async () => {
  await withPool(async (store, dir) => {
    await store.createVolume('vol-a', 4096);
    await assert.rejects(openBlockStore({ dir }), (e: StoreError) => e.code === 'EBUSY');
    assert.match((await fsckPool(dir)).problems.join(), /open in another process/);
  });
});

test('a 1 TiB thin volume: maps, diff, usage and trim cost what is mapped, not the device size', async () => {
  await withPool(async (store) => {
    const TiB = 1024 * 1024 * MiB;
    await store.createVolume('vol-big', TiB);
    await store.write('vol-big', 0, pattern(100, 1));
    await store.write('vol-big', TiB - 100, pattern(100, 2));
    await store.snapshot('vol-big', 'snap-big');
    await store.clone('snap-big', 'vol-clone');
    await store.write('vol-clone', 512 * MiB, pattern(100, 3));
    const started = performance.now();
    assert.equal(store.mapRange('vol-big', 0, TiB).filter((r) => r.allocated).length, 2);
    assert.deepEqual(
      store.diff('snap-big', 'vol-clone').map((r) => r.offset),
      [512 * MiB],
    );
    assert.equal(store.diff(null, 'vol-clone').length, 3);
    assert.equal(store.deviceUsage('vol-clone').mappedBytes, 3 * extent);
    await store.trim('vol-clone', 0, TiB);
    assert.deepEqual(store.mapRange('vol-clone', 0, TiB), [{ offset: 0, length: TiB, allocated: false }]);
    assert.ok(performance.now() - started < 2000, 'range operations iterate mapped rows only');
    assert.deepEqual(await store.read('snap-big', TiB - 100, 100), pattern(100, 2));
  });
});

test('a write that finds the pool full first reuses space freed by deletes', async () => {
  await withPool(
    async (store) => {
      await store.createVolume('vol-a', 4 * extent);
      await store.write('vol-a', 0, pattern(4 * extent, 1));
      await store.createVolume('vol-b', 4 * extent);
      await store.deleteVolume('vol-a');
      // No flush: the frees are pending; the write must commit them and retry instead of failing.
      await store.write('vol-b', 0, pattern(4 * extent, 2));
      assert.deepEqual(await store.read('vol-b', 0, 4 * extent), pattern(4 * extent, 2));
      assert.equal(store.usage().usedBytes, 4 * extent);
    },
    { capacityBytes: 4 * extent },
  );
});

test('a failed commit stops the pool (fail-stop); reopening finds everything flushed before it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-pool-'));
  try {
    const real = await openRealDataFile(join(dir, 'data'));
    let failSync = false;
    const flaky: DataFile = {
      read: (...args) => real.read(...args),
      write: (...args) => real.write(...args),
      sync: () => (failSync ? Promise.reject(new Error('EIO: injected')) : real.sync()),
      punch: (position, length) => real.punch(position, length),
      truncate: (length) => real.truncate(length),
      sizeBytes: () => real.sizeBytes(),
      close: () => real.close(),
    };
    const store = await openPool({ dir, dataFile: flaky, capacityBytes: 16 * MiB });
    await store.createVolume('vol-a', 1 * MiB);
    await store.write('vol-a', 0, pattern(100_000, 1));
    await store.flush();
    failSync = true;
    await store.write('vol-a', 500_000, pattern(1000, 2));
    await assert.rejects(store.flush(), /failed to commit/);
    await assert.rejects(store.read('vol-a', 0, 10), /failed to commit/);
    await assert.rejects(store.snapshot('vol-a', 'snap-a'), /failed to commit/);
    await store.close();
    assert.deepEqual((await fsckPool(dir)).problems, []);
    const again = await openBlockStore({ dir });
    assert.deepEqual(await again.read('vol-a', 0, 100_000), pattern(100_000, 1));
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
