// The EBS direct API's error vocabulary: ApiErrors carrying the AWS exception code and its `Reason` enum
// value (see @aws-sdk/client-ebs models/enums), rendered as JSON by api/errors.ts.
import { CloudError } from '../errors.ts';

/** ValidationException reasons AWS defines (the subset Strata raises). */
export type ValidationReason =
  | 'INVALID_PARAMETER_VALUE'
  | 'INVALID_BLOCK'
  | 'INVALID_BLOCK_TOKEN'
  | 'INVALID_PAGE_TOKEN'
  | 'INVALID_SNAPSHOT_ID'
  | 'INVALID_TAG'
  | 'INVALID_VOLUME_SIZE'
  | 'UNRELATED_SNAPSHOTS'
  | 'WRITE_REQUEST_TIMEOUT';

/** ValidationException (400) with an AWS reason. */
export function validation(reason: ValidationReason, message: string): CloudError {
  return new CloudError('ValidationException', { message, reason });
}

/** ResourceNotFoundException (404): missing, deleted, or another account's unshared snapshot. */
export function snapshotNotFound(snapshotId: string): CloudError {
  return new CloudError('ResourceNotFoundException', {
    message: `The snapshot '${snapshotId}' does not exist.`,
    reason: 'SNAPSHOT_NOT_FOUND',
  });
}

/** ConflictException (409): a ClientToken reused with different parameters. */
export function tokenConflict(): CloudError {
  return new CloudError('ConflictException', {
    message: 'The request uses the same client token as a previous, but non-identical request.',
  });
}
