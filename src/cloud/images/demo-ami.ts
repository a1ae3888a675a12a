// `strata serve --demo-image`: builds the bootable demo image (compute/image/demo-image.ts), uploads it into
// a volume through the block store, snapshots it and registers it as the admin's AMI `strata-demo`, so
// `aws ec2 run-instances --image-id <that>` works on a fresh daemon. Done once per data dir.
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert } from '../../base/assert.ts';
import { units } from '../../base/limits.ts';
import { buildDemoImage } from '../../compute/image/demo-image.ts';
import type { Cloud } from '../cloud.ts';
import { noDryRun } from '../common/dry-run.ts';

/** The demo AMI's name. */
export const demoImageName = 'strata-demo';

/** Registers the demo AMI for `accountId` unless it has one; its id, and whether this call registered it. */
export async function registerDemoImage(
  cloud: Cloud,
  accountId: string,
): Promise<{ imageId: string; registered: boolean }> {
  const existing = await cloud.db
    .selectFrom('images')
    .select('id')
    .where('account_id', '=', accountId)
    .where('name', '=', demoImageName)
    .executeTakeFirst();
  if (existing !== undefined) return { imageId: existing.id, registered: false };
  const dir = await mkdtemp(join(tmpdir(), 'strata-demo-ami-'));
  try {
    const file = join(dir, 'demo.img');
    const { sizeBytes } = await buildDemoImage({ output: file });
    const volume = await cloud.ebs.volumes.create(accountId, {
      zone: cloud.regions.zones[0]?.zoneName,
      sizeGiB: sizeBytes / units.GiB,
      snapshotId: undefined,
      volumeType: undefined,
      iops: undefined,
      throughput: undefined,
      encrypted: undefined,
      kmsKeyId: undefined,
      multiAttachEnabled: undefined,
      tagSpecifications: [],
      clientToken: undefined,
      dryRun: noDryRun,
    });
    await cloud.ebs.idle();
    await upload(cloud, file, volume.row.id);
    const snapshot = await cloud.ebs.snapshots.create(
      accountId,
      volume.row.id,
      'strata demo image',
      [],
      noDryRun,
    );
    await cloud.ebs.idle();
    await cloud.ebs.volumes.delete(accountId, volume.row.id, noDryRun);
    const image = await cloud.compute.images.register(accountId, {
      name: demoImageName,
      description: 'Strata demo: busybox Linux that prints a boot marker on the serial console',
      architecture: 'x86_64',
      rootDeviceName: '/dev/xvda',
      virtualizationType: 'hvm',
      bootMode: 'legacy-bios',
      enaSupport: undefined,
      imageLocation: undefined,
      mappings: [
        { deviceName: '/dev/xvda', noDevice: false, virtualName: undefined, ebs: blankEbs(snapshot.row.id) },
      ],
      tagSpecifications: [],
      dryRun: noDryRun,
    });
    return { imageId: image.id, registered: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function blankEbs(snapshotId: string) {
  return {
    snapshotId,
    volumeSizeGiB: undefined,
    deleteOnTermination: true,
    volumeType: undefined,
    iops: undefined,
    throughput: undefined,
  };
}

// Copies the non-zero MiB chunks, so the volume (and every instance cloned from it) stays thin.
async function upload(cloud: Cloud, file: string, volumeId: string): Promise<void> {
  const chunkBytes = units.MiB;
  const { size } = await stat(file);
  assert(cloud.store.device(volumeId)?.sizeBytes === size, 'the demo volume matches the image size');
  const handle = await open(file, 'r');
  try {
    for (let offset = 0; offset < size; offset += chunkBytes) {
      const chunk = Buffer.alloc(Math.min(chunkBytes, size - offset));
      await handle.read(chunk, 0, chunk.length, offset);
      if (chunk.some((byte) => byte !== 0)) await cloud.store.write(volumeId, offset, chunk);
    }
  } finally {
    await handle.close();
  }
  await cloud.store.flush();
}
