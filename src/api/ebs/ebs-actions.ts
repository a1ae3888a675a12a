// The EBS direct actions on the wire (restJson1): parse headers/query/JSON body, call cloud.ebsDirect, answer
// with AWS's status codes, headers (x-amz-Checksum, x-amz-Data-Length …) and JSON field names. Timestamps
// are epoch seconds, as restJson1 sends them.
import { assertNever } from '../../base/assert.ts';
import { ApiError } from '../errors.ts';
import { rejectXmlUnsafeJson } from '../xml-unsafe-input.ts';
import type { ChangedBlock, ListedBlock, ListingMeta, ListPage } from '../../cloud/ebs-direct/reads.ts';
import type { EbsRequest, EbsResponse } from './ebs-request.ts';
import type { EbsAction } from './ebs-routes.ts';

const json = { 'content-type': 'application/json' } as const;

/** Runs one routed action. */
export async function runEbsAction(action: EbsAction, request: EbsRequest): Promise<EbsResponse> {
  const service = request.cloud.ebsDirect;
  const accountId = request.caller.accountId;
  switch (action.kind) {
    case 'StartSnapshot':
      return startSnapshot(request);
    case 'PutSnapshotBlock': {
      const checksum = await service.putBlock(accountId, action.snapshotId, {
        blockIndex: action.blockIndex,
        data: request.body,
        dataLength: integerHeader(request, 'x-amz-data-length', true) ?? 0,
        checksum: header(request, 'x-amz-checksum') ?? missing('Checksum'),
        checksumAlgorithm: header(request, 'x-amz-checksum-algorithm') ?? missing('ChecksumAlgorithm'),
        progress: integerHeader(request, 'x-amz-progress', false),
      });
      return { status: 201, headers: { ...json, ...checksumHeaders(checksum) }, body: '{}' };
    }
    case 'CompleteSnapshot': {
      const status = await service.complete(accountId, action.snapshotId, {
        changedBlocksCount: integerHeader(request, 'x-amz-changedblockscount', true) ?? 0,
        checksum: header(request, 'x-amz-checksum'),
        checksumAlgorithm: header(request, 'x-amz-checksum-algorithm'),
        checksumAggregationMethod: header(request, 'x-amz-checksum-aggregation-method'),
      });
      return { status: 202, headers: json, body: JSON.stringify({ Status: status }) };
    }
    case 'ListSnapshotBlocks': {
      const result = await service.listBlocks(accountId, action.snapshotId, page(request));
      return listing(result, { Blocks: result.blocks.map(blockJson) });
    }
    case 'ListChangedBlocks': {
      const first = request.query.get('firstSnapshotId') ?? undefined;
      const result = await service.listChangedBlocks(
        accountId,
        action.secondSnapshotId,
        first,
        page(request),
      );
      return listing(result, { ChangedBlocks: result.changedBlocks.map(changedJson) });
    }
    case 'GetSnapshotBlock':
      return getSnapshotBlock(request, action.snapshotId, action.blockIndex);
    default:
      return assertNever(action, 'EBS action');
  }
}

async function startSnapshot(request: EbsRequest): Promise<EbsResponse> {
  const body = parseJsonBody(request);
  const started = await request.cloud.ebsDirect.start(request.caller.accountId, {
    volumeSizeGiB: body.VolumeSize,
    parentSnapshotId: body.ParentSnapshotId,
    timeoutMinutes: body.Timeout,
    clientToken: body.ClientToken,
    description: body.Description,
    tags: body.Tags,
    encrypted: body.Encrypted,
    kmsKeyArn: body.KmsKeyArn,
  });
  const answer = {
    Description: started.description,
    SnapshotId: started.snapshotId,
    OwnerId: started.ownerId,
    Status: started.status,
    StartTime: started.startTime.getTime() / 1000,
    VolumeSize: started.volumeSizeGiB,
    BlockSize: started.blockSizeBytes,
    Tags: started.tags.map((t) => ({ Key: t.key, Value: t.value })),
    ...(started.parentSnapshotId !== undefined ? { ParentSnapshotId: started.parentSnapshotId } : {}),
    SseType: 'none',
  };
  return { status: 201, headers: json, body: JSON.stringify(answer) };
}

async function getSnapshotBlock(
  request: EbsRequest,
  snapshotId: string,
  blockIndex: number,
): Promise<EbsResponse> {
  const token = request.query.get('blockToken') ?? missing('BlockToken');
  const block = await request.cloud.ebsDirect.getBlock(
    request.caller.accountId,
    snapshotId,
    blockIndex,
    token,
  );
  return {
    status: 200,
    headers: {
      'content-type': 'application/octet-stream',
      'x-amz-Data-Length': String(block.data.length),
      ...checksumHeaders(block.checksum),
    },
    body: block.data,
  };
}

function listing(meta: ListingMeta, items: Record<string, unknown>): EbsResponse {
  const body = {
    ...items,
    ExpiryTime: meta.expiryTime.getTime() / 1000,
    VolumeSize: meta.volumeSizeGiB,
    BlockSize: meta.blockSizeBytes,
    ...(meta.nextToken !== undefined ? { NextToken: meta.nextToken } : {}),
  };
  return { status: 200, headers: json, body: JSON.stringify(body) };
}

function blockJson(block: ListedBlock): Record<string, unknown> {
  return { BlockIndex: block.blockIndex, BlockToken: block.blockToken };
}

function changedJson(block: ChangedBlock): Record<string, unknown> {
  return {
    BlockIndex: block.blockIndex,
    ...(block.firstBlockToken !== undefined ? { FirstBlockToken: block.firstBlockToken } : {}),
    ...(block.secondBlockToken !== undefined ? { SecondBlockToken: block.secondBlockToken } : {}),
  };
}

function checksumHeaders(checksum: string): Record<string, string> {
  return { 'x-amz-Checksum': checksum, 'x-amz-Checksum-Algorithm': 'SHA256' };
}

function page(request: EbsRequest): ListPage {
  return {
    startingBlockIndex: integerQuery(request, 'startingBlockIndex'),
    maxResults: integerQuery(request, 'maxResults'),
    nextToken: request.query.get('pageToken') ?? undefined,
  };
}

function header(request: EbsRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function integerHeader(request: EbsRequest, name: string, required: boolean): number | undefined {
  const text = header(request, name);
  if (text === undefined) return required ? missing(name) : undefined;
  return parseInteger(text, name);
}

function integerQuery(request: EbsRequest, name: string): number | undefined {
  const text = request.query.get(name);
  return text === null ? undefined : parseInteger(text, name);
}

function parseInteger(text: string, name: string): number {
  if (!/^-?\d{1,15}$/.test(text.trim())) {
    throw invalid(`${name} must be an integer: got ${JSON.stringify(text)}.`);
  }
  return Number(text);
}

function parseJsonBody(request: EbsRequest): Record<string, unknown> {
  if (request.body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(request.body.toString('utf8'));
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      rejectXmlUnsafeJson(parsed);
      return parsed as Record<string, unknown>;
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    // not JSON: answered below
  }
  throw invalid('The request body must be a JSON object.');
}

function missing(name: string): never {
  throw invalid(`The request must contain the parameter ${name}.`);
}

function invalid(message: string): ApiError {
  return new ApiError('ValidationException', { message, reason: 'INVALID_PARAMETER_VALUE' });
}
