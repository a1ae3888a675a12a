// Helper of bench/nbd.ts: serves one Strata volume from a pool in its own process, as the daemon would.
// Usage: node --import tsx bench/nbd-strata-server.ts DIR SIZE_BYTES
// STRATA_BENCH_STORE=memory swaps the pool for the in-memory test double.
// Prints {"socket":…,"volume":…} when ready; on stdin "snapshot" it snapshots the volume and prints "ok".
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { newId } from '../src/base/ids.ts';
import { openBlockStore } from '../src/storage/open-block-store.ts';
import { startNbdServer } from '../src/nbd/start-nbd-server.ts';
import { MemoryBlockStore } from '../src/nbd/testing/memory-store.ts';

const [dir, sizeText] = process.argv.slice(2);
if (!dir || !sizeText) throw new Error('usage: nbd-strata-server.ts DIR SIZE_BYTES');
// STRATA_BENCH_STORE=memory serves the in-memory double: the protocol's cost without the pool's.
const store =
  process.env.STRATA_BENCH_STORE === 'memory'
    ? new MemoryBlockStore()
    : await openBlockStore({ dir: join(dir, 'pool') });
const volume = newId('vol');
await store.createVolume(volume, Number(sizeText));
const server = await startNbdServer({ store, socketPath: join(dir, 'strata.sock') });
console.log(JSON.stringify({ socket: server.socketPath, volume }));

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'snapshot') return;
  void store.snapshot(volume, newId('snap')).then(() => console.log('ok'));
});

async function shutdown(): Promise<void> {
  await server.close();
  await store.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
lines.on('close', () => void shutdown());
