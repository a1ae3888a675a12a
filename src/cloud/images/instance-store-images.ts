// Instance-store AMIs: the root disk is not a volume but a local copy-on-write of an image file.
// `strata image import --instance-store FILE` converts FILE to qcow2 as `<data-dir>/images/import-<uuid>.qcow2`
// and calls RegisterImage with that file name as ImageLocation; registering renames it to `<ami-id>.qcow2`
// (so a RegisterImage caller can only name files an import put there, never an arbitrary host path).
// Each instance boots from its own qcow2 overlay `<data-dir>/instance-store/<instance id>/root.qcow2` backed
// by the image file: instant, thin, and gone on terminate. The image file stays while any live instance uses
// it, even after DeregisterImage; the last terminate removes it.
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { runTool } from '../../compute/run-tool.ts';
import { ec2Error } from '../errors.ts';

/** Where an instance's instance-store files live (its root overlay here, its ephemeral disks: instances/disks.ts). */
export function ephemeralDir(dataDir: string, instanceId: string): string {
  return join(dataDir, 'instance-store', instanceId);
}

/** Where imported and registered instance-store image files live. */
export function imagesDir(dataDir: string): string {
  return join(dataDir, 'images');
}

/** The image file of the instance-store AMI `imageId`. */
export function imageFile(dataDir: string, imageId: string): string {
  return join(imagesDir(dataDir), `${imageId}.qcow2`);
}

/** File names `strata image import` writes; the only ImageLocation values RegisterImage accepts. */
export const importedFilePattern =
  /^import-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.qcow2$/;

/** Checks an ImageLocation names an imported file that exists; InvalidParameterValue otherwise. */
export async function checkImportedFile(dataDir: string, location: string): Promise<void> {
  const found = importedFilePattern.test(location)
    ? await stat(join(imagesDir(dataDir), location)).catch(() => null)
    : null;
  if (found === null || !found.isFile()) {
    throw ec2Error(
      'InvalidParameterValue',
      `ImageLocation '${location}' is not a file imported by 'strata image import --instance-store'.`,
    );
  }
}

/** Makes the imported file the image file of `imageId` (a rename inside the images dir). */
export async function claimImportedFile(dataDir: string, location: string, imageId: string): Promise<void> {
  await rename(join(imagesDir(dataDir), location), imageFile(dataDir, imageId));
}

/** The instance's root overlay on its image file; made on first use, kept across reboots. */
export async function rootOverlay(dataDir: string, instanceId: string, imageId: string): Promise<string> {
  const overlay = join(ephemeralDir(dataDir, instanceId), 'root.qcow2');
  if ((await stat(overlay).catch(() => null)) !== null) return overlay;
  const base = imageFile(dataDir, imageId);
  await mkdir(ephemeralDir(dataDir, instanceId), { recursive: true, mode: 0o700 });
  await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, `${overlay}.new`]);
  await rename(`${overlay}.new`, overlay);
  return overlay;
}

/** Removes the image file of a deregistered image once no instance that is not terminated uses it. */
export async function releaseImageFile(
  db: Kysely<Database>,
  dataDir: string,
  imageId: string,
): Promise<void> {
  const registered = await db.selectFrom('images').select('id').where('id', '=', imageId).executeTakeFirst();
  if (registered !== undefined) return;
  const user = await db
    .selectFrom('instances')
    .select('id')
    .where('image_id', '=', imageId)
    .where('state', '!=', 'terminated')
    .executeTakeFirst();
  if (user === undefined) await rm(imageFile(dataDir, imageId), { force: true });
}
