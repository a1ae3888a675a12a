// StartSnapshot's parameters and their checks (AWS bounds: VolumeSize 1..65536 GiB, Timeout 10..4320
// minutes with a default of 60, Description <= 255 characters, ClientToken <= 64, up to 50 tags).
import { limits } from '../../base/limits.ts';
import type { Tag } from '../common/tags.ts';
import { checkSnapshotId } from './access.ts';
import { validation } from './exceptions.ts';

/** StartSnapshot as parsed from the JSON body. */
export interface StartSnapshotRequest {
  readonly volumeSizeGiB: unknown;
  readonly parentSnapshotId: unknown;
  readonly timeoutMinutes: unknown;
  readonly clientToken: unknown;
  readonly description: unknown;
  readonly tags: unknown;
  readonly encrypted: unknown;
  readonly kmsKeyArn: unknown;
}

/** Timeout bounds and default, in minutes (AWS reference). */
export const startTimeoutMinutes = { min: 10, max: 4320, default: 60 } as const;

/** The checked request; JSON.stringify of it is the ClientToken digest input. */
export interface CheckedStart {
  readonly volumeSizeGiB: number;
  readonly parentSnapshotId: string | undefined;
  readonly timeoutMinutes: number;
  readonly clientToken: string | undefined;
  readonly description: string;
  readonly tags: Tag[];
}

/** Validates StartSnapshot; throws ValidationException with AWS's reasons. */
export function checkStartRequest(request: StartSnapshotRequest): CheckedStart {
  const size = request.volumeSizeGiB;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > limits.volumeGiBMax) {
    throw validation(
      'INVALID_VOLUME_SIZE',
      `VolumeSize must be an integer from 1 to ${limits.volumeGiBMax} GiB: got ${String(size)}.`,
    );
  }
  const timeout = request.timeoutMinutes ?? startTimeoutMinutes.default;
  if (
    typeof timeout !== 'number' ||
    !Number.isInteger(timeout) ||
    timeout < startTimeoutMinutes.min ||
    timeout > startTimeoutMinutes.max
  ) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `Timeout must be 10 to 4320 minutes: got ${String(timeout)}.`,
    );
  }
  if (request.encrypted === true || request.kmsKeyArn !== undefined) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      'Strata does not encrypt snapshots: Encrypted must be false.',
    );
  }
  const parent = optionalString(request.parentSnapshotId, 'ParentSnapshotId', 64);
  if (parent !== undefined) checkSnapshotId(parent);
  return {
    volumeSizeGiB: size,
    parentSnapshotId: parent,
    timeoutMinutes: timeout,
    clientToken: optionalString(request.clientToken, 'ClientToken', limits.clientTokenCharsMax),
    description: optionalString(request.description, 'Description', limits.snapshotDescriptionCharsMax) ?? '',
    tags: checkTags(request.tags),
  };
}

function optionalString(value: unknown, name: string, maxChars: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > maxChars) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `${name} must be a string of at most ${maxChars} characters.`,
    );
  }
  return value;
}

function checkTags(value: unknown): Tag[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > limits.tagsPerResourceMax) {
    throw validation('INVALID_TAG', `Tags must be a list of at most ${limits.tagsPerResourceMax} tags.`);
  }
  const keys = new Set<string>();
  return value.map((tag: unknown) => {
    const { Key: key, Value: tagValue } = (tag ?? {}) as { Key?: unknown; Value?: unknown };
    const text = tagValue ?? '';
    if (
      typeof key !== 'string' ||
      key.length === 0 ||
      key.length > limits.tagKeyCharsMax ||
      key.startsWith('aws:')
    ) {
      throw validation(
        'INVALID_TAG',
        `Tag key ${JSON.stringify(key)} is invalid: 1 to 128 characters, not aws:*.`,
      );
    }
    if (typeof text !== 'string' || text.length > limits.tagValueCharsMax || keys.has(key)) {
      throw validation('INVALID_TAG', `Tag ${key} has an invalid or duplicate value.`);
    }
    keys.add(key);
    return { key, value: text };
  });
}
