// Fuzz: valid sessions, mutated (bit flips, truncation, junk), sent in random splits, sometimes abandoned.
// The server must answer or hang up, never crash, never change what the session could not write.
// STRATA_NBD_FUZZ_ITERATIONS raises the count; STRATA_NBD_FUZZ_SEED replays a run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/prng.ts';
import { createHash } from 'node:crypto';
import { newId } from '../base/ids.ts';
import { Cmd, NBD_MAGIC } from './protocol.ts';
import { RawClient } from './testing/raw-client.ts';
import {
  STRUCTURED_MAGIC_BYTES,
  SIMPLE_MAGIC_BYTES,
  mutate,
  play,
  session,
} from './testing/fuzz-sessions.ts';
import { startHarness } from './testing/harness.ts';
import type { Harness } from './testing/harness.ts';

const ITERATIONS = Number(process.env.STRATA_NBD_FUZZ_ITERATIONS ?? 150);
const SEED = Number(process.env.STRATA_NBD_FUZZ_SEED ?? Date.now() % 2 ** 31);
const SIZE = 1024 * 1024;
let harness: Harness;

before(async () => {
  harness = await startHarness('pool');
});
after(async () => harness.close());

async function digest(id: string): Promise<string> {
  return createHash('sha256')
    .update(await harness.store.read(id, 0, SIZE))
    .digest('hex');
}

test(`fuzzed sessions get answers or hang-ups, never a crash or a stray write (seed ${SEED})`, async () => {
  const random = seededRandom(SEED);
  const volume = newId('vol');
  const guard = newId('vol');
  const snapshot = newId('snap');
  for (const id of [volume, guard]) {
    await harness.store.createVolume(id, SIZE);
    await harness.store.write(id, 0, Buffer.alloc(SIZE, 0x3c));
  }
  await harness.store.snapshot(volume, snapshot);
  const before = { guard: await digest(guard), snapshot: await digest(snapshot) };
  let completed = 0;
  let greeted = 0;
  let answered = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const target = random() < 0.5 ? volume : snapshot;
    const { output, abandoned } = await play(
      harness.server.socketPath,
      random,
      mutate(random, session(random, target, SIZE)),
    );
    if (abandoned) continue;
    completed++;
    if (output.length >= 8 && output.readBigUInt64BE(0) === NBD_MAGIC) greeted++;
    if (output.includes(SIMPLE_MAGIC_BYTES) || output.includes(STRUCTURED_MAGIC_BYTES)) answered++;
  }
  // Most mutations leave the handshake intact, so most sessions must reach transmission and get answers.
  assert.ok(answered > completed / 4, `only ${answered} of ${completed} sessions reached transmission`);
  assert.equal(greeted, completed, `every session we did not abandon was greeted (seed ${SEED})`);
  assert.deepEqual({ guard: await digest(guard), snapshot: await digest(snapshot) }, before, `seed ${SEED}`);
  const { client } = await RawClient.open(harness.server.socketPath, volume);
  client.request(Cmd.FLUSH, 0, 1n, 0, 0);
  assert.equal((await client.readReply()).error, 0, 'the server still serves after the fuzzing');
  client.destroy();
});
