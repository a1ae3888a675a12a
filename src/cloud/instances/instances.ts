// EC2 instances: RunInstances, DescribeInstances, DescribeInstanceStatus, the instance attributes and
// GetConsoleOutput. The state machine (start, stop, reboot, terminate, driver events, restart
// reconciliation) lives in lifecycle.ts; disks in disks.ts.
import type { Kysely, Updateable } from 'kysely';
import { assert, assertNever } from '../../base/assert.ts';
import { newId } from '../../base/ids.ts';
import { limits } from '../../base/limits.ts';
import { CloudError, ec2Error, notFoundError } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { InstancesTable } from '../../db/tables/instances.ts';
import type { VmDriver } from '../../compute/vm-driver.ts';
import { compileFilters, type Filter, type FilterFields } from '../common/filters.ts';
import type { Page, Paginator } from '../common/pagination.ts';
import type { Regions } from '../common/regions.ts';
import { tagsForResource, type Tag, type TagService, type TagSpecification } from '../common/tags.ts';
import type { ClientTokens, RecordToken } from '../common/client-tokens.ts';
import { mergeMappings, type MappingRequest } from '../images/block-device-mappings.ts';
import type { ImageService } from '../images/images.ts';
import type { VolumeService } from '../ebs/volumes.ts';
import { defaultInstanceType, instanceType } from './instance-types.ts';
import { mappingsOf, planDisks, type InstanceMappingRow } from './disks.ts';
import { stateCodes, instanceState } from './instance-states.ts';
import { checkInstanceIds, type InstanceRecords, type InstanceRow } from './instance-records.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import type { KeyPairService } from '../key-pairs/key-pairs.ts';
import {
  accessFilterFields,
  launchAccess,
  type LaunchAccessColumns,
  type MetadataOptionsRequest,
} from './launch-access.ts';
import type { LaunchNetworking } from '../vpc/vpc.ts';
import type { NetworkRequest, LaunchNetworkPlan } from '../vpc/launch-network.ts';
import { instanceNetworkFields, type InterfaceView } from '../vpc/network-interfaces.ts';
import {
  isOptionChange,
  launchColumns,
  optionUpdate,
  type LaunchOptions,
  type OptionChange,
} from './instance-options.ts';

/** An instance with its disks and tags. */
export interface Instance {
  readonly row: InstanceRow;
  readonly mappings: readonly InstanceMappingRow[];
  readonly tags: ReadonlyMap<string, string>;
  /** Its primary network interface; undefined once terminated. */
  readonly network: InterfaceView | undefined;
}

/** RunInstances' parameters. */
export interface RunInstancesRequest {
  readonly imageId: string | undefined;
  readonly minCount: number | undefined;
  readonly maxCount: number | undefined;
  readonly instanceType: string | undefined;
  readonly zone: string | undefined;
  /** Base64, as the request carries it. */
  readonly userData: string | undefined;
  readonly clientToken: string | undefined;
  readonly tagSpecifications: readonly TagSpecification[];
  readonly mappings: readonly MappingRequest[];
  readonly shutdownBehavior: string | undefined;
  readonly disableApiTermination: boolean | undefined;
  /** SubnetId, security groups, PrivateIpAddress, NetworkInterfaces, AssociatePublicIpAddress. */
  readonly network: NetworkRequest;
  /** Monitoring, tenancy, EBS optimization and stop protection (instance-options.ts). */
  readonly launchOptions?: LaunchOptions;
  readonly dryRun: DryRunCheck;
  /** KeyName: the launch key pair, served to the guest by IMDS. */
  readonly keyName?: string | undefined;
  readonly metadataOptions?: MetadataOptionsRequest | undefined;
}

/** DescribeInstances / DescribeInstanceStatus parameters. */
export interface DescribeInstancesRequest {
  readonly instanceIds: readonly string[];
  readonly filters: readonly Filter[];
  readonly maxResults: number | undefined;
  readonly nextToken: string | undefined;
}

