// EC2 image actions: RegisterImage, DescribeImages, DeregisterImage, Describe/Modify/ResetImageAttribute.
// The semantics live in cloud/images/images.ts; this file reads parameters and shapes EC2's XML.
import { assertNever } from '../../../base/assert.ts';
import { CloudError } from '../../../cloud/errors.ts';
import type { Image } from '../../../cloud/images/images.ts';
import type { LaunchPermission } from '../../../cloud/images/image-permissions.ts';
import { defineAction } from '../action.ts';
import type { XmlObject } from '../xml.ts';
import type { QueryParams } from '../query-params.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';
import { tagSet } from './volumes.ts';
import { imageMappingXml, mappingRequests } from './block-device-mapping-params.ts';
import { fixedImageAttributes, fixedImageAttributeXml, isFixedImageAttribute } from './image-attributes.ts';

/** An image as DescribeImages renders it. */
export function imageXml(image: Image): XmlObject {
  const { row } = image;
  return {
    imageId: row.id,
    imageLocation: `${row.account_id}/${row.name}`,
    imageState: row.state,
    imageOwnerId: row.account_id,
    creationDate: row.creation_date,
    isPublic: image.isPublic,
    architecture: row.architecture,
    imageType: 'machine',
    name: row.name,
    description: row.description,
    rootDeviceType: row.root_device_type,
    rootDeviceName: row.root_device_name,
    blockDeviceMapping: image.mappings.map(imageMappingXml),
    virtualizationType: row.virtualization_type,
    hypervisor: 'xen',
    enaSupport: row.ena_support === 1,
    bootMode: row.boot_mode,
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    sourceInstanceId: row.source_instance_id,
    tagSet: image.tags.size > 0 ? tagSet(image.tags) : undefined,
  };
}

/** EC2 RegisterImage (EBS-backed). */
export const registerImage = defineAction({
  name: 'RegisterImage',
  params: [
    'Name',
    'Description',
    'Architecture',
    'RootDeviceName',
    'VirtualizationType',
    'BootMode',
    'EnaSupport',
    'ImageLocation',
    'BlockDeviceMapping.N',
    'TagSpecification.N',
    'DryRun',
  ],
  status: 'partial',
  notes:
    'EBS-backed, or instance-store with ImageLocation = a file imported by `strata image import --instance-store`; x86_64 and hvm only; uefi only with OVMF',
  async run(ctx, params) {
    const row = await ctx.cloud.compute.images.register(ctx.accountId, {
      name: params.string('Name'),
      description: params.string('Description'),
      architecture: params.string('Architecture'),
      rootDeviceName: params.string('RootDeviceName'),
      virtualizationType: params.string('VirtualizationType'),
      bootMode: params.string('BootMode'),
      enaSupport: params.boolean('EnaSupport'),
      imageLocation: params.string('ImageLocation'),
      mappings: mappingRequests(params),
      tagSpecifications: params.tagSpecifications(),
      dryRun: dryRunCheck(ctx, params),
    });
    return { imageId: row.id };
  },
});

/** EC2 DescribeImages. */
export const describeImages = defineAction({
  name: 'DescribeImages',
  params: ['ImageId.N', 'Owner.N', 'ExecutableBy.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const request = {
      imageIds: params.list('ImageId'),
      owners: params.list('Owner'),
      executableUsers: params.list('ExecutableBy'),
      filters: params.filters(),
      ...params.page(),
    };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.compute.images.describe(ctx.accountId, request);
    return { imagesSet: page.items.map(imageXml), nextToken: page.nextToken };
  },
});

/** EC2 DeregisterImage. */
export const deregisterImage = defineAction({
  name: 'DeregisterImage',
  params: ['ImageId', 'DryRun'],
  async run(ctx, params) {
    await ctx.cloud.compute.images.deregister(
      ctx.accountId,
      params.requiredString('ImageId'),
      dryRunCheck(ctx, params),
    );
    return { return: true };
  },
});

const imageAttributes = [
  'description',
  'launchPermission',
  'blockDeviceMapping',
  'bootMode',
  ...fixedImageAttributes,
] as const;

/** EC2 DescribeImageAttribute. */
export const describeImageAttribute = defineAction({
  name: 'DescribeImageAttribute',
  params: ['ImageId', 'Attribute', 'DryRun'],
  notes:
    'productCodes, kernel, ramdisk, sriovNetSupport, tpmSupport, uefiData and imdsSupport are empty, as EC2 answers for such images',
  async run(ctx, params) {
    const imageId = params.requiredString('ImageId');
    const attribute = params.enumOf('Attribute', imageAttributes);
    if (attribute === undefined) throw new CloudError('MissingParameter', { name: 'Attribute' });
    checkDryRun(ctx, params);
    const images = ctx.cloud.compute.images;
    const image = await images.owned(ctx.accountId, imageId);
    if (isFixedImageAttribute(attribute))
      return { imageId, ...(await fixedImageAttributeXml(ctx.cloud, image, attribute)) };
    switch (attribute) {
      case 'description':
        return { imageId, description: { value: image.row.description } };
      case 'launchPermission': {
        const grants = await images.launchPermissions(ctx.accountId, imageId);
        return {
          imageId,
          launchPermission: grants.map(launchPermissionXml),
        };
      }
      case 'blockDeviceMapping':
        return { imageId, blockDeviceMapping: image.mappings.map(imageMappingXml) };
      case 'bootMode':
        return {
          imageId,
          bootMode: image.row.boot_mode === null ? undefined : { value: image.row.boot_mode },
        };
      default:
        return assertNever(attribute, 'attribute');
    }
  },
});

