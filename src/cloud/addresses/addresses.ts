// EC2 addresses: Elastic IPs (AllocateAddress, AssociateAddress, DisassociateAddress, ReleaseAddress,
// DescribeAddresses) and the public address every instance that wants one gets while it runs. This service is
// the one writer of addresses and of instances.public_ip/public_dns_name; it tells the host through
// NetworkRefresh after each change, so forwards follow without a restart.
//
// EC2's rules kept here: an auto-assigned address is taken when the instance starts and given back when it
// stops (a new one on the next start); an Elastic IP stays through stop and start, replaces the auto-assigned
// address while associated, and is disassociated when its instance terminates.
import type { Kysely, Selectable, Transaction } from 'kysely';
import { assert } from '../../base/assert.ts';
import { isValidId, newId } from '../../base/ids.ts';
import { limits } from '../../base/limits.ts';
import type { Logger } from '../../base/log.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { AddressesTable } from '../../db/tables/addresses.ts';
import type { InstanceNetworkSource, NetworkRefresh } from '../../network/instance-network.ts';
import { CloudError, ec2Error } from '../errors.ts';
import { compileFilters, type Filter, type FilterFields } from '../common/filters.ts';
import type { Regions } from '../common/regions.ts';
import { tagsForResource, type TagService, type TagSpecification } from '../common/tags.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import { firstFree, ipv4ToNumber, numberToIpv4 } from './address-pool.ts';
import {
  autoAssignedRange,
  elasticRange,
  publicDnsName,
  type AddressRange,
  type LaunchAddresses,
  type PublicAddress,
  type PublicAddressSource,
  type PublicAddressWish,
} from './public-addresses.ts';

/** An Elastic IP row as read. */
export type AddressRow = Selectable<AddressesTable>;

/** An Elastic IP with its tags. */
export interface Address {
  readonly row: AddressRow;
  readonly tags: ReadonlyMap<string, string>;
}

/** What the address service is built from. */
export interface AddressServiceDeps {
  readonly db: Kysely<Database>;
  readonly tags: TagService;
  readonly regions: Regions;
  readonly logger: Logger;
  /** The host, told after any public address changes; none before the host side is wired. */
  readonly refresh?: NetworkRefresh;
  /** Whether an instance wants a public address; every instance does until the VPC model says otherwise. */
  readonly wantsPublicAddress?: PublicAddressWish;
  /** Instances' network interfaces (NetworkInterfaceId targets, PrivateIpAddress); none before the VPC model is wired. */
  readonly networks?: InstanceNetworkSource;
  /** The ranges to hand out (tests shrink them to reach exhaustion). */
  readonly ranges?: { readonly auto: AddressRange; readonly elastic: AddressRange };
}

/** AssociateAddress' parameters. */
export interface AssociateRequest {
  readonly allocationId: string | undefined;
  readonly publicIp: string | undefined;
  readonly instanceId: string | undefined;
  readonly networkInterfaceId: string | undefined;
  readonly allowReassociation: boolean;
  readonly dryRun: DryRunCheck;
}

const addressFields: FilterFields<Address> = {
  'allocation-id': (a) => a.row.allocation_id,
  'association-id': (a) => a.row.association_id,
  domain: (a) => a.row.domain,
  'instance-id': (a) => a.row.instance_id,
  'network-interface-id': (a) => a.row.network_interface_id,
  'network-interface-owner-id': (a) => (a.row.network_interface_id === null ? null : a.row.account_id),
  'private-ip-address': (a) => a.row.private_ip,
  'public-ip': (a) => a.row.public_ip,
};

const liveStates = ['pending', 'running', 'stopping', 'stopped'];

/** Elastic IPs and instances' public addresses, scoped by account. */
export class AddressService implements PublicAddressSource, LaunchAddresses {
  readonly #deps: AddressServiceDeps;
  readonly #ranges: { readonly auto: AddressRange; readonly elastic: AddressRange };
  /** Where the next search of each range starts: just past the address last handed out from it. */
  readonly #cursors = new Map<AddressRange, string>();