/** What the instance service is built from. */
export interface InstanceServiceDeps {
  readonly db: Kysely<Database>;
  readonly regions: Regions;
  readonly paginator: Paginator;
  readonly tags: TagService;
  readonly images: ImageService;
  readonly driver: VmDriver;
  /** EBS volumes: RunInstances records its new volumes through them. */
  readonly volumes: VolumeService;
  /** ClientToken idempotency for RunInstances. */
  readonly clientTokens: ClientTokens;
  /** Instance rows, shared with the lifecycle. */
  readonly records: InstanceRecords;
  /** Starts what RunInstances recorded (the lifecycle). */
  readonly launcher: InstanceLauncher;
  /** Key pairs: RunInstances' KeyName. */
  readonly keyPairs: KeyPairService;
  /** Subnets, groups and network interfaces of launches (cloud/vpc/). */
  readonly vpc: LaunchNetworking;
}

/** The port RunInstances hands recorded instances to: the lifecycle launches them in the background. */
export interface InstanceLauncher {
  /** Queues the launch of the `pending` instance `instanceId`; never throws (failures end in its state). */
  launch(instanceId: string): void;
}

/** DescribeInstances MaxResults: 5..1000. */
export const describeInstancesBounds = { min: 5, max: 1000, clampAbove: false } as const;

const userDataBytesMax = 16 * 1024;

const instanceFields: FilterFields<Instance> = {
  architecture: () => 'x86_64',
  'availability-zone': (i) => i.row.availability_zone,
  'block-device-mapping.attach-time': (i) => i.mappings.map((m) => m.attach_time ?? ''),
  'block-device-mapping.delete-on-termination': (i) =>
    volumeMappings(i).map((m) => m.delete_on_termination === 1),
  'block-device-mapping.device-name': (i) => volumeMappings(i).map((m) => m.device_name),
  'block-device-mapping.status': (i) => volumeMappings(i).map((m) => m.attachment_state ?? ''),
  'block-device-mapping.volume-id': (i) => volumeMappings(i).map((m) => m.volume_id ?? ''),
  'client-token': (i) => i.row.client_token,
  'image-id': (i) => i.row.image_id,
  'instance-id': (i) => i.row.id,
  'instance-state-code': (i) => stateCodes[instanceState(i.row.state)],
  'instance-state-name': (i) => i.row.state,
  'instance-type': (i) => i.row.instance_type,
  'launch-time': (i) => i.row.launch_time,
  'owner-id': (i) => i.row.account_id,
  'placement.availability-zone': (i) => i.row.availability_zone,
  'reservation-id': (i) => i.row.reservation_id,
  'root-device-name': (i) => i.row.root_device_name,
  'root-device-type': (i) => i.row.root_device_type,
  'virtualization-type': () => 'hvm',
  ...accessFilterFields,
  ...instanceNetworkFields,
};

/** The mappings of an instance that are EBS volumes (EC2 lists only those in blockDeviceMapping). */
export function volumeMappings(instance: Instance): InstanceMappingRow[] {
  return instance.mappings.filter((m) => m.volume_id !== null);
}

/** The instance service: every method takes the caller's account id. */
export class InstanceService {
  readonly #deps: InstanceServiceDeps;

  constructor(deps: InstanceServiceDeps) {
    this.#deps = deps;
    deps.tags.registerKind({
      prefix: 'i',
      resourceType: 'instance',
      notFound: 'InvalidInstanceID.NotFound',
      access: async (accountId, id) => {
        const rows = await this.#deps.records.rows(accountId, [id]);
        return rows.length === 0 ? 'missing' : 'owned';
      },
    });
  }

  /** The caller's instances `ids`, all of them, or InvalidInstanceID.NotFound naming the missing. */
  owned(accountId: string, ids: readonly string[]): Promise<InstanceRow[]> {
    return this.#deps.records.owned(accountId, ids);
  }

  /** An instance by id, any account (driver events and background work carry only the id). */
  byId(instanceId: string): Promise<InstanceRow | undefined> {
    return this.#deps.records.byId(instanceId);
  }

  /** One of the caller's instances with disks and tags. */
  async get(accountId: string, instanceId: string): Promise<Instance> {
    const [row] = await this.owned(accountId, [instanceId]);
    const [instance] = await this.complete(accountId, [row as InstanceRow]);
    assert(instance !== undefined, 'a found instance has a description');
    return instance;
  }

