// Strata's read-only extension API (docs/api.md): what the console needs and EC2 has no field for. GET only,
// SigV4-signed for the service `strata` with the caller's own keys, and isolated per account exactly as EC2
// is: a volume or snapshot of another account is NotFound, never "forbidden". Answers are JSON; errors go
// to the API server's one error renderer, as EBS-style JSON.
//   GET /_strata/ext/overview                          pool usage and fullness, the account's totals
//   GET /_strata/ext/volumes/ID                        size, allocated bytes, NBD URI
//   GET /_strata/ext/volumes/ID/allocation?cells=N     allocated fraction of each of N equal cells
//   GET /_strata/ext/snapshots/ID                      allocated bytes, NBD URI, archive state
import { limits } from '../../base/limits.ts';
import type { Cloud } from '../../cloud/cloud.ts';
import type { Caller } from '../auth/sigv4.ts';
import { ApiError } from '../errors.ts';

/** The credential-scope service extension requests are signed for. */
export const extService = 'strata';
/** Where the extension API lives. */
export const extPrefix = '/_strata/ext/';

/** One extension request, authenticated. */
export interface ExtRequest {
  readonly cloud: Cloud;
  readonly caller: Caller;
  readonly method: string;
  /** The path after /_strata/ext/, decoded. */
  readonly path: string;
  readonly query: URLSearchParams;
}

/** Answers an extension request with its JSON document. */
export async function handleExt(request: ExtRequest): Promise<unknown> {
  if (request.method !== 'GET' && request.method !== 'HEAD')
    throw new ApiError('InvalidParameterValue', {
      message: `The extension API is read-only: ${request.method} is not accepted.`,
    });
  const parts = request.path.split('/');
  const [section, id, detail] = parts;
  if (parts.length === 1 && section === 'overview') return overview(request.cloud, request.caller.accountId);
  if (section === 'volumes' && id !== undefined && parts.length <= 3) {
    if (detail === undefined) return volumeFacts(request.cloud, request.caller.accountId, id);
    if (detail === 'allocation')
      return allocationMap(request.cloud, request.caller.accountId, id, request.query);
  }
  if (section === 'snapshots' && id !== undefined && parts.length === 2)
    return snapshotFacts(request.cloud, request.caller.accountId, id);
  throw new ApiError('InvalidParameterValue', {
    message: `No extension resource ${JSON.stringify(request.path)} (see docs/api.md).`,
  });
}

async function overview(cloud: Cloud, accountId: string): Promise<unknown> {
  const pool = cloud.store.usage();
  const volumes = await cloud.db
    .selectFrom('volumes')
    .select('id')
    .where('account_id', '=', accountId)
    .execute();
  let allocatedBytes = 0;
  for (const volume of volumes) {
    if (cloud.store.device(volume.id) !== undefined)
      allocatedBytes += cloud.store.deviceUsage(volume.id).mappedBytes;
  }
  return {
    region: cloud.regions.region,
    hypervisor: cloud.hypervisor,
    pool: {
      capacityBytes: pool.capacityBytes,
      usedBytes: pool.usedBytes,
      availableBytes: pool.availableBytes,
      pendingFreeBytes: pool.pendingFreeBytes,
      // Against what is usable now (used + available): the file system, not the nominal quota, is the bound.
      fullnessPercent: fullness(pool.usedBytes, pool.availableBytes),
    },
    account: { volumes: volumes.length, allocatedBytes },
  };
}

function fullness(usedBytes: number, availableBytes: number): number {
  const total = usedBytes + availableBytes;
  return total === 0 ? 0 : Math.round((usedBytes / total) * 1000) / 10;
}

// The block store device of the caller's volume; a volume still being created has none yet.
async function ownedVolumeDevice(
  cloud: Cloud,
  accountId: string,
  volumeId: string,
): Promise<{ sizeBytes: number } | undefined> {
  await cloud.ebs.volumes.get(accountId, volumeId); // InvalidVolume.NotFound for another account's
  return cloud.store.device(volumeId);
}

async function volumeFacts(cloud: Cloud, accountId: string, volumeId: string): Promise<unknown> {
  const device = await ownedVolumeDevice(cloud, accountId, volumeId);
  return {
    volumeId,
    sizeBytes: device?.sizeBytes ?? 0,
    allocatedBytes: device === undefined ? 0 : cloud.store.deviceUsage(volumeId).mappedBytes,
    nbdUri: cloud.nbd.uri(volumeId),
  };
}

function cellCount(query: URLSearchParams): number {
  const raw = query.get('cells') ?? '256';
  const cells = Number(raw);
  if (!/^[0-9]{1,5}$/.test(raw) || cells < 1 || cells > limits.consoleAllocationCellsMax)
    throw new ApiError('InvalidParameterValue', {
      message: `cells must be an integer from 1 to ${limits.consoleAllocationCellsMax}: got ${JSON.stringify(raw)}`,
    });
  return cells;
}

async function allocationMap(
  cloud: Cloud,
  accountId: string,
  volumeId: string,
  query: URLSearchParams,
): Promise<unknown> {
  const cells = cellCount(query);
  const device = await ownedVolumeDevice(cloud, accountId, volumeId);
  const sizeBytes = device?.sizeBytes ?? 0;
  const cellBytes = Math.max(1, Math.ceil(sizeBytes / cells));
  const filled = new Array<number>(cells).fill(0);
  const ranges = device === undefined ? [] : cloud.store.mapRange(volumeId, 0, sizeBytes);
  for (const range of ranges) {
    if (!range.allocated) continue;
    const end = range.offset + range.length;
    for (let cell = Math.floor(range.offset / cellBytes); cell * cellBytes < end && cell < cells; cell += 1) {
      const overlap = Math.min(end, (cell + 1) * cellBytes) - Math.max(range.offset, cell * cellBytes);
      filled[cell] = (filled[cell] ?? 0) + overlap;
    }
  }
  return {
    volumeId,
    sizeBytes,
    cellBytes,
    cells: filled.map((bytes) => Math.round((bytes / cellBytes) * 1000) / 1000),
  };
}

async function snapshotFacts(cloud: Cloud, accountId: string, snapshotId: string): Promise<unknown> {
  const row = await cloud.db
    .selectFrom('snapshots')
    .select(['id', 'state', 'progress', 'archived', 'restored'])
    .where('id', '=', snapshotId)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  if (row === undefined) throw new ApiError('InvalidSnapshot.NotFound', { id: snapshotId });
  const device = cloud.store.device(snapshotId);
  return {
    snapshotId,
    state: row.state,
    progress: row.progress,
    allocatedBytes: device === undefined ? 0 : cloud.store.deviceUsage(snapshotId).mappedBytes,
    nbdUri: cloud.nbd.uri(snapshotId),
    archive: {
      configured: cloud.ebs.archive !== undefined,
      archived: row.archived === 1,
      restoredFromArchive: row.restored === 1,
      inPool: device !== undefined,
    },
  };
}
