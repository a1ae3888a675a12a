// AMIs: RegisterImage, DescribeImages, DeregisterImage and the image attributes. An image is a row plus block
// device mappings naming snapshots; while it is registered, DeleteSnapshot of those snapshots answers
// InvalidSnapshot.InUse (`snapshotUsage`, the snapshot service's SnapshotUsage port). Instance-store images have their
// root in an imported file instead (cloud/images/instance-store-images.ts).
import type { Kysely, Selectable } from 'kysely';
import { newId, isValidId } from '../../base/ids.ts';
import { assert } from '../../base/assert.ts';
import { CloudError, ec2Error, notFoundError } from '../errors.ts';
import type { Database } from '../../db/schema.ts';
import { nowIso } from '../../db/schema.ts';
import type { ImagesTable } from '../../db/tables/images.ts';
import { compileFilters, type Filter, type FilterFields } from '../common/filters.ts';
import type { Page, Paginator } from '../common/pagination.ts';
import { tagsForResource, type TagService, type TagSpecification } from '../common/tags.ts';
import { visibleSnapshot } from '../ebs/lookups.ts';
import type { SnapshotUsage } from '../ebs/snapshots.ts';
import { checkImportedFile, claimImportedFile, releaseImageFile } from './instance-store-images.ts';
import {
  imageMappingRow,
  mappingOfRow,
  resolveMappings,
  type Mapping,
  type MappingRequest,
  type SnapshotSizeOf,
} from './block-device-mappings.ts';
import {
  changeLaunchPermissions,
  launchPermissionsOf,
  resetLaunchPermissions,
  type LaunchPermissionChange,
} from './image-permissions.ts';
import type { DryRunCheck } from '../common/dry-run.ts';

/** An image row as read. */
export type ImageRow = Selectable<ImagesTable>;

/** An image with what DescribeImages shows about it. */
export interface Image {
  readonly row: ImageRow;
  readonly mappings: readonly Mapping[];
  readonly tags: ReadonlyMap<string, string>;
  readonly isPublic: boolean;
}

/** RegisterImage's parameters. */
export interface RegisterImageRequest {
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly architecture: string | undefined;
  readonly rootDeviceName: string | undefined;
  readonly virtualizationType: string | undefined;
  readonly bootMode: string | undefined;
  readonly enaSupport: boolean | undefined;
  readonly imageLocation: string | undefined;
  readonly mappings: readonly MappingRequest[];
  readonly tagSpecifications: readonly TagSpecification[];
  readonly dryRun: DryRunCheck;
}

/** DescribeImages' parameters. */
export interface DescribeImagesRequest {
  readonly imageIds: readonly string[];
  readonly owners: readonly string[];
  readonly executableUsers: readonly string[];
  readonly filters: readonly Filter[];
  readonly maxResults: number | undefined;
  readonly nextToken: string | undefined;
}

/** What the image service is built from. */
export interface ImageServiceDeps {
  readonly db: Kysely<Database>;
  readonly paginator: Paginator;
  readonly tags: TagService;
  /** Whether the driver boots UEFI (capabilities().uefi). */
  readonly uefi: () => Promise<boolean>;
  /** The data dir: instance-store image files live in `<data-dir>/images/`. */
  readonly dataDir: string;
}

/** DescribeImages MaxResults: 5..1000. */
export const describeImagesBounds = { min: 5, max: 1000, clampAbove: false } as const;