  /** Rows with their mappings and tags. */
  async complete(accountId: string, rows: readonly InstanceRow[]): Promise<Instance[]> {
    const ids = rows.map((r) => r.id);
    const mappings = await mappingsOf(this.#deps.db, ids);
    const tags = await this.#deps.tags.tagsOf(accountId, ids);
    const live = rows.filter((r) => r.state !== 'terminated').map((r) => r.id);
    const networks = await this.#deps.vpc.interfacesOf(accountId, live);
    return rows.map((row) => ({
      row,
      mappings: mappings.filter((m) => m.owner_id === row.id),
      tags: tags.get(row.id) ?? new Map(),
      network: networks.get(row.id),
    }));
  }

  /** RunInstances: records a reservation of `pending` instances and their volumes, then launches them. */
  async run(accountId: string, request: RunInstancesRequest): Promise<Instance[]> {
    const plan = await this.#planRun(accountId, request);
    request.dryRun();
    // `dryRun: false` keeps the digests of tokens recorded before.
    const scope = { accountId, action: 'RunInstances', params: { ...request, dryRun: false } };
    return this.#deps.clientTokens.once(
      { ...scope, token: request.clientToken },
      {
        create: (record) => this.#insertRun(accountId, request, plan, record),
        replay: (reservationId) => this.#reservation(accountId, reservationId),
      },
    );
  }