  constructor(deps: AddressServiceDeps) {
    this.#deps = deps;
    this.#ranges = deps.ranges ?? { auto: autoAssignedRange, elastic: elasticRange };
    deps.tags.registerKind({
      prefix: 'eipalloc',
      resourceType: 'elastic-ip',
      notFound: 'InvalidAllocationID.NotFound',
      access: async (accountId, id) => ((await this.#byAllocation(accountId, id)) ? 'owned' : 'missing'),
    });
  }

  /** AllocateAddress: an Elastic IP from the Elastic range, within the account's quota. */
  async allocate(
    accountId: string,
    domain: string | undefined,
    tagSpecifications: readonly TagSpecification[],
    dryRun: DryRunCheck,
  ): Promise<Address> {
    if (domain !== undefined && domain !== 'vpc') {
      throw new CloudError('InvalidParameterValue', { name: 'Domain', value: domain, expected: 'vpc' });
    }
    const tags = tagsForResource(tagSpecifications, 'elastic-ip');
    const { db } = this.#deps;
    const owned = await db
      .selectFrom('addresses')
      .select('public_ip')
      .where('account_id', '=', accountId)
      .execute();
    if (owned.length >= limits.elasticAddressesPerAccountMax) throw addressLimit();
    dryRun();
    const row = await this.#withFreeAddress(this.#ranges.elastic, 'addresses', async (trx, publicIp) => {
      const row: AddressRow = {
        allocation_id: newId('eipalloc'),
        account_id: accountId,
        public_ip: publicIp,
        domain: 'vpc',
        association_id: null,
        instance_id: null,
        network_interface_id: null,
        private_ip: null,
        created_at: nowIso(),
      };
      await trx.insertInto('addresses').values(row).execute();
      await this.#deps.tags.putTags(trx, accountId, row.allocation_id, 'elastic-ip', tags);
      return row;
    });
    if (row === undefined) throw addressLimit();
    return { row, tags: new Map(tags.map((t) => [t.key, t.value])) };
  }

