// Instance networking on this host, composed: the VPC switches (network/network-host.ts), one metadata
// channel per instance (metadata/imds-sockets.ts) fed by the MetadataSource port, and the VM driver's
// public forwards. The lifecycle drives it through NetworkAttachments; cloud/ calls NetworkRefresh.changed()
// after any change to rules, addresses or metadata options, and running VMs follow without a restart.
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Logger } from '../base/log.ts';
import type { NetworkAttachments } from '../cloud/instances/network-attachments.ts';
import type { PortForward, VmDriver, VmNic } from '../compute/vm-driver.ts';
import { createImdsHandler } from '../metadata/imds-handler.ts';
import { listenImdsChannel, type ImdsChannel } from '../metadata/imds-sockets.ts';
import type { MetadataSource } from '../metadata/metadata.ts';
import { SessionTokens } from '../metadata/session-tokens.ts';
import type { InstanceNetworkSource, NetworkRefresh } from '../network/instance-network.ts';
import { NetworkHost, type HostedInstance, type MetadataReach } from '../network/network-host.ts';

/** What instance networking is built from. */
export interface InstanceNetworkingOptions {
  /** `<data-dir>/network`: the switch and metadata sockets (0700, the daemon's user only). */
  readonly directory: string;
  readonly driver: VmDriver;
  readonly source: InstanceNetworkSource;
  readonly metadata: MetadataSource;
  /** Seals IMDSv2 tokens and signs identity documents; a key kept across restarts keeps tokens valid. */
  readonly secret: Buffer;
  readonly logger: Logger;
}

/** EC2's default when an instance has no metadata options (yet): enabled, one hop. */
const DEFAULT_REACH: MetadataReach = { enabled: true, hopLimit: 1 };

/** NetworkAttachments for the lifecycle and NetworkRefresh for cloud/, over one NetworkHost. */
export class InstanceNetworking implements NetworkAttachments, NetworkRefresh {
  readonly #options: InstanceNetworkingOptions;
  readonly #host: NetworkHost;
  readonly #handler: ReturnType<typeof createImdsHandler>;
  readonly #channels = new Map<string, ImdsChannel>();
  /** Ports below this cannot be bound by this process (QEMU runs as the daemon's user). */
  readonly #lowestBindablePort = lowestBindablePort();
  #warnedLowPorts = false;
  /** One refresh at a time; a change during one runs one more after it. */
  #refreshing: Promise<void> | null = null;
  #again = false;

  constructor(options: InstanceNetworkingOptions) {
    this.#options = options;
    mkdirSync(options.directory, { recursive: true, mode: 0o700 });
    this.#host = new NetworkHost(options.directory, options.source, (id) => this.#reach(id));
    this.#handler = createImdsHandler({
      source: options.metadata,
      tokens: new SessionTokens(options.secret),
      // Strata's own HMAC, not an AWS signature (docs/metadata.md).
      sign: (document) => createHmac('sha256', options.secret).update(document).digest('base64'),
    });
  }

  async #reach(instanceId: string): Promise<MetadataReach> {
    const metadata = await this.#options.metadata(instanceId);
    if (metadata === undefined) return DEFAULT_REACH;
    const { httpEndpoint, httpPutResponseHopLimit } = metadata.options;
    return { enabled: httpEndpoint === 'enabled', hopLimit: httpPutResponseHopLimit };
  }

  async prepare(instanceId: string): Promise<VmNic | undefined> {
    await this.release(instanceId);
    const hosted = await this.#host.prepare(instanceId);
    if (hosted === undefined) return undefined;
    try {
      const channel = await listenImdsChannel(this.#handler, this.#options.directory, instanceId);
      this.#channels.set(instanceId, channel);
      return {
        mac: hosted.network.mac,
        subnetCidr: hosted.network.subnetCidr,
        privateIp: hosted.network.privateIp,
        hostname: hosted.network.privateDnsName.split('.')[0] ?? hosted.network.privateDnsName,
        nicSocketPath: hosted.socketPaths.nic,
        uplinkSocketPath: hosted.socketPaths.uplink,
        metadataCommand: `socat STDIO UNIX-CONNECT:${channel.path}`,
        hostForwards: this.#forwards(hosted),
      };
    } catch (error) {
      await this.release(instanceId);
      throw error;
    }
  }

  async started(instanceId: string): Promise<void> {
    await this.#host.connect(instanceId);
    // A refresh between prepare and spawn could not reach the VM yet: bring its forwards up to date.
    const hosted = this.#host.instance(instanceId);
    if (hosted !== undefined) await this.#options.driver.setHostForwards(instanceId, this.#forwards(hosted));
  }

  async adopted(instanceId: string): Promise<void> {
    const nic = await this.prepare(instanceId);
    if (nic === undefined) return;
    await this.#host.connect(instanceId);
    await this.#options.driver.setHostForwards(instanceId, nic.hostForwards);
  }

  async release(instanceId: string): Promise<void> {
    const channel = this.#channels.get(instanceId);
    this.#channels.delete(instanceId);
    await channel?.close();
    await this.#host.release(instanceId);
  }

  changed(): void {
    if (this.#refreshing !== null) {
      this.#again = true;
      return;
    }
    this.#refreshing = this.#refresh().finally(() => {
      this.#refreshing = null;
      if (this.#again) {
        this.#again = false;
        this.changed();
      }
    });
  }

  /** Resolves once the refreshes asked for so far have been applied (tests, and callers that must wait). */
  async settled(): Promise<void> {
    while (this.#refreshing !== null) await this.#refreshing;
  }

  async #refresh(): Promise<void> {
    try {
      for (const [instanceId, hosted] of await this.#host.refresh()) {
        await this.#options.driver
          .setHostForwards(instanceId, this.#forwards(hosted))
          .catch((error: unknown) => {
            this.#options.logger.warn({ err: error, instanceId }, 'cannot update public forwards');
          });
      }
    } catch (error) {
      this.#options.logger.error({ err: error }, 'network refresh failed');
    }
  }

  // A forward QEMU cannot bind would fail the VM's start: ports the daemon's user may not bind are left out,
  // with one warning (docs/networking.md).
  #forwards(hosted: HostedInstance): PortForward[] {
    const all = portForwards(hosted);
    const bindable = all.filter((forward) => forward.port >= this.#lowestBindablePort);
    if (bindable.length < all.length && !this.#warnedLowPorts) {
      this.#warnedLowPorts = true;
      this.#options.logger.warn(
        { lowestBindablePort: this.#lowestBindablePort },
        'public ports below net.ipv4.ip_unprivileged_port_start are not forwarded: run the daemon as root, or lower that sysctl',
      );
    }
    return bindable;
  }

  /** Disconnects everything (daemon shutdown); VMs keep running and are adopted by the next daemon. */
  async close(): Promise<void> {
    await this.settled();
    for (const channel of this.#channels.values()) await channel.close();
    this.#channels.clear();
    await this.#host.close();
  }
}

function portForwards(hosted: HostedInstance): PortForward[] {
  const hostIp = hosted.network.publicIp;
  if (hostIp === undefined) return [];
  return hosted.publicPorts.map((p) => ({ protocol: p.protocol, hostIp, port: p.port }));
}

// Root binds any port; anyone else from net.ipv4.ip_unprivileged_port_start (1024 unless lowered).
function lowestBindablePort(): number {
  if (process.getuid?.() === 0) return 1;
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim()) || 1024;
  } catch {
    return 1024;
  }
}
