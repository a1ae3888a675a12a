// Concurrency: workers write, trim and read interleaved regions of shared volumes while snapshots and clones
// are taken; every snapshot must hold, per worker region, a state that region had while the snapshot ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlockStore, fsckPool } from '../open-block-store.ts';
import { Rng, content } from './testing/workload.ts';

const seed = process.env.STRATA_SEED !== undefined ? Number(process.env.STRATA_SEED) : Date.now() % 1e9;
const extentBytes = 4096;
const workers = 6;
/** Worker w owns bytes [k*stride + w*slot, +slot) for every k: regions interleave inside every extent. */
const slot = 700;
const stride = workers * slot;
const volumeBytes = 64 * stride;

test(`concurrent writers, snapshots and clones never tear or mix data (seed ${seed})`, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-concurrency-'));
  const store = await openBlockStore({ dir, extentBytes, capacityBytes: 64 * 1024 * 1024 });
  try {
    await store.createVolume('vol-a', volumeBytes);
    const history: Buffer[][] = Array.from({ length: workers }, () => [Buffer.alloc(64 * slot)]);
    const region = (data: Buffer, worker: number) => {
      const out = Buffer.alloc(64 * slot);
      for (let k = 0; k < 64; k++)
        data.copy(out, k * slot, k * stride + worker * slot, k * stride + (worker + 1) * slot);
      return out;
    };
    const work = async (worker: number) => {
      const rng = new Rng(seed + worker);
      for (let op = 0; op < 150; op++) {
        const k = rng.int(0, 63);
        const offset = k * stride + worker * slot + rng.int(0, slot - 1);
        const length = rng.int(1, k * stride + (worker + 1) * slot - offset);
        const state = Buffer.from(history[worker]!.at(-1)!);
        const at = offset - k * stride - worker * slot + k * slot;
        if (rng.int(0, 4) === 0) {
          await store.trim('vol-a', offset, length);
          state.fill(0, at, at + length);
        } else {
          const data = content(rng.int(1, 2 ** 30), length);
          await store.write('vol-a', offset, data);
          data.copy(state, at);
        }
        history[worker]!.push(state);
        const read = await store.read('vol-a', offset, length);
        assert.deepEqual(read, state.subarray(at, at + length), `worker ${worker} reads its own write`);
      }
    };
    const snapshots: { id: string; before: number[]; after: number[] }[] = [];
    const snapper = async () => {
      for (let i = 0; i < 12; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        const before = history.map((h) => h.length - 1);
        await store.snapshot('vol-a', `snap-${i}`);
        snapshots.push({ id: `snap-${i}`, before, after: history.map((h) => h.length - 1) });
        if (i % 3 === 0) await store.clone(`snap-${i}`, `vol-c${i}`);
      }
    };
    await Promise.all([snapper(), ...Array.from({ length: workers }, (_, w) => work(w))]);
    for (const { id, before, after } of snapshots) {
      for (const device of [id, `vol-c${id.slice(5)}`]) {
        if (store.device(device) === undefined) continue;
        const data = await store.read(device, 0, volumeBytes);
        for (let w = 0; w < workers; w++) {
          const got = region(data, w);
          const allowed = history[w]!.slice(before[w], after[w]! + 1);
          assert.ok(
            allowed.some((state) => state.equals(got)),
            `${device}: worker ${w} region matches no state (seed ${seed})`,
          );
        }
      }
    }
    const final = await store.read('vol-a', 0, volumeBytes);
    for (let w = 0; w < workers; w++)
      assert.deepEqual(region(final, w), history[w]!.at(-1), `final state of worker ${w}`);
    await store.close();
    assert.deepEqual((await fsckPool(dir)).problems, []);
  } finally {
    await store.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