  // Picks the lowest free address of `range` and runs `use` with it in a transaction; a concurrent pick of the
  // same address fails on the unique index and is retried. Undefined when the range is exhausted.
  async #withFreeAddress<T>(
    range: AddressRange,
    table: 'addresses' | 'instances',
    use: (trx: Transaction<Database>, ip: string) => Promise<T>,
  ): Promise<T | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const used = await this.#usedAddresses(table);
      const ip = firstFree(range, used, this.#cursors.get(range));
      if (ip === undefined) return undefined;
      try {
        const result = await this.#deps.db.transaction().execute((trx) => use(trx, ip));
        this.#cursors.set(range, numberToIpv4(ipv4ToNumber(ip) + 1));
        return result;
      } catch (error) {
        if (attempt === 4 || !/unique|duplicate/i.test(String((error as Error).message))) throw error;
      }
    }
    return undefined;
  }

  async #usedAddresses(table: 'addresses' | 'instances'): Promise<Set<string>> {
    const { db } = this.#deps;
    const rows =
      table === 'addresses'
        ? await db.selectFrom('addresses').select('public_ip').execute()
        : await db.selectFrom('instances').select('public_ip').where('public_ip', 'is not', null).execute();
    return new Set(rows.map((r) => r.public_ip as string));
  }

  /** AssociateAddress: moves an Elastic IP to an instance (its primary interface), replacing its auto-assigned address. */
  async associate(accountId: string, request: AssociateRequest): Promise<string> {
    const address = await this.#target(accountId, request.allocationId, request.publicIp);
    const { instanceId, interfaceId, privateIp } = await this.#associationTarget(accountId, request);
    if (address.instance_id !== null && address.instance_id !== instanceId && !request.allowReassociation) {
      throw new CloudError('Resource.AlreadyAssociated', {
        message: `resource ${address.allocation_id} is already associated with ${address.instance_id}`,
      });
    }
    const current = await this.#deps.db
      .selectFrom('addresses')
      .selectAll()
      .where('instance_id', '=', instanceId)
      .executeTakeFirst();
    if (
      current !== undefined &&
      current.allocation_id !== address.allocation_id &&
      !request.allowReassociation
    ) {
      throw new CloudError('Resource.AlreadyAssociated', {
        message: `resource ${instanceId} is already associated with ${current.allocation_id}`,
      });
    }
    request.dryRun();
    const associationId = newId('eipassoc');
    const previousInstance = address.instance_id;
    await this.#deps.db.transaction().execute(async (trx) => {
      if (current !== undefined && current.allocation_id !== address.allocation_id)
        await detach(trx, current);
      if (previousInstance !== null) await setPublicIp(trx, previousInstance, null, null);
      await setPublicIp(trx, instanceId, null, null);
      await trx
        .updateTable('addresses')
        .set({
          association_id: associationId,
          instance_id: instanceId,
          network_interface_id: interfaceId,
          private_ip: privateIp,
        })
        .where('allocation_id', '=', address.allocation_id)
        .execute();
      await setPublicIp(trx, instanceId, address.public_ip, this.#dnsName(address.public_ip));
    });
    if (previousInstance !== null && previousInstance !== instanceId)
      await this.#assignIfRunning(previousInstance);
    this.#deps.refresh?.changed();
    return associationId;
  }

  async #associationTarget(
    accountId: string,
    request: AssociateRequest,
  ): Promise<{ instanceId: string; interfaceId: string | null; privateIp: string | null }> {
    const { instanceId, networkInterfaceId } = request;
    if (instanceId === undefined && networkInterfaceId === undefined) {
      throw ec2Error('MissingParameter', 'Either instance ID or network interface ID must be specified.');
    }
    const id = instanceId ?? (await this.#instanceOfInterface(accountId, networkInterfaceId as string));
    if (!isValidId(id, 'i')) throw new CloudError('InvalidInstanceID.Malformed', { id });
    const row = await this.#deps.db
      .selectFrom('instances')
      .select(['id', 'state'])
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined || !liveStates.includes(row.state)) {
      if (row?.state !== undefined)
        throw ec2Error(
          'IncorrectInstanceState',
          `The instance '${id}' is not in a valid state for this operation.`,
        );
      throw new CloudError('InvalidInstanceID.NotFound', { id });
    }
    const network = await this.#deps.networks?.networkOf(id);
    return {
      instanceId: id,
      interfaceId: network?.interfaceId ?? null,
      privateIp: network?.privateIp ?? null,
    };
  }

  // Bounded by the account's live instances; only NetworkInterfaceId targets pay it.
  async #instanceOfInterface(accountId: string, interfaceId: string): Promise<string> {
    const rows = await this.#deps.db
      .selectFrom('instances')
      .select('id')
      .where('account_id', '=', accountId)
      .where('state', 'in', liveStates)
      .execute();
    for (const { id } of rows) {
      if ((await this.#deps.networks?.networkOf(id))?.interfaceId === interfaceId) return id;
    }
    throw ec2Error('InvalidParameterValue', `The networkInterface ID '${interfaceId}' does not exist`);
  }

  /** DisassociateAddress: the instance goes back to an auto-assigned address if it is running and wants one. */
  async disassociate(
    accountId: string,
    associationId: string | undefined,
    publicIp: string | undefined,
    dryRun: DryRunCheck,
  ): Promise<void> {
    let row: AddressRow | undefined;
    if (associationId !== undefined) {
      row = await this.#deps.db
        .selectFrom('addresses')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('association_id', '=', associationId)
        .executeTakeFirst();
      if (row === undefined) throw new CloudError('InvalidAssociationID.NotFound', { id: associationId });
    } else {
      row = await this.#target(accountId, undefined, publicIp);
    }
    dryRun();
    if (row.instance_id === null) return;
    const instanceId = row.instance_id;
    await this.#deps.db.transaction().execute((trx) => detach(trx, row));
    await this.#assignIfRunning(instanceId);
    this.#deps.refresh?.changed();
  }

  /** ReleaseAddress: gives an unassociated Elastic IP back; InvalidIPAddress.InUse while it is associated. */
  async release(
    accountId: string,
    allocationId: string | undefined,
    publicIp: string | undefined,
    dryRun: DryRunCheck,
  ): Promise<void> {
    const row = await this.#target(accountId, allocationId, publicIp);
    if (row.association_id !== null) throw new CloudError('InvalidIPAddress.InUse', { ip: row.public_ip });
    dryRun();
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('addresses').where('allocation_id', '=', row.allocation_id).execute();
      await this.#deps.tags.dropAll(trx, row.allocation_id);
    });
  }

  /** DescribeAddresses: by public IPs, allocation ids and filters. */
  async describe(
    accountId: string,
    publicIps: readonly string[],
    allocationIds: readonly string[],
    filters: readonly Filter[],
  ): Promise<Address[]> {
    const rows = await this.#deps.db
      .selectFrom('addresses')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('public_ip')
      .execute();
    const missingIds = allocationIds.filter((id) => !rows.some((r) => r.allocation_id === id));
    if (missingIds.length > 0)
      throw new CloudError('InvalidAllocationID.NotFound', { id: missingIds.join(', ') });
    const missingIps = publicIps.filter((ip) => !rows.some((r) => r.public_ip === ip));
    if (missingIps.length > 0) throw new CloudError('InvalidAddress.NotFound', { ip: missingIps.join(', ') });
    const chosen = rows.filter(
      (r) =>
        (publicIps.length === 0 || publicIps.includes(r.public_ip)) &&
        (allocationIds.length === 0 || allocationIds.includes(r.allocation_id)),
    );
    const tags = await this.#deps.tags.tagsOf(
      accountId,
      chosen.map((r) => r.allocation_id),
    );
    const keep = compileFilters(filters, addressFields, (a) => a.tags);
    return chosen
      .map((row) => ({ row, tags: tags.get(row.allocation_id) ?? new Map<string, string>() }))
      .filter(keep);
  }

  // The caller's Elastic IP by allocation id (preferred, as EC2-VPC) or public IP.
  async #target(
    accountId: string,
    allocationId: string | undefined,
    publicIp: string | undefined,
  ): Promise<AddressRow> {
    if (allocationId !== undefined) {
      const row = await this.#byAllocation(accountId, allocationId);
      if (row === undefined) throw new CloudError('InvalidAllocationID.NotFound', { id: allocationId });
      return row;
    }
    if (publicIp === undefined) throw new CloudError('MissingParameter', { name: 'AllocationId' });
    const row = await this.#deps.db
      .selectFrom('addresses')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('public_ip', '=', publicIp)
      .executeTakeFirst();
    if (row === undefined) throw new CloudError('InvalidAddress.NotFound', { ip: publicIp });
    return row;
  }

  #byAllocation(accountId: string, allocationId: string): Promise<AddressRow | undefined> {
    return this.#deps.db
      .selectFrom('addresses')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('allocation_id', '=', allocationId)
      .executeTakeFirst();
  }

  /** The instance's current public address (InstanceNetworkSource's publicIp and publicDnsName come from here). */
  async publicAddressOf(instanceId: string): Promise<PublicAddress | undefined> {
    const row = await this.#deps.db
      .selectFrom('instances')
      .select(['public_ip', 'public_dns_name'])
      .where('id', '=', instanceId)
      .executeTakeFirst();
    if (row?.public_ip === null || row?.public_ip === undefined) return undefined;
    return { ip: row.public_ip, dnsName: row.public_dns_name ?? this.#dnsName(row.public_ip) };
  }

  /** Before a pending instance boots: an auto-assigned address, unless it has one (an Elastic IP) or wants none. */
  async assignOnLaunch(instanceId: string): Promise<void> {
    const row = await this.#deps.db
      .selectFrom('instances')
      .select(['public_ip', 'state'])
      .where('id', '=', instanceId)
      .executeTakeFirst();
    if (row === undefined || row.public_ip !== null || row.state !== 'pending') return;
    if (!(await (this.#deps.wantsPublicAddress?.(instanceId) ?? true))) return;
    const assigned = await this.#withFreeAddress(this.#ranges.auto, 'instances', async (trx, ip) => {
      const result = await trx
        .updateTable('instances')
        .set({ public_ip: ip, public_dns_name: this.#dnsName(ip) })
        .where('id', '=', instanceId)
        .where('public_ip', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n ? ip : undefined;
    });
    if (assigned === undefined) {
      // EC2 would fail the launch for want of capacity; a VM without a public address is still useful.
      this.#deps.logger.warn({ instanceId }, 'the public address pool is exhausted: the instance gets none');
      return;
    }
    this.#deps.refresh?.changed();
  }

  async #assignIfRunning(instanceId: string): Promise<void> {
    const row = await this.#deps.db
      .selectFrom('instances')
      .select('state')
      .where('id', '=', instanceId)
      .executeTakeFirst();
    if (row?.state !== 'running' && row?.state !== 'pending') return;
    // assignOnLaunch only serves pending instances; a running one that loses its Elastic IP gets one too.
    const wanted = await (this.#deps.wantsPublicAddress?.(instanceId) ?? true);
    if (!wanted) return;
    await this.#withFreeAddress(this.#ranges.auto, 'instances', async (trx, ip) => {
      await trx
        .updateTable('instances')
        .set({ public_ip: ip, public_dns_name: this.#dnsName(ip) })
        .where('id', '=', instanceId)
        .where('public_ip', 'is', null)
        .execute();
    });
  }

  /** After a stop: the auto-assigned address goes back to the pool; an associated Elastic IP stays. */
  async releaseOnStop(instanceId: string): Promise<void> {
    const elastic = await this.#deps.db
      .selectFrom('addresses')
      .select('allocation_id')
      .where('instance_id', '=', instanceId)
      .executeTakeFirst();
    if (elastic !== undefined) return;
    await setPublicIp(this.#deps.db, instanceId, null, null);
    this.#deps.refresh?.changed();
  }

  /** After termination: the instance's Elastic IP is disassociated and its address given back. */
  async releaseOnTerminate(instanceId: string): Promise<void> {
    await this.#deps.db.transaction().execute(async (trx) => {
      const elastic = await trx
        .selectFrom('addresses')
        .selectAll()
        .where('instance_id', '=', instanceId)
        .executeTakeFirst();
      if (elastic !== undefined) await detach(trx, elastic);
      await setPublicIp(trx, instanceId, null, null);
    });
    this.#deps.refresh?.changed();
  }

  #dnsName(ip: string): string {
    return publicDnsName(ip, this.#deps.regions.region);
  }
}

async function setPublicIp(
  db: Kysely<Database> | Transaction<Database>,
  instanceId: string,
  ip: string | null,
  dnsName: string | null,
): Promise<void> {
  assert((ip === null) === (dnsName === null), 'an address and its name go together');
  await db
    .updateTable('instances')
    .set({ public_ip: ip, public_dns_name: dnsName })
    .where('id', '=', instanceId)
    .execute();
}

// Ends an association: the Elastic IP is free, and its instance has no public address until one is assigned.
async function detach(trx: Transaction<Database>, row: AddressRow): Promise<void> {
  assert(row.instance_id !== null, 'only an associated address detaches');
  await trx
    .updateTable('addresses')
    .set({ association_id: null, instance_id: null, network_interface_id: null, private_ip: null })
    .where('allocation_id', '=', row.allocation_id)
    .execute();
  await setPublicIp(trx, row.instance_id, null, null);
}

function addressLimit(): CloudError {
  return ec2Error('AddressLimitExceeded', 'The maximum number of addresses has been reached.');
}
