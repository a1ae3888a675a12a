// A taken port, said in words a user can act on. The daemon checks its listen addresses before it writes
// anything into a new data dir, so a clash leaves no keys or database behind; the same words explain a
// clash that slips in between the check and the real bind.
import { createServer } from 'node:net';

/** A host and port to bind (daemon.ts's ListenAddress; not imported, which would make a circle). */
interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** A listen address that cannot be bound; the message says what to try instead. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

/** Throws ListenError when `address` cannot be bound now (port 0 always can). */
export async function assertCanListen(address: ListenAddress, flag: string): Promise<void> {
  if (address.port === 0) return;
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, resolve);
    });
  } catch (error) {
    throw explainListenError(error, address, flag);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** `error` from binding `address` (given by `flag`), as a ListenError when it is a known cause, else itself. */
export function explainListenError(error: unknown, address: ListenAddress, flag: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === 'EADDRINUSE') {
    const next = address.port < 65535 ? address.port + 1 : address.port - 1;
    return new ListenError(
      `port ${address.port} is in use on ${address.host}; is Strata already running? try ${flag} :${next}`,
    );
  }
  if (code === 'EADDRNOTAVAIL')
    return new ListenError(`${address.host} is not an address of this host: give ${flag} one that is`);
  if (code === 'EACCES')
    return new ListenError(
      `port ${address.port} needs privileges this user lacks: give ${flag} a port above 1023`,
    );
  return error;
}
