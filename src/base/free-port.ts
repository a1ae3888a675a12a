// A free TCP port on the loopback interface, for forwards that QEMU opens itself (hostfwd).
import { createServer } from 'node:net';

/** Asks the kernel for a free port on `host`; the caller binds it soon after (a race it accepts). */
export async function freeLocalPort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address was bound');
  return address.port;
}
