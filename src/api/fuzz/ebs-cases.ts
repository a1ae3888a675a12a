// Signed EBS direct cases: every route with hostile paths, JSON bodies, block indexes, lengths and checksums,
// plus paths no route matches.
import { createHash } from 'node:crypto';
import { limits } from '../../base/limits.ts';
import type { Chooser, KnownIds } from './fuzz-values.ts';
import { anyValue, randomText, wellFormed } from './fuzz-values.ts';

/** One signed EBS direct request to send. */
export interface EbsCase {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
  readonly summary: string;
}

function segment(choose: Chooser, ids: KnownIds): string {
  const roll = choose.next();
  if (roll < 0.7) return ids.pick(choose, 'snap');
  if (roll < 0.85) return choose.pick(['%E0%A4%A', '%zz', '%00', '%2F', '..', '', 'snap-', '%F0%9F%98%80']);
  return encodeURIComponent(wellFormed(anyValue(choose, ids))).slice(0, 300) || 'x';
}

function blockIndex(choose: Chooser): string {
  return choose.chance(0.8)
    ? String(choose.int(0, 2100))
    : choose.pick(['-1', '1.5', '1e3', '99999999999999999999', 'x', '%31', '0x1', '']);
}

function jsonValue(choose: Chooser, ids: KnownIds, depth = 0): unknown {
  const roll = choose.next();
  if (roll < 0.3) return anyValue(choose, ids);
  if (roll < 0.5) return choose.pick([0, 1, -1, 8, 16384, 1e20, 1.5, Number.MAX_SAFE_INTEGER + 2]);
  if (roll < 0.6) return choose.pick([true, false, null]);
  if (depth > 3) return randomText(choose, 4);
  if (roll < 0.8) return Array.from({ length: choose.int(0, 4) }, () => jsonValue(choose, ids, depth + 1));
  return { Key: jsonValue(choose, ids, depth + 1), Value: jsonValue(choose, ids, depth + 1) };
}

function startBody(choose: Chooser, ids: KnownIds): Buffer {
  const roll = choose.next();
  if (roll < 0.05) return Buffer.from('['.repeat(choose.int(1000, 200_000)));
  if (roll < 0.08) return Buffer.from(`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`);
  if (roll < 0.15) return choose.bytes(choose.int(0, 500));
  const fields = [
    'VolumeSize',
    'ParentSnapshotId',
    'Timeout',
    'ClientToken',
    'Description',
    'Tags',
    'Encrypted',
    'KmsKeyArn',
  ];
  const body: Record<string, unknown> = {};
  if (choose.chance(0.8)) body.VolumeSize = choose.chance(0.7) ? choose.int(1, 4) : jsonValue(choose, ids);
  for (const field of fields) if (choose.chance(0.3)) body[field] = jsonValue(choose, ids);
  if (choose.chance(0.2)) body.Tags = [{ Key: anyValue(choose, ids), Value: anyValue(choose, ids) }];
  if (choose.chance(0.1)) body.ParentSnapshotId = ids.pick(choose, 'snap');
  return Buffer.from(JSON.stringify(body));
}

function putBlock(choose: Chooser, ids: KnownIds): EbsCase {
  const size = choose.chance(0.6)
    ? limits.ebsBlockBytes
    : choose.pick([0, 1, 4096, limits.ebsBlockBytes + 1]);
  const data = choose.chance(0.5)
    ? Buffer.alloc(size, choose.int(0, 255))
    : choose.bytes(Math.min(size, 8192));
  const checksum = createHash('sha256').update(data).digest('base64');
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'x-amz-data-length': choose.chance(0.8)
      ? String(data.length)
      : anyValue(choose, ids).replace(/[^\x20-\x7e]/g, ''),
    'x-amz-checksum': choose.chance(0.8) ? checksum : choose.pick(['', 'AAAA', checksum.slice(1), '%zz']),
    'x-amz-checksum-algorithm': choose.chance(0.9) ? 'SHA256' : choose.pick(['', 'MD5', 'sha256']),
  };
  if (choose.chance(0.3)) headers['x-amz-progress'] = choose.pick(['0', '50', '100', '101', '-1', 'x']);
  const path = `/snapshots/${segment(choose, ids)}/blocks/${blockIndex(choose)}`;
  return {
    method: 'PUT',
    path,
    query: {},
    headers,
    body: data,
    summary: `PutSnapshotBlock ${path} ${data.length}B`,
  };
}