  async #reservation(accountId: string, reservationId: string): Promise<Instance[]> {
    const rows = await this.#deps.db
      .selectFrom('instances')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('reservation_id', '=', reservationId)
      .orderBy('launch_index')
      .execute();
    return this.complete(accountId, rows);
  }

  async #planRun(accountId: string, request: RunInstancesRequest): Promise<RunPlan> {
    if (request.imageId === undefined || request.imageId === '')
      throw new CloudError('MissingParameter', { name: 'ImageId' });
    const minCount = requireCount(request.minCount, 'MinCount');
    const maxCount = requireCount(request.maxCount, 'MaxCount');
    if (minCount > maxCount) {
      throw ec2Error(
        'InvalidParameterValue',
        `MinCount (${minCount}) must not exceed MaxCount (${maxCount}).`,
      );
    }
    const count = Math.min(maxCount, limits.instancesPerRunMax);
    if (count < minCount) {
      throw ec2Error(
        'InstanceLimitExceeded',
        `You have requested more instances (${minCount}) than your current instance limit of ${limits.instancesPerRunMax} allows.`,
      );
    }
    const type = instanceType(request.instanceType ?? defaultInstanceType);
    const zone = request.zone ?? this.#deps.regions.zones[0]?.zoneName ?? '';
    if (this.#deps.regions.zone(zone) === undefined) {
      throw ec2Error('InvalidParameterValue', `Invalid availability zone: [${zone}]`);
    }
    checkUserData(request.userData);
    const shutdownBehavior = request.shutdownBehavior ?? 'stop';
    if (shutdownBehavior !== 'stop' && shutdownBehavior !== 'terminate') {
      throw ec2Error(
        'InvalidParameterValue',
        `Value (${shutdownBehavior}) for parameter instanceInitiatedShutdownBehavior is invalid. Expected: stop or terminate.`,
      );
    }
    const network = await this.#deps.vpc.plan(accountId, request.network, request.zone, count);
    const image = await this.#deps.images.launchable(accountId, request.imageId);
    const mappings = await mergeMappings(
      image.mappings,
      request.mappings,
      image.row.root_device_name,
      this.#deps.images.snapshotSizes(accountId),
    );
    const { instanceTags, volumeTags } = splitTagSpecifications(request.tagSpecifications);
    const access = await launchAccess(
      this.#deps.keyPairs,
      accountId,
      request.keyName,
      request.metadataOptions,
    );
    return {
      access,
      count,
      type: type.name,
      zone: network.zone,
      network,
      shutdownBehavior,
      image: image.row,
      mappings,
      instanceTags,
      volumeTags,
    };
  }

  async #insertRun(
    accountId: string,
    request: RunInstancesRequest,
    plan: RunPlan,
    recordToken: RecordToken | undefined,
  ): Promise<Instance[]> {
    const reservationId = newId('r');
    const now = nowIso();
    const rows: InstanceRow[] = [];
    await this.#deps.db.transaction().execute(async (trx) => {
      for (let index = 0; index < plan.count; index++) {
        const row = this.#newRow(accountId, reservationId, index, request, plan, now);
        rows.push(row);
        await trx.insertInto('instances').values(row).execute();
        await this.#deps.vpc.attach(trx, accountId, row.id, plan.network);
        const disks = planDisks(row.id, accountId, plan.zone, plan.mappings);
        await this.#deps.volumes.insertForInstance(trx, disks.volumes);
        if (disks.rows.length > 0) await trx.insertInto('block_device_mappings').values(disks.rows).execute();
        await this.#deps.tags.putTags(trx, accountId, row.id, 'instance', plan.instanceTags);
        for (const volume of disks.volumes)
          await this.#deps.tags.putTags(trx, accountId, volume.id, 'volume', plan.volumeTags);
      }
      await recordToken?.(trx, reservationId);
    });
    for (const row of rows) this.#deps.launcher.launch(row.id);
    return this.complete(accountId, rows);
  }

  #newRow(
    accountId: string,
    reservationId: string,
    index: number,
    request: RunInstancesRequest,
    plan: RunPlan,
    now: string,
  ): InstanceRow {
    return {
      id: newId('i'),
      account_id: accountId,
      reservation_id: reservationId,
      image_id: plan.image.id,
      instance_type: plan.type,
      state: 'pending',
      state_transition_reason: '',
      state_reason_code: 'pending',
      availability_zone: plan.zone,
      user_data: request.userData ?? null,
      shutdown_behavior: plan.shutdownBehavior,
      disable_api_termination: request.disableApiTermination === true ? 1 : 0,
      root_device_name: plan.image.root_device_name,
      root_device_type: plan.image.root_device_type,
      boot_mode: plan.image.boot_mode ?? 'legacy-bios',
      launch_index: index,
      client_token: request.clientToken ?? null,
      launch_time: now,
      terminated_at: null,
      created_at: now,
      ...plan.access,
      ...launchColumns(request.launchOptions),
    };
  }

  /** DescribeInstances: the caller's instances (terminated ones for a while), by id or filter, paged. */
  async describe(
    accountId: string,
    request: DescribeInstancesRequest,
    action = 'DescribeInstances',
  ): Promise<Page<Instance>> {
    const { instanceIds, filters, maxResults, nextToken } = request;
    checkInstanceIds(instanceIds);
    if (instanceIds.length > 0 && maxResults !== undefined) {
      throw ec2Error(
        'InvalidParameterCombination',
        'The parameter instancesSet cannot be used with the parameter maxResults',
      );
    }
    const scope = { action, accountId, filters, instanceIds };
    const page = this.#deps.paginator.open(scope, maxResults, nextToken, describeInstancesBounds);
    const visibleAfter = new Date(Date.now() - limits.terminatedInstanceVisibleMs).toISOString();
    const rows = (await this.#deps.records.rows(accountId, instanceIds, page.after)).filter(
      (r) => r.terminated_at === null || r.terminated_at > visibleAfter,
    );
    if (instanceIds.length > 0) {
      const found = new Set(rows.map((r) => r.id));
      const missing = instanceIds.filter((id) => !found.has(id));
      if (missing.length > 0) throw notFoundError('InvalidInstanceID.NotFound', missing);
    }
    const keep = compileFilters(filters, instanceFields, (i) => i.tags);
    const instances = (await this.complete(accountId, rows)).filter(keep);
    return this.#deps.paginator.page(scope, page, instances, (i) => i.row.id);
  }

  /** GetConsoleOutput: the serial console's tail, '' once the VM is gone. */
  async consoleOutput(accountId: string, instanceId: string): Promise<string> {
    await this.owned(accountId, [instanceId]);
    try {
      return await this.#deps.driver.consoleOutput(instanceId);
    } catch (error) {
      if ((error as { code?: string }).code === 'not-found') return '';
      throw error;
    }
  }

  /** ModifyInstanceAttribute: one attribute per call, as EC2. */
  async modifyAttribute(
    accountId: string,
    instanceId: string,
    change: AttributeChange,
    dryRun: DryRunCheck,
  ): Promise<void> {
    const { row } = await this.get(accountId, instanceId);
    const set = await this.#attributeUpdate(row, change);
    dryRun();
    if (change.kind === 'deleteOnTermination') {
      for (const { deviceName, value } of change.devices) {
        await this.#deps.db
          .updateTable('block_device_mappings')
          .set({ delete_on_termination: value ? 1 : 0 })
          .where('owner_id', '=', instanceId)
          .where('device_name', '=', deviceName)
          .execute();
      }
      return;
    }
    await this.#deps.db.updateTable('instances').set(set).where('id', '=', instanceId).execute();
  }

  async #attributeUpdate(row: InstanceRow, change: AttributeChange): Promise<Updateable<InstancesTable>> {
    if (isOptionChange(change)) return optionUpdate(row, change);
    const stoppedOnly = (what: string): void => {
      if (row.state !== 'stopped') {
        throw ec2Error(
          'IncorrectInstanceState',
          `The instance '${row.id}' is not in the 'stopped' state; ${what} can only be modified on a stopped instance.`,
        );
      }
    };
    switch (change.kind) {
      case 'instanceType':
        stoppedOnly('instanceType');
        return { instance_type: instanceType(change.value).name };
      case 'userData':
        stoppedOnly('userData');
        checkUserData(change.value);
        return { user_data: change.value === '' ? null : change.value };
      case 'shutdownBehavior':
        if (change.value !== 'stop' && change.value !== 'terminate') {
          throw ec2Error(
            'InvalidParameterValue',
            `Value (${change.value}) for parameter instanceInitiatedShutdownBehavior is invalid. Expected: stop or terminate.`,
          );
        }
        return { shutdown_behavior: change.value };
      case 'disableApiTermination':
        return { disable_api_termination: change.value ? 1 : 0 };
      case 'deleteOnTermination': {
        const { mappings } = (await this.complete(row.account_id, [row]))[0] as Instance;
        for (const { deviceName } of change.devices) {
          if (!mappings.some((m) => m.device_name === deviceName && m.volume_id !== null)) {
            throw ec2Error('InvalidInstanceAttributeValue', `No device is currently mapped at ${deviceName}`);
          }
        }
        return {};
      }
      default:
        return assertNever(change, 'attribute change');
    }
  }
}