const imageFields: FilterFields<Image> = {
  architecture: (i) => i.row.architecture,
  'block-device-mapping.delete-on-termination': (i) =>
    i.mappings.flatMap((m) => (m.kind === 'ebs' ? [m.deleteOnTermination] : [])),
  'block-device-mapping.device-name': (i) => i.mappings.map((m) => m.deviceName),
  'block-device-mapping.snapshot-id': (i) =>
    i.mappings.flatMap((m) => (m.kind === 'ebs' && m.snapshotId !== null ? [m.snapshotId] : [])),
  'block-device-mapping.volume-size': (i) =>
    i.mappings.flatMap((m) => (m.kind === 'ebs' ? [m.volumeSizeGiB] : [])),
  'block-device-mapping.volume-type': (i) =>
    i.mappings.flatMap((m) => (m.kind === 'ebs' ? [m.volumeType] : [])),
  'creation-date': (i) => i.row.creation_date,
  description: (i) => i.row.description,
  'ena-support': (i) => i.row.ena_support === 1,
  hypervisor: () => 'xen',
  'image-id': (i) => i.row.id,
  'image-type': () => 'machine',
  'is-public': (i) => i.isPublic,
  name: (i) => i.row.name,
  // Only AWS's own images carry an alias (amazon, aws-marketplace …); Strata has none of those.
  'owner-alias': () => [],
  'owner-id': (i) => i.row.account_id,
  'root-device-name': (i) => i.row.root_device_name,
  'root-device-type': (i) => i.row.root_device_type,
  'source-instance-id': (i) => i.row.source_instance_id,
  state: (i) => i.row.state,
  'virtualization-type': (i) => i.row.virtualization_type,
};