function listQuery(choose: Chooser, ids: KnownIds): Record<string, string> {
  const query: Record<string, string> = {};
  for (const name of ['maxResults', 'startingBlockIndex', 'pageToken', 'firstSnapshotId', 'blockToken']) {
    if (choose.chance(0.3))
      query[name] = choose.chance(0.5) ? String(choose.int(-1, 20_000)) : anyValue(choose, ids);
  }
  if (choose.chance(0.2)) query.firstSnapshotId = ids.pick(choose, 'snap');
  return Object.fromEntries(Object.entries(query).map(([name, value]) => [name, wellFormed(value)]));
}

// CompleteSnapshot with good, odd and missing checksum headers.
function completeSnapshot(choose: Chooser, snap: string): EbsCase {
  const headers: Record<string, string> = {
    'x-amz-changedblockscount': choose.chance(0.7)
      ? String(choose.int(0, 5))
      : choose.pick(['-1', 'x', '1e9', '']),
  };
  if (choose.chance(0.3)) headers['x-amz-checksum-aggregation-method'] = choose.pick(['LINEAR', 'x', '']);
  if (choose.chance(0.3)) headers['x-amz-checksum-algorithm'] = choose.pick(['SHA256', 'x']);
  if (choose.chance(0.3)) headers['x-amz-checksum'] = choose.pick(['AAAA', '', '%']);
  return {
    method: 'POST',
    path: `/snapshots/completion/${snap}`,
    query: {},
    headers,
    body: undefined,
    summary: `CompleteSnapshot ${snap}`,
  };
}

/** One random signed EBS direct case. */
export function ebsCase(choose: Chooser, ids: KnownIds): EbsCase {
  const kind = choose.int(0, 6);
  const snap = segment(choose, ids);
  switch (kind) {
    case 0: {
      const body = startBody(choose, ids);
      return {
        method: 'POST',
        path: '/snapshots',
        query: {},
        headers: { 'content-type': 'application/json' },
        body,
        summary: `StartSnapshot ${body.length}B`,
      };
    }
    case 1:
      return putBlock(choose, ids);
    case 2: {
      const path = `/snapshots/${snap}/blocks/${blockIndex(choose)}`;
      return {
        method: 'GET',
        path,
        query: listQuery(choose, ids),
        headers: {},
        body: undefined,
        summary: `GetSnapshotBlock ${path}`,
      };
    }
    case 3:
      return {
        method: 'GET',
        path: `/snapshots/${snap}/blocks`,
        query: listQuery(choose, ids),
        headers: {},
        body: undefined,
        summary: `ListSnapshotBlocks ${snap}`,
      };
    case 4:
      return {
        method: 'GET',
        path: `/snapshots/${snap}/changedblocks`,
        query: listQuery(choose, ids),
        headers: {},
        body: undefined,
        summary: `ListChangedBlocks ${snap}`,
      };
    case 5:
      return completeSnapshot(choose, snap);
    default: {
      const path = `/snapshots/${Array.from({ length: choose.int(0, 5) }, () => segment(choose, ids)).join('/')}`;
      const method = choose.pick(['GET', 'POST', 'PUT'] as const);
      return {
        method,
        path,
        query: listQuery(choose, ids),
        headers: {},
        body: choose.chance(0.5) ? startBody(choose, ids) : undefined,
        summary: `${method} ${path.slice(0, 100)}`,
      };
    }
  }
}
