// EBS direct routes: method + path (+ query) → a tagged action, as the @aws-sdk/client-ebs serializers send
// them (paths and query names from its schemas: blockToken, pageToken, maxResults, startingBlockIndex,
// firstSnapshotId).
import { ApiError } from '../errors.ts';

/** One EBS direct action, parsed from its route. Body and headers are read by the action itself. */
export type EbsAction =
  | { readonly kind: 'StartSnapshot' }
  | { readonly kind: 'PutSnapshotBlock'; readonly snapshotId: string; readonly blockIndex: number }
  | { readonly kind: 'GetSnapshotBlock'; readonly snapshotId: string; readonly blockIndex: number }
  | { readonly kind: 'ListSnapshotBlocks'; readonly snapshotId: string }
  | { readonly kind: 'ListChangedBlocks'; readonly secondSnapshotId: string }
  | { readonly kind: 'CompleteSnapshot'; readonly snapshotId: string };

/** Matches a request to its action, or throws ValidationException naming what was sent. */
export function routeEbs(method: string, path: string): EbsAction {
  const parts = path.split('/').slice(1);
  const [root, id, leaf, index] = parts;
  if (root === 'snapshots') {
    if (parts.length === 1 && method === 'POST') return { kind: 'StartSnapshot' };
    if (parts.length === 3 && id === 'completion' && leaf !== undefined && method === 'POST') {
      return { kind: 'CompleteSnapshot', snapshotId: leaf };
    }
    if (parts.length === 3 && id !== undefined && leaf === 'blocks' && method === 'GET') {
      return { kind: 'ListSnapshotBlocks', snapshotId: id };
    }
    if (parts.length === 3 && id !== undefined && leaf === 'changedblocks' && method === 'GET') {
      return { kind: 'ListChangedBlocks', secondSnapshotId: id };
    }
    if (parts.length === 4 && id !== undefined && leaf === 'blocks' && index !== undefined) {
      const blockIndex = parseBlockIndex(index);
      if (method === 'PUT') return { kind: 'PutSnapshotBlock', snapshotId: id, blockIndex };
      if (method === 'GET') return { kind: 'GetSnapshotBlock', snapshotId: id, blockIndex };
    }
  }
  throw new ApiError('ValidationException', {
    message: `No EBS direct API operation matches ${method} ${path}.`,
    reason: 'INVALID_PARAMETER_VALUE',
  });
}

function parseBlockIndex(text: string): number {
  if (!/^\d{1,15}$/.test(text)) {
    throw new ApiError('ValidationException', {
      message: `BlockIndex must be a non-negative integer: got ${text}.`,
      reason: 'INVALID_BLOCK',
    });
  }
  return Number(text);
}
