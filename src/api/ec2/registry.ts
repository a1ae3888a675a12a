// Every EC2 Query action Strata implements, by name. The coverage table (docs/api-coverage.md) is generated
// from this list by scripts/api-coverage.ts.
//
// To add actions: export an array of `defineAction(...)` objects from a file under actions/ and spread it
// into `ec2Actions` below (one import, one line). Names must be unique (checked at load).
import { assert } from '../../base/assert.ts';
import type { Ec2Action } from './action.ts';
import { regionActions } from './actions/regions.ts';
import { volumeActions } from './actions/volumes.ts';
import { snapshotActions } from './actions/snapshots.ts';
import { tagActions } from './actions/tags.ts';
import { imageActions } from './actions/images.ts';
import { instanceActions } from './actions/instances.ts';
import { attachmentActions } from './actions/instances-attachments.ts';
import { instanceTypeActions } from './actions/instances-types.ts';
import { keyPairActions } from './actions/key-pairs.ts';
import { addressActions } from './actions/addresses.ts';
import { metadataOptionsActions } from './actions/metadata-options.ts';
import { vpcActions } from './actions/vpcs.ts';
import { securityGroupActions } from './actions/security-groups.ts';
import { ebsEncryptionActions } from './actions/ebs-encryption.ts';
import { snapshotRestoreActions } from './actions/snapshot-restores.ts';
import { instanceInfoActions } from './actions/instance-info.ts';

/** All actions, in coverage-table order. */
export const ec2Actions: readonly Ec2Action[] = [
  ...regionActions,
  ...volumeActions,
  ...snapshotActions,
  ...tagActions,
  ...imageActions,
  ...instanceActions,
  ...attachmentActions,
  ...instanceTypeActions,
  ...keyPairActions,
  ...addressActions,
  ...metadataOptionsActions,
  ...vpcActions,
  ...securityGroupActions,
  ...ebsEncryptionActions,
  ...snapshotRestoreActions,
  ...instanceInfoActions,
];

const byName = new Map(ec2Actions.map((action) => [action.name, action]));
assert(byName.size === ec2Actions.length, 'two EC2 actions share a name');

/** The action named `name` (case-sensitive, as EC2), or undefined. */
export function findEc2Action(name: string): Ec2Action | undefined {
  return byName.get(name);
}
