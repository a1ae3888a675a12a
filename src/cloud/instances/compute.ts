// The compute control plane as one unit: images, instances and their state machine over one VmDriver. The
// daemon builds it after the EBS services, calls `recover()` before serving and `close()` before the store.
import type { Kysely } from 'kysely';
import type { Logger } from '../../base/log.ts';
import type { Database } from '../../db/schema.ts';
import type { BlockStore } from '../../storage/block-store.ts';
import type { NbdServer } from '../../nbd/nbd-server.ts';
import type { VmDriver } from '../../compute/vm-driver.ts';
import type { Ebs } from '../ebs/ebs.ts';
import type { Regions } from '../common/regions.ts';
import { ImageService } from '../images/images.ts';
import { InstanceService } from './instances.ts';
import { InstanceRecords } from './instance-records.ts';
import { InstanceLifecycle } from './lifecycle.ts';
import { AttachmentService } from './attachments.ts';
import { createImage, type CreateImageRequest } from './image-creation.ts';
import type { ImageRow } from '../images/images.ts';
import { createInstanceSnapshots, type CreateSnapshotsRequest } from './instance-snapshots.ts';
import type { Snapshot } from '../ebs/snapshots.ts';
import { WorkQueue } from '../common/work-queue.ts';
import type { InstanceNetworkSource, NetworkRefresh } from '../../network/instance-network.ts';
import type { MetadataOptions } from '../../metadata/metadata.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { KeyPairService } from '../key-pairs/key-pairs.ts';
import { AddressService } from '../addresses/addresses.ts';
import type { PublicAddressWish } from '../addresses/public-addresses.ts';
import { modifyMetadataOptions, type MetadataOptionsRequest } from './launch-access.ts';
import type { InstanceRow } from './instance-records.ts';
import type { NetworkAttachments } from './network-attachments.ts';
import type { LaunchNetworking } from '../vpc/vpc.ts';

/** What the compute services are built from. */
export interface ComputeOptions {
  readonly db: Kysely<Database>;
  readonly store: BlockStore;
  readonly nbd: NbdServer;
  readonly ebs: Ebs;
  readonly regions: Regions;
  readonly driver: VmDriver;
  /** Subnets, groups and network interfaces of launches (cloud/vpc/vpc.ts). */
  readonly vpc: LaunchNetworking;
  readonly dataDir: string;
  readonly logger: Logger;
  /** The host side, told after changes to public addresses and metadata options (network/instance-network.ts). */
  readonly networkRefresh?: NetworkRefresh;
  /** The VPC model's interfaces, for AssociateAddress by NetworkInterfaceId. */
  readonly networks?: InstanceNetworkSource;
  /** Whether an instance wants a public address (the VPC model); every instance does without it. */
  readonly wantsPublicAddress?: PublicAddressWish;
  /** The host's network side (daemon/instance-networking.ts); without it instances have no NIC. */
  readonly network?: NetworkAttachments;
}

/** The compute domain services. */
export interface Compute {
  readonly driver: VmDriver;
  readonly images: ImageService;
  readonly instances: InstanceService;
  readonly lifecycle: InstanceLifecycle;
  readonly attachments: AttachmentService;
  /** Key pairs (cloud/key-pairs/key-pairs.ts). */
  readonly keyPairs: KeyPairService;
  /** Elastic IPs and instances' public addresses (cloud/addresses/addresses.ts). */
  readonly addresses: AddressService;
  /** ModifyInstanceMetadataOptions (cloud/instances/launch-access.ts). */
  modifyMetadataOptions(
    accountId: string,
    instanceId: string,
    request: MetadataOptionsRequest,
    dryRun: DryRunCheck,
  ): Promise<{ row: InstanceRow; options: MetadataOptions }>;
  /** CreateImage: snapshots an instance's volumes into a new AMI (cloud/instances/image-creation.ts). */
  createImage(accountId: string, request: CreateImageRequest): Promise<ImageRow>;
  /** CreateSnapshots: a snapshot of each of an instance's volumes (cloud/instances/instance-snapshots.ts). */
  createSnapshots(accountId: string, request: CreateSnapshotsRequest): Promise<Snapshot[]>;
  /** Re-adopts VMs and settles instances left in flight; call once before serving. */
  recover(): Promise<void>;
  /** Resolves when no instance transition is queued or running (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops every running instance (daemon shutdown with `--vms-on-shutdown stop`); resolves when done. */
  stopAll(): Promise<void>;
  /** Waits for transitions, stops listening and closes the driver (VMs keep running). */
  close(): Promise<void>;
}

/** Builds the compute services; EBS was built first, with compute's ports (`volumeAttachments`, `snapshotUsage`). */
export function createCompute(options: ComputeOptions): Compute {
  const { db, ebs, driver, logger } = options;
  const work = new WorkQueue(logger);
  const { paginator, tags, clientTokens } = ebs;
  const images = new ImageService({
    db,
    paginator,
    tags,
    uefi: async () => (await driver.capabilities()).uefi,
    dataDir: options.dataDir,
  });
  const records = new InstanceRecords(db);
  const keyPairs = new KeyPairService(db, tags);
  const refresh = options.networkRefresh;
  const addresses = createAddresses(options);
  const lifecycle = new InstanceLifecycle({ ...options, instances: records, work, addresses });
  const instances = new InstanceService({
    db,
    regions: options.regions,
    paginator,
    tags,
    images,
    driver,
    volumes: ebs.volumes,
    clientTokens,
    records,
    launcher: lifecycle,
    keyPairs,
    vpc: options.vpc,
  });
  const attachments = new AttachmentService({ ...options, instances, work });
  return {
    driver,
    images,
    instances,
    lifecycle,
    attachments,
    keyPairs,
    addresses,
    modifyMetadataOptions: (accountId, instanceId, request, dryRun) =>
      modifyMetadataOptions(
        { db, records, ...(refresh !== undefined ? { refresh } : {}) },
        accountId,
        instanceId,
        request,
        dryRun,
      ),
    createImage: (accountId, request) =>
      createImage({ db, ebs, images, instances, lifecycle, work, logger }, accountId, request),
    createSnapshots: (accountId, request) =>
      createInstanceSnapshots({ ebs, instances, work, driver }, accountId, request),
    recover: () => lifecycle.recover(),
    idle: () => work.idle(),
    async stopAll() {
      await lifecycle.stopAll();
      await work.idle();
    },
    async close() {
      await work.idle();
      lifecycle.close();
      await driver.close();
    },
  };
}

// The networking ports are optional until the host and VPC sides are wired in.
function createAddresses(options: ComputeOptions): AddressService {
  const { networkRefresh, networks, wantsPublicAddress } = options;
  return new AddressService({
    db: options.db,
    tags: options.ebs.tags,
    regions: options.regions,
    logger: options.logger,
    ...(networkRefresh !== undefined ? { refresh: networkRefresh } : {}),
    ...(networks !== undefined ? { networks } : {}),
    ...(wantsPublicAddress !== undefined ? { wantsPublicAddress } : {}),
  });
}
