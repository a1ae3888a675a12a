// The daemon's side of an instance's two QEMU stream netdevs. QEMU listens on a unix socket per port role
// (qemu-netdev.ts) and the daemon connects; the one live connection is the port on the VPC switch. After a
// daemon restart the new daemon connects again, and QEMU, which accepts a new client once the old one is
// gone, puts the running guest back on the switch.
import * as net from 'node:net';
import { join } from 'node:path';
import { StreamPort } from './stream-port.ts';
import type { PortRole, VpcSwitch } from './vpc-switch.ts';

/** How long a connect keeps retrying while QEMU has not created its socket yet. */
const CONNECT_TIMEOUT_MS = 10_000;
const CONNECT_RETRY_MS = 50;

/** The socket paths of one instance's ports under `directory`. */
export function switchSocketPaths(directory: string, instanceId: string): Record<PortRole, string> {
  return {
    nic: join(directory, `${instanceId}.nic.sock`),
    uplink: join(directory, `${instanceId}.uplink.sock`),
  };
}

/** The connections of one instance's ports; close() disconnects both. */
export interface SwitchSockets {
  readonly paths: Record<PortRole, string>;
  close(): Promise<void>;
}

/** Connects `instanceId`'s NIC and uplink, whose QEMU listens on `paths`, to `vpc` (configured first). */
export async function connectSwitchSockets(
  vpc: VpcSwitch,
  paths: Record<PortRole, string>,
  instanceId: string,
): Promise<SwitchSockets> {
  const ports: StreamPort[] = [];
  try {
    for (const role of ['nic', 'uplink'] as const) {
      const port = new StreamPort(await connectWithRetry(paths[role]));
      ports.push(port);
      port.onFrame = (frame) => vpc.receive(instanceId, role, frame);
      port.onClose = () => vpc.disconnectPort(instanceId, role, port);
      vpc.connect(instanceId, role, port);
    }
  } catch (error) {
    for (const port of ports) port.close();
    throw error;
  }
  return {
    paths,
    async close() {
      for (const port of ports) port.close();
    },
  };
}

async function connectWithRetry(path: string): Promise<net.Socket> {
  const deadline = Date.now() + CONNECT_TIMEOUT_MS;
  for (;;) {
    try {
      return await connectOnce(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
    }
  }
}

function connectOnce(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}