function permissions(params: QueryParams, name: string): LaunchPermission[] {
  return params.structList(name).map((p) => ({
    userId: p.string('UserId'),
    group: p.string('Group'),
    organizationArn: p.string('OrganizationArn'),
    organizationalUnitArn: p.string('OrganizationalUnitArn'),
  }));
}

function launchPermissionXml(grant: { kind: string; grantee: string }): XmlObject {
  if (grant.kind === 'group') return { group: grant.grantee };
  if (grant.kind === 'organization') return { organizationArn: grant.grantee };
  if (grant.kind === 'organizational-unit') return { organizationalUnitArn: grant.grantee };
  return { userId: grant.grantee };
}

/** EC2 ModifyImageAttribute. */
export const modifyImageAttribute = defineAction({
  name: 'ModifyImageAttribute',
  params: [
    'ImageId',
    'Attribute',
    'OperationType',
    'UserId.N',
    'UserGroup.N',
    'OrganizationArn.N',
    'OrganizationalUnitArn.N',
    'Value',
    'Description.Value',
    'LaunchPermission.Add.N',
    'LaunchPermission.Remove.N',
    'DryRun',
  ],
  status: 'partial',
  notes:
    'description and launchPermission (blockDeviceMapping is read-only, as EC2); organization grants are kept but match no account (Strata has no organizations)',
  async run(ctx, params) {
    const imageId = params.requiredString('ImageId');
    const images = ctx.cloud.compute.images;
    const description =
      params.string('Description.Value') ??
      (params.string('Attribute') === 'description' ? params.string('Value') : undefined);
    if (description !== undefined) {
      await images.setDescription(ctx.accountId, imageId, description, dryRunCheck(ctx, params));
      return { return: true };
    }
    const change = launchPermissionChange(params);
    await images.changeLaunchPermission(ctx.accountId, imageId, change, dryRunCheck(ctx, params));
    return { return: true };
  },
});

function launchPermissionChange(params: QueryParams): {
  add: LaunchPermission[];
  remove: LaunchPermission[];
} {
  const add = permissions(params, 'LaunchPermission.Add');
  const remove = permissions(params, 'LaunchPermission.Remove');
  const attribute = params.string('Attribute');
  if (attribute !== undefined && attribute !== 'launchPermission' && attribute !== 'description') {
    throw new CloudError('InvalidParameterValue', {
      name: 'Attribute',
      value: attribute,
      expected: 'description or launchPermission (blockDeviceMapping is read-only)',
    });
  }
  // The older flat form: OperationType add|remove with UserId.N / UserGroup.N.
  const operation = params.enumOf('OperationType', ['add', 'remove'] as const);
  if (operation !== undefined) {
    const flat = [
      ...params.list('UserId').map((userId) => ({ userId, group: undefined })),
      ...params.list('UserGroup').map((group) => ({ userId: undefined, group })),
      ...params
        .list('OrganizationArn')
        .map((arn) => ({ userId: undefined, group: undefined, organizationArn: arn })),
      ...params
        .list('OrganizationalUnitArn')
        .map((arn) => ({ userId: undefined, group: undefined, organizationalUnitArn: arn })),
    ];
    (operation === 'add' ? add : remove).push(...flat);
  }
  return { add, remove };
}

/** EC2 ResetImageAttribute (launchPermission only, as EC2). */
export const resetImageAttribute = defineAction({
  name: 'ResetImageAttribute',
  params: ['ImageId', 'Attribute', 'DryRun'],
  async run(ctx, params) {
    const imageId = params.requiredString('ImageId');
    const attribute = params.enumOf('Attribute', ['launchPermission'] as const);
    if (attribute === undefined) throw new CloudError('MissingParameter', { name: 'Attribute' });
    await ctx.cloud.compute.images.resetLaunchPermission(ctx.accountId, imageId, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** EC2 CreateImage. */
export const createImage = defineAction({
  name: 'CreateImage',
  params: [
    'InstanceId',
    'Name',
    'Description',
    'NoReboot',
    'BlockDeviceMapping.N',
    'TagSpecification.N',
    'DryRun',
  ],
  async run(ctx, params) {
    const row = await ctx.cloud.compute.createImage(ctx.accountId, {
      instanceId: params.requiredString('InstanceId'),
      name: params.string('Name'),
      description: params.string('Description'),
      noReboot: params.boolean('NoReboot') === true,
      mappings: mappingRequests(params),
      tagSpecifications: params.tagSpecifications(),
      dryRun: dryRunCheck(ctx, params),
    });
    return { imageId: row.id };
  },
});

/** Every image action, for the registry. */
export const imageActions = [
  registerImage,
  describeImages,
  deregisterImage,
  describeImageAttribute,
  modifyImageAttribute,
  resetImageAttribute,
  createImage,
] as const;