/** One ModifyInstanceAttribute change. */
export type AttributeChange =
  | OptionChange
  | { readonly kind: 'instanceType'; readonly value: string }
  | { readonly kind: 'userData'; readonly value: string }
  | { readonly kind: 'shutdownBehavior'; readonly value: string }
  | { readonly kind: 'disableApiTermination'; readonly value: boolean }
  | {
      readonly kind: 'deleteOnTermination';
      readonly devices: readonly { deviceName: string; value: boolean }[];
    };

interface RunPlan {
  readonly count: number;
  readonly type: string;
  readonly zone: string;
  readonly network: LaunchNetworkPlan;
  readonly shutdownBehavior: string;
  readonly image: {
    id: string;
    root_device_name: string;
    root_device_type: string;
    boot_mode: string | null;
  };
  readonly mappings: Awaited<ReturnType<typeof mergeMappings>>;
  readonly instanceTags: Tag[];
  readonly volumeTags: Tag[];
  readonly access: LaunchAccessColumns;
}

function requireCount(value: number | undefined, name: string): number {
  if (value === undefined) throw new CloudError('MissingParameter', { name });
  if (value < 1)
    throw ec2Error(
      'InvalidParameterValue',
      `Value (${value}) for parameter ${name} is invalid. Expected: at least 1.`,
    );
  return value;
}

/** Checks user data is base64 of at most 16 KiB, as EC2. */
export function checkUserData(userData: string | undefined): void {
  if (userData === undefined || userData === '') return;
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(userData)) {
    throw ec2Error('InvalidParameterValue', 'Invalid BASE64 encoding of user data.');
  }
  if (Buffer.from(userData, 'base64').length > userDataBytesMax) {
    throw ec2Error('InvalidParameterValue', `User data is limited to ${userDataBytesMax} bytes`);
  }
}

/** RunInstances' TagSpecifications: `instance` and `volume` ones, anything else rejected like EC2. */
export function splitTagSpecifications(specs: readonly TagSpecification[]): {
  instanceTags: Tag[];
  volumeTags: Tag[];
} {
  const of = (type: string): Tag[] =>
    tagsForResource(
      specs.filter((s) => s.resourceType === type),
      type,
    );
  const other = specs.find((s) => s.resourceType !== 'instance' && s.resourceType !== 'volume');
  if (other !== undefined) tagsForResource([other], 'instance');
  return { instanceTags: of('instance'), volumeTags: of('volume') };
}
