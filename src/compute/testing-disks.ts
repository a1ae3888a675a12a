// Disk servers for compute tests and benchmarks: qemu-nbd over a raw file, and Strata's own block store + NBD
// server loaded with an image. Not used by the daemon.
import { spawn, type ChildProcess } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createServer } from 'node:net';
import type { DiskSpec } from './vm-driver.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Serves `file` (raw) on a unix socket with qemu-nbd until stopped; returns the root DiskSpec too. */
export async function serveFileWithQemuNbd(
  file: string,
  socketPath: string,
  serial: string,
  bootIndex?: number,
): Promise<{ disk: DiskSpec; process: ChildProcess }> {
  const args = ['--socket', socketPath, '--persistent', '--format=raw', '--export-name', serial, file];
  const child = spawn('qemu-nbd', args, { stdio: 'ignore' });
  for (let tries = 0; tries < 400; tries++) {
    if (
      await stat(socketPath).then(
        (found) => found.isSocket(),
        () => false,
      )
    ) {
      const disk: DiskSpec = {
        serial,
        nbd: { socketPath, exportName: serial },
        ...(bootIndex === undefined ? {} : { bootIndex }),
      };
      return { disk, process: child };
    }
    if (child.exitCode !== null) break;
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`qemu-nbd did not serve ${socketPath}`);
}

/** A Strata pool + NBD server in `dir` holding `images` (volume id → raw file), and how to stop it. */
export async function serveImagesWithStrata(
  dir: string,
  images: Record<string, string>,
): Promise<{
  socketPath: string;
  exportNameOf: (volumeId: string, owner: string) => string;
  close: () => Promise<void>;
}> {
  const { openBlockStore } = await import('../storage/open-block-store.ts');
  const { startNbdServer } = await import('../nbd/start-nbd-server.ts');
  const store = await openBlockStore({ dir: join(dir, 'pool') });
  for (const [volumeId, file] of Object.entries(images)) {
    const { size } = await stat(file);
    await store.createVolume(volumeId, size);
    await copyNonZero(file, size, (offset, data) => store.write(volumeId, offset, data));
  }
  await store.flush();
  const socketPath = join(dir, 'nbd.sock');
  const server = await startNbdServer({ store, socketPath });
  return {
    socketPath,
    exportNameOf: (volumeId, owner) => server.lockForAttachment(volumeId, owner),
    close: async () => {
      await server.close();
      await store.close();
    },
  };
}

/** Copies the non-zero 1 MiB chunks of a raw file through `write`, so sparse images stay thin. */
async function copyNonZero(
  file: string,
  size: number,
  write: (offset: number, data: Buffer) => Promise<void>,
): Promise<void> {
  const chunkBytes = 1024 * 1024;
  const handle = await open(file, 'r');
  try {
    for (let offset = 0; offset < size; offset += chunkBytes) {
      const buffer = Buffer.alloc(Math.min(chunkBytes, size - offset));
      await handle.read(buffer, 0, buffer.length, offset);
      if (buffer.some((byte) => byte !== 0)) await write(offset, buffer);
    }
  } finally {
    await handle.close();
  }
}

/** Serves `file` (raw) with qemu-nbd on 127.0.0.1 TCP (a free port), for the TCP form of NbdEndpoint. */
export async function serveFileWithQemuNbdTcp(
  file: string,
  serial: string,
): Promise<{ disk: DiskSpec; process: ChildProcess }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--persistent',
    '--format=raw',
    '--export-name',
    serial,
    file,
  ];
  const child = spawn('qemu-nbd', args, { stdio: 'ignore' });
  for (let tries = 0; tries < 400; tries++) {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (listening)
      return { disk: { serial, nbd: { host: '127.0.0.1', port, exportName: serial } }, process: child };
    if (child.exitCode !== null) break;
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`qemu-nbd did not listen on 127.0.0.1:${port}`);
}