const namePattern = /^[a-zA-Z0-9()[\]. /\-'@_]{3,128}$/;

/** The image service: every method takes the caller's account id. */
export class ImageService {
  readonly #deps: ImageServiceDeps;

  constructor(deps: ImageServiceDeps) {
    this.#deps = deps;
    deps.tags.registerKind({
      prefix: 'ami',
      resourceType: 'image',
      notFound: 'InvalidAMIID.NotFound',
      access: async (accountId, id) => {
        const row = await this.#row(id);
        if (row === undefined) return 'missing';
        if (row.account_id === accountId) return 'owned';
        return (await this.#mayLaunch(accountId, id)) ? 'shared' : 'missing';
      },
    });
  }

  async #row(id: string): Promise<ImageRow | undefined> {
    return this.#deps.db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async #mayLaunch(accountId: string, imageId: string): Promise<boolean> {
    const grant = await this.#deps.db
      .selectFrom('image_launch_permissions')
      .select('grantee')
      .where('image_id', '=', imageId)
      .where('grantee', 'in', [accountId, 'all'])
      .executeTakeFirst();
    return grant !== undefined;
  }

  /** A snapshot-size lookup for mappings, honouring what `accountId` may see. */
  snapshotSizes(accountId: string): SnapshotSizeOf {
    return async (snapshotId) => {
      const { row } = await visibleSnapshot(this.#deps.db, accountId, snapshotId);
      if (row.state !== 'completed') {
        throw ec2Error('IncorrectState', `Snapshot '${snapshotId}' is in invalid state - ${row.state}`);
      }
      return row.volume_size_gib;
    };
  }

  /**
   * RegisterImage: EBS-backed (the root device maps a snapshot), or instance-store when ImageLocation names a
   * file `strata image import --instance-store` put in the images dir (cloud/images/instance-store-images.ts).
   */
  async register(accountId: string, request: RegisterImageRequest): Promise<ImageRow> {
    const row = await this.#planRegister(accountId, request);
    const mappings = await resolveMappings(request.mappings, this.snapshotSizes(accountId));
    const root = mappings.find((m) => m.deviceName === row.root_device_name);
    if (request.imageLocation !== undefined) {
      return this.#registerInstanceStore(row, request, mappings, root !== undefined);
    }
    if (root?.kind !== 'ebs' || root.snapshotId === null) {
      throw ec2Error(
        'InvalidBlockDeviceMapping',
        `The root device name '${row.root_device_name}' must map to an EBS snapshot in BlockDeviceMapping.`,
      );
    }
    const tags = tagsForResource(request.tagSpecifications, 'image');
    request.dryRun();
    await this.insert(row, mappings, tags);
    return row;
  }

  async #registerInstanceStore(
    ebsRow: ImageRow,
    request: RegisterImageRequest,
    mappings: readonly Mapping[],
    rootMapped: boolean,
  ): Promise<ImageRow> {
    const location = request.imageLocation as string;
    await checkImportedFile(this.#deps.dataDir, location);
    if (rootMapped) {
      throw ec2Error(
        'InvalidBlockDeviceMapping',
        `The root device '${ebsRow.root_device_name}' of an instance-store image comes from ImageLocation.`,
      );
    }
    const tags = tagsForResource(request.tagSpecifications, 'image');
    request.dryRun();
    const row: ImageRow = { ...ebsRow, root_device_type: 'instance-store' };
    await claimImportedFile(this.#deps.dataDir, location, row.id);
    await this.insert(row, mappings, tags).catch(async (error: unknown) => {
      await releaseImageFile(this.#deps.db, this.#deps.dataDir, row.id);
      throw error;
    });
    return row;
  }

  /** Inserts an image with its mappings and tags in one transaction (RegisterImage and CreateImage). */
  async insert(
    row: ImageRow,
    mappings: readonly Mapping[],
    tags: readonly { key: string; value: string }[],
  ): Promise<void> {
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('images').values(row).execute();
      if (mappings.length > 0) {
        await trx
          .insertInto('block_device_mappings')
          .values(mappings.map((m, i) => imageMappingRow(row.id, row.account_id, m, i)))
          .execute();
      }
      await this.#deps.tags.putTags(trx, row.account_id, row.id, 'image', tags);
    });
  }

  async #planRegister(accountId: string, request: RegisterImageRequest): Promise<ImageRow> {
    const name = request.name;
    if (name === undefined || name === '') throw new CloudError('MissingParameter', { name: 'Name' });
    await this.checkName(accountId, name);
    const architecture = request.architecture ?? 'x86_64';
    if (architecture !== 'x86_64') {
      throw ec2Error(
        'InvalidParameterValue',
        `The architecture '${architecture}' is not supported; expected x86_64.`,
      );
    }
    const virtualization = request.virtualizationType ?? 'hvm';
    if (virtualization !== 'hvm') {
      throw ec2Error(
        'InvalidParameterValue',
        `The virtualization type '${virtualization}' is not supported; expected hvm.`,
      );
    }
    const bootMode = await this.#checkBootMode(request.bootMode);
    return this.newRow(accountId, {
      name,
      description: request.description ?? '',
      root_device_name: request.rootDeviceName ?? '/dev/sda1',
      boot_mode: bootMode,
      ena_support: request.enaSupport === true ? 1 : 0,
      source_instance_id: null,
    });
  }

  // EC2's values: legacy-bios, uefi, uefi-preferred (stored as uefi when the host has OVMF).
  async #checkBootMode(bootMode: string | undefined): Promise<string | null> {
    if (bootMode === undefined) return null;
    if (bootMode === 'legacy-bios') return 'legacy-bios';
    if (bootMode === 'uefi-preferred') return (await this.#deps.uefi()) ? 'uefi' : 'legacy-bios';
    if (bootMode === 'uefi') {
      if (await this.#deps.uefi()) return 'uefi';
      throw ec2Error(
        'UnsupportedOperation',
        `The boot mode 'uefi' is not available: this host has no UEFI firmware (OVMF).`,
      );
    }
    throw ec2Error(
      'InvalidParameterValue',
      `Value (${bootMode}) for parameter BootMode is invalid. Expected: legacy-bios, uefi or uefi-preferred.`,
    );
  }

  /** Checks an AMI name's form and that the account has no other image of that name. */
  async checkName(accountId: string, name: string): Promise<void> {
    if (!namePattern.test(name)) {
      throw ec2Error(
        'InvalidAMIName.Malformed',
        `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`,
      );
    }
    const taken = await this.#deps.db
      .selectFrom('images')
      .select('id')
      .where('account_id', '=', accountId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (taken !== undefined) throw new CloudError('InvalidAMIName.Duplicate', { name, id: taken.id });
  }

  /** A fresh `available` EBS-backed image row. */
  newRow(
    accountId: string,
    fields: Pick<
      ImageRow,
      'name' | 'description' | 'root_device_name' | 'boot_mode' | 'ena_support' | 'source_instance_id'
    >,
  ): ImageRow {
    return {
      id: newId('ami'),
      account_id: accountId,
      state: 'available',
      architecture: 'x86_64',
      root_device_type: 'ebs',
      virtualization_type: 'hvm',
      creation_date: nowIso(),
      ...fields,
    };
  }

  /** An image `accountId` may launch (own, public or granted), or InvalidAMIID.NotFound / Malformed. */
  async launchable(accountId: string, imageId: string): Promise<Image> {
    checkImageIds([imageId]);
    const row = await this.#row(imageId);
    if (row === undefined || (row.account_id !== accountId && !(await this.#mayLaunch(accountId, imageId)))) {
      throw new CloudError('InvalidAMIID.NotFound', { id: imageId });
    }
    const [image] = await this.#complete(accountId, [row]);
    assert(image !== undefined, 'a found image has a description');
    return image;
  }

  /** The caller's own image, or InvalidAMIID.NotFound (also for images merely shared with it). */
  async owned(accountId: string, imageId: string): Promise<Image> {
    const image = await this.launchable(accountId, imageId);
    if (image.row.account_id !== accountId) throw new CloudError('InvalidAMIID.NotFound', { id: imageId });
    return image;
  }

  async #complete(accountId: string, rows: readonly ImageRow[]): Promise<Image[]> {
    const ids = rows.map((r) => r.id);
    const mappingRows =
      ids.length === 0
        ? []
        : await this.#deps.db
            .selectFrom('block_device_mappings')
            .selectAll()
            .where('owner_id', 'in', ids)
            .orderBy('position')
            .execute();
    const permissions = await launchPermissionsOf(this.#deps.db, ids);
    const tags = await this.#deps.tags.tagsOf(accountId, ids);
    return rows.map((row) => ({
      row,
      mappings: mappingRows.filter((m) => m.owner_id === row.id).map(mappingOfRow),
      // Tags belong to the owner: an account launching a shared image sees none of them.
      tags: row.account_id === accountId ? (tags.get(row.id) ?? new Map()) : new Map(),
      isPublic: (permissions.get(row.id) ?? []).some((p) => p.kind === 'group'),
    }));
  }

  /** The newest launch time of an instance of `imageId` (DescribeImageAttribute lastLaunchedTime), if any. */
  async lastLaunched(imageId: string): Promise<string | undefined> {
    const row = await this.#deps.db
      .selectFrom('instances')
      .select((eb) => eb.fn.max('launch_time').as('last'))
      .where('image_id', '=', imageId)
      .executeTakeFirst();
    return row?.last ?? undefined;
  }

  /** DescribeImages: own, public and shared images, narrowed by ids, owners, executable users and filters. */
  async describe(accountId: string, request: DescribeImagesRequest): Promise<Page<Image>> {
    checkImageIds(request.imageIds);
    const scope = {
      action: 'DescribeImages',
      accountId,
      ...request,
      maxResults: undefined,
      nextToken: undefined,
    };
    const page = this.#deps.paginator.open(
      scope,
      request.maxResults,
      request.nextToken,
      describeImagesBounds,
    );
    let query = this.#deps.db.selectFrom('images').selectAll().orderBy('id');
    if (request.imageIds.length > 0) query = query.where('id', 'in', request.imageIds);
    if (page.after !== undefined) query = query.where('id', '>', page.after);
    const visible = await this.#visible(accountId, await query.execute(), request);
    if (request.imageIds.length > 0 && request.owners.length === 0 && request.executableUsers.length === 0) {
      const found = new Set(visible.map((i) => i.id));
      const missing = request.imageIds.filter((id) => !found.has(id));
      if (missing.length > 0) throw notFoundError('InvalidAMIID.NotFound', missing);
    }
    const images = await this.#complete(accountId, visible);
    const keep = compileFilters(request.filters, imageFields, (i) => i.tags);
    const paged = this.#deps.paginator.page(scope, page, images.filter(keep), (i) => i.row.id);
    return paged;
  }

  async #visible(
    accountId: string,
    rows: readonly ImageRow[],
    request: DescribeImagesRequest,
  ): Promise<ImageRow[]> {
    const permissions = await launchPermissionsOf(
      this.#deps.db,
      rows.map((r) => r.id),
    );
    const owners = new Set(request.owners.map((o) => (o === 'self' ? accountId : o)));
    return rows.filter((row) => {
      const grants = permissions.get(row.id) ?? [];
      const isPublic = grants.some((g) => g.kind === 'group');
      const granted = grants.some((g) => g.kind === 'user' && g.grantee === accountId);
      if (row.account_id !== accountId && !isPublic && !granted) return false;
      if (owners.size > 0 && !owners.has(row.account_id)) return false;
      if (request.executableUsers.length === 0) return true;
      return request.executableUsers.some((user) =>
        user === 'all'
          ? isPublic
          : user === 'self'
            ? granted || row.account_id === accountId
            : grants.some((g) => g.grantee === user),
      );
    });
  }

  /** DeregisterImage: the image and its mappings go; its snapshots may be deleted afterwards. */
  async deregister(accountId: string, imageId: string, dryRun: DryRunCheck): Promise<void> {
    await this.owned(accountId, imageId);
    dryRun();
    await this.#deps.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('block_device_mappings').where('owner_id', '=', imageId).execute();
      await trx.deleteFrom('image_launch_permissions').where('image_id', '=', imageId).execute();
      await this.#deps.tags.dropAll(trx, imageId);
      await trx.deleteFrom('images').where('id', '=', imageId).execute();
    });
    await releaseImageFile(this.#deps.db, this.#deps.dataDir, imageId);
  }

  /** ModifyImageAttribute description. */
  async setDescription(
    accountId: string,
    imageId: string,
    description: string,
    dryRun: DryRunCheck,
  ): Promise<void> {
    await this.owned(accountId, imageId);
    dryRun();
    await this.#deps.db.updateTable('images').set({ description }).where('id', '=', imageId).execute();
  }

  /** ModifyImageAttribute launchPermission (Add/Remove, UserId or Group all). */
  async changeLaunchPermission(
    accountId: string,
    imageId: string,
    change: LaunchPermissionChange,
    dryRun: DryRunCheck,
  ): Promise<void> {
    await this.owned(accountId, imageId);
    dryRun();
    await changeLaunchPermissions(this.#deps.db, imageId, change);
  }

  /** ResetImageAttribute launchPermission. */
  async resetLaunchPermission(accountId: string, imageId: string, dryRun: DryRunCheck): Promise<void> {
    await this.owned(accountId, imageId);
    dryRun();
    await resetLaunchPermissions(this.#deps.db, imageId);
  }

  /** The launchPermission grants of the caller's own image. */
  async launchPermissions(accountId: string, imageId: string): Promise<{ kind: string; grantee: string }[]> {
    await this.owned(accountId, imageId);
    return (await launchPermissionsOf(this.#deps.db, [imageId])).get(imageId) ?? [];
  }
}

/** Throws InvalidAMIID.Malformed for ids that are not `ami-` + 8 or 17 hex digits. */
export function checkImageIds(ids: readonly string[]): void {
  for (const id of ids) if (!isValidId(id, 'ami')) throw new CloudError('InvalidAMIID.Malformed', { id });
}

/** The SnapshotUsage port EBS asks before DeleteSnapshot: the image whose mappings name a snapshot, if any. */
export function snapshotUsage(db: Kysely<Database>): SnapshotUsage {
  return {
    async imageUsing(snapshotId) {
      const row = await db
        .selectFrom('block_device_mappings')
        .select('owner_id')
        .where('snapshot_id', '=', snapshotId)
        .where('owner_id', 'like', 'ami-%')
        .executeTakeFirst();
      return row?.owner_id;
    },
  };
}
