// The composed services every API action works with. The daemon (daemon/daemon.ts) builds one Cloud at
// start and hands it to each request as `ctx.cloud`.
//
// To add a domain service (e.g. volumes): add a readonly member here (`readonly volumes: VolumeService;`),
// construct it in `composeCloud` in daemon/daemon.ts (one line; it gets `db`, `store`, `logger`), and take
// `accountId` as an explicit argument on every method so isolation shows at each query.
import type { Kysely } from 'kysely';
import type { Logger } from '../base/log.ts';
import type { Database } from '../db/schema.ts';
import type { DbDialect } from '../db/database.ts';
import type { BlockStore } from '../storage/block-store.ts';
import type { NbdServer } from '../nbd/nbd-server.ts';
import type { Accounts } from './common/accounts.ts';
import type { Regions } from './common/regions.ts';
import type { Ebs } from './ebs/ebs.ts';
import type { EbsDirect } from './ebs-direct/ebs-direct.ts';
import type { Compute } from './instances/compute.ts';
import type { VpcNetworking } from './vpc/vpc.ts';

/** Which hypervisor backs instances (compute/ is built separately; the choice is carried here). */
export type Hypervisor = 'qemu' | 'fake';

/** The daemon's services. */
export interface Cloud {
  /** `--data-dir`: pool, sockets, credentials, master key and (by default) the SQLite database live here. */
  readonly dataDir: string;
  readonly logger: Logger;
  /** The metadata database (SQLite or PostgreSQL; see db/schema.ts for conventions). */
  readonly db: Kysely<Database>;
  readonly dbDialect: DbDialect;
  /** The block store holding volume and snapshot data. */
  readonly store: BlockStore;
  /** The NBD server exporting the store (attachment locks, URIs). */
  readonly nbd: NbdServer;
  readonly accounts: Accounts;
  readonly regions: Regions;
  /** The API endpoint URL clients use (`http://127.0.0.1:8773`), for responses that name it. */
  readonly endpoint: string;
  readonly hypervisor: Hypervisor;
  /** EBS control plane: volumes, modifications, snapshots, sharing and tags (cloud/ebs/ebs.ts). */
  readonly ebs: Ebs;
  /** EBS direct API: snapshot block reads and uploads (cloud/ebs-direct/ebs-direct.ts). */
  readonly ebsDirect: EbsDirect;
  /** EC2 compute: images, instances and their state machine over the VmDriver (cloud/instances/compute.ts). */
  readonly compute: Compute;
  /** VPCs, subnets, gateways, network interfaces and security groups (cloud/vpc/vpc.ts). */
  readonly vpc: VpcNetworking;
}
