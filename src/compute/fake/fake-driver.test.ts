// The fake driver against the shared conformance suite: disks are unix sockets nobody serves (the fake only
// checks they exist), so the suite runs in milliseconds.
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vmDriverConformance } from '../vm-driver.conformance.ts';
import { createFakeDriver, FakeHost } from './fake-driver.ts';

vmDriverConformance('fake', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-fake-'));
  const socketPath = join(dir, 'nbd.sock');
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const host = new FakeHost();
  return {
    driver: createFakeDriver({ host }),
    rootDisk: async (serial) => ({ serial, nbd: { socketPath, exportName: serial }, bootIndex: 0 }),
    dataDisk: async (serial) => {
      const file = join(dir, `${serial}.img`);
      await writeFile(file, Buffer.alloc(4096));
      return { serial, file };
    },
    brokenDisk: (serial) => ({
      serial,
      nbd: { socketPath: join(dir, 'missing.sock'), exportName: serial },
      bootIndex: 0,
    }),
    reopen: async () => createFakeDriver({ host }),
    leftovers: async (instanceId) => (host.vms.has(instanceId) ? [`fake vm ${instanceId}`] : []),
    forwardOpen: async (instanceId, forward) => {
      const vm = host.vms.get(instanceId);
      return vm?.running === true && vm.forwards.some((f) => JSON.stringify(f) === JSON.stringify(forward));
    },
    bootTimeoutMs: 2_000,
    cleanup: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
});
