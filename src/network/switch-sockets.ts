// The daemon's side of an instance's two QEMU stream netdevs: a private unix socket per port role, whose
// one live connection is the port on the VPC switch. A QEMU that reconnects (after a daemon restart, say)
// replaces the previous connection.
import * as net from 'node:net';
import { join } from 'node:path';
import { listenPrivateSocket } from '../base/private-socket.ts';
import { StreamPort } from './stream-port.ts';
import type { PortRole, VpcSwitch } from './vpc-switch.ts';

/** The socket paths of one instance's ports under `directory`. */
export function switchSocketPaths(directory: string, instanceId: string): Record<PortRole, string> {
  return {
    nic: join(directory, `${instanceId}.nic.sock`),
    uplink: join(directory, `${instanceId}.uplink.sock`),
  };
}

/** Listening sockets of one instance; close() stops listening and disconnects both ports. */
export interface SwitchSockets {
  readonly paths: Record<PortRole, string>;
  close(): Promise<void>;
}

/** Listens for `instanceId`'s NIC and uplink under `directory` and wires what connects into `vpc`. */
export async function listenSwitchSockets(
  vpc: VpcSwitch,
  directory: string,
  instanceId: string,
): Promise<SwitchSockets> {
  const paths = switchSocketPaths(directory, instanceId);
  const live = new Map<PortRole, StreamPort>();
  const servers = (['nic', 'uplink'] as const).map((role) => {
    const server = net.createServer((socket) => {
      live.get(role)?.close();
      const port = new StreamPort(socket);
      live.set(role, port);
      port.onFrame = (frame) => vpc.receive(instanceId, role, frame);
      port.onClose = () => {
        if (live.get(role) !== port) return;
        live.delete(role);
        vpc.connect(instanceId, role, undefined);
      };
      vpc.connect(instanceId, role, port);
    });
    return { role, server };
  });
  for (const { role, server } of servers) await listenPrivateSocket(server, paths[role]);
  return {
    paths,
    async close() {
      for (const port of live.values()) port.close();
      await Promise.all(
        servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
}
