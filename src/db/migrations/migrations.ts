// Every migration, in order. Kysely's Migrator runs the pending ones (sorted by name) when the database opens.
// To add one: write `NNNN-name.ts` next to this file (next free number) and add a line below.
import type { Migration } from 'kysely';
import * as m0001 from './0001-accounts.ts';
import * as m0002 from './0002-volumes-snapshots-tags.ts';
import * as m0003ebsDirect from './0003-ebs-direct.ts';
import * as m0004imagesInstances from './0004-images-instances.ts';
import * as m0005snapshotArchive from './0005-snapshot-archive.ts';
import * as m0006vpcNetworking from './0006-vpc-networking.ts';
import * as m0007keysAddressesMetadata from './0007-keys-addresses-metadata.ts';
import * as m0008ec2Fidelity from './0008-ec2-fidelity.ts';

/** Migrations by name; names sort in the order they must run. */
export const migrations: Readonly<Record<string, Migration>> = {
  '0001-accounts': m0001,
  '0002-volumes-snapshots-tags': m0002,
  '0003-ebs-direct': m0003ebsDirect,
  '0004-images-instances': m0004imagesInstances,
  '0005-snapshot-archive': m0005snapshotArchive,
  '0006-vpc-networking': m0006vpcNetworking,
  '0007-keys-addresses-metadata': m0007keysAddressesMetadata,
  '0008-ec2-fidelity': m0008ec2Fidelity,
};
