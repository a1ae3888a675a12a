// EC2 instance actions: RunInstances, DescribeInstances, DescribeInstanceStatus, Start/Stop/Reboot/
// TerminateInstances, Describe/ModifyInstanceAttribute and GetConsoleOutput. The semantics live in
// cloud/instances/instances.ts and cloud/instances/lifecycle.ts; this file reads parameters and shapes EC2's XML.
import { assertNever } from '../../../base/assert.ts';
import { CloudError } from '../../../cloud/errors.ts';
import { stateCodes, instanceState, type StateChange } from '../../../cloud/instances/instance-states.ts';
import { instanceType, scaledForHost } from '../../../cloud/instances/instance-types.ts';
import { volumeMappings, type AttributeChange, type Instance } from '../../../cloud/instances/instances.ts';
import type { InstanceMappingRow } from '../../../cloud/instances/disks.ts';
import { defineAction } from '../action.ts';
import type { XmlObject } from '../xml.ts';
import type { QueryParams } from '../query-params.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';
import { tagSet } from './volumes.ts';
import { mappingRequests } from './block-device-mapping-params.ts';
import { instanceAccessXml, metadataOptionsParams, runInstancesAccessParams } from './metadata-options.ts';
import { networkParamNames, networkRequest } from './network-params.ts';
import { instanceNetworkXml } from './network-xml.ts';
import * as options from './instance-options-params.ts';

function stateXml(name: string): XmlObject {
  const state = instanceState(name);
  return { code: stateCodes[state], name: state };
}

/** An instance's volume mapping as EC2's blockDeviceMapping item. */
export function instanceMappingXml(m: InstanceMappingRow): XmlObject {
  return {
    deviceName: m.device_name,
    ebs: {
      volumeId: m.volume_id,
      status: m.attachment_state,
      attachTime: m.attach_time,
      deleteOnTermination: m.delete_on_termination === 1,
    },
  };
}

/** An instance as DescribeInstances and RunInstances render it. */
export function instanceXml(instance: Instance): XmlObject {
  return { ...instanceBaseXml(instance), ...instanceNetworkXml(instance.network) };
}

function instanceBaseXml(instance: Instance): XmlObject {
  const { row } = instance;
  const size = instanceType(row.instance_type);
  return {
    instanceId: row.id,
    imageId: row.image_id,
    instanceState: stateXml(row.state),
    privateDnsName: '',
    ...instanceAccessXml(row),
    reason: row.state_transition_reason,
    amiLaunchIndex: row.launch_index,
    productCodes: [],
    instanceType: row.instance_type,
    launchTime: row.launch_time,
    placement: { availabilityZone: row.availability_zone, groupName: '', tenancy: row.tenancy },
    groupSet: [],
    stateReason:
      row.state_reason_code === null
        ? undefined
        : { code: row.state_reason_code, message: stateReasonMessage(row.state_reason_code) },
    architecture: 'x86_64',
    rootDeviceType: row.root_device_type,
    rootDeviceName: row.root_device_name,
    blockDeviceMapping: volumeMappings(instance).map(instanceMappingXml),
    virtualizationType: 'hvm',
    clientToken: row.client_token ?? '',
    tagSet: instance.tags.size > 0 ? tagSet(instance.tags) : undefined,
    hypervisor: 'xen',
    networkInterfaceSet: [],
    ...options.launchOptionsXml(row),
    enaSupport: true,
    bootMode: row.boot_mode,
    currentInstanceBootMode: row.boot_mode,
    cpuOptions: { coreCount: scaledForHost(size).vcpus, threadsPerCore: 1 },
  };
}

function stateReasonMessage(code: string): string {
  if (code === 'pending') return 'pending';
  if (code === 'Client.UserInitiatedShutdown') return 'Client.UserInitiatedShutdown: User initiated shutdown';
  if (code === 'Client.InstanceInitiatedShutdown')
    return 'Client.InstanceInitiatedShutdown: Instance initiated shutdown';
  return `${code}: ${code === 'Server.InternalError' ? 'Internal error' : code}`;
}

/** Instances grouped into EC2's reservationSet, in the order given. */
export function reservationsXml(instances: readonly Instance[]): XmlObject[] {
  const byReservation = new Map<string, Instance[]>();
  for (const instance of instances) {
    const list = byReservation.get(instance.row.reservation_id) ?? [];
    list.push(instance);
    byReservation.set(instance.row.reservation_id, list);
  }
  return [...byReservation].map(([reservationId, members]) => ({
    reservationId,
    ownerId: members[0]?.row.account_id,
    groupSet: [],
    // EC2 lists a reservation's instances by AmiLaunchIndex, whatever order they were found in.
    instancesSet: members.sort((a, b) => a.row.launch_index - b.row.launch_index).map(instanceXml),
  }));
}

function changesXml(changes: readonly StateChange[]): XmlObject {
  return {
    instancesSet: changes.map((c) => ({
      instanceId: c.instanceId,
      currentState: stateXml(c.current),
      previousState: stateXml(c.previous),
    })),
  };
}

/** EC2 RunInstances. */
export const runInstances = defineAction({
  name: 'RunInstances',
  params: [
    'ImageId',
    'MinCount',
    'MaxCount',
    'InstanceType',
    'Placement.AvailabilityZone',
    'UserData',
    'ClientToken',
    'TagSpecification.N',
    'BlockDeviceMapping.N',
    'InstanceInitiatedShutdownBehavior',
    'DisableApiTermination',
    ...networkParamNames,
    ...options.launchOptionParams,
    'DryRun',
    ...runInstancesAccessParams,
  ],
  status: 'partial',
  notes: 'one network interface (DeviceIndex 0); instance types scaled down to the host',
  async run(ctx, params) {
    const instances = await ctx.cloud.compute.instances.run(ctx.accountId, {
      imageId: params.string('ImageId'),
      minCount: params.int('MinCount'),
      maxCount: params.int('MaxCount'),
      instanceType: params.string('InstanceType'),
      zone: params.string('Placement.AvailabilityZone') || undefined,
      userData: params.string('UserData'),
      clientToken: params.string('ClientToken') || undefined,
      tagSpecifications: params.tagSpecifications(),
      mappings: mappingRequests(params),
      shutdownBehavior: params.string('InstanceInitiatedShutdownBehavior'),
      disableApiTermination: params.boolean('DisableApiTermination'),
      network: networkRequest(params),
      launchOptions: options.launchOptions(params),
      dryRun: dryRunCheck(ctx, params),
      keyName: params.string('KeyName'),
      metadataOptions: metadataOptionsParams(params, 'MetadataOptions.'),
    });
    const [reservation] = reservationsXml(instances);
    return { ...reservation };
  },
});

/** EC2 DescribeInstances. */
export const describeInstances = defineAction({
  name: 'DescribeInstances',
  params: ['InstanceId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const request = { instanceIds: params.list('InstanceId'), filters: params.filters(), ...params.page() };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.compute.instances.describe(ctx.accountId, request);
    return { reservationSet: reservationsXml(page.items), nextToken: page.nextToken };
  },
});

/** EC2 DescribeInstanceStatus. */
export const describeInstanceStatus = defineAction({
  name: 'DescribeInstanceStatus',
  params: ['InstanceId.N', 'IncludeAllInstances', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  status: 'partial',
  notes:
    'status checks are ok while running; no scheduled events; filters: instance-state-name, availability-zone',
  async run(ctx, params) {
    const all = params.boolean('IncludeAllInstances') === true;
    const request = { instanceIds: params.list('InstanceId'), filters: params.filters(), ...params.page() };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.compute.instances.describe(ctx.accountId, request, 'DescribeInstanceStatus');
    const shown = page.items.filter((i) => all || i.row.state === 'running');
    return {
      instanceStatusSet: shown.map(({ row }) => {
        const status = row.state === 'running' ? 'ok' : 'not-applicable';
        const details = row.state === 'running' ? [{ name: 'reachability', status: 'passed' }] : [];
        return {
          instanceId: row.id,
          availabilityZone: row.availability_zone,
          instanceState: stateXml(row.state),
          systemStatus: { status, details },
          instanceStatus: { status, details },
          eventsSet: [],
        };
      }),
      nextToken: page.nextToken,
    };
  },
});

/** EC2 StartInstances. */
export const startInstances = defineAction({
  name: 'StartInstances',
  params: ['InstanceId.N', 'DryRun'],
  async run(ctx, params) {
    const changes = await ctx.cloud.compute.lifecycle.start(
      ctx.accountId,
      params.list('InstanceId'),
      dryRunCheck(ctx, params),
    );
    return changesXml(changes);
  },
});

/** EC2 StopInstances. */
export const stopInstances = defineAction({
  name: 'StopInstances',
  params: ['InstanceId.N', 'Force', 'Hibernate', 'DryRun'],
  status: 'partial',
  notes: 'Hibernate is not supported',
  async run(ctx, params) {
    if (params.boolean('Hibernate') === true) {
      throw new CloudError('UnsupportedOperation', { message: 'Hibernation is not supported.' });
    }
    const force = params.boolean('Force') === true;
    const changes = await ctx.cloud.compute.lifecycle.stop(
      ctx.accountId,
      params.list('InstanceId'),
      force,
      dryRunCheck(ctx, params),
    );
    return changesXml(changes);
  },
});

/** EC2 RebootInstances. */
export const rebootInstances = defineAction({
  name: 'RebootInstances',
  params: ['InstanceId.N', 'DryRun'],
  async run(ctx, params) {
    await ctx.cloud.compute.lifecycle.reboot(
      ctx.accountId,
      params.list('InstanceId'),
      dryRunCheck(ctx, params),
    );
    return { return: true };
  },
});

/** EC2 TerminateInstances. */
export const terminateInstances = defineAction({
  name: 'TerminateInstances',
  params: ['InstanceId.N', 'DryRun'],
  async run(ctx, params) {
    const changes = await ctx.cloud.compute.lifecycle.terminate(
      ctx.accountId,
      params.list('InstanceId'),
      dryRunCheck(ctx, params),
    );
    return changesXml(changes);
  },
});

const instanceAttributes = [
  'instanceType',
  'userData',
  'disableApiTermination',
  'instanceInitiatedShutdownBehavior',
  'rootDeviceName',
  'blockDeviceMapping',
  'groupSet',
] as const;

/** EC2 DescribeInstanceAttribute. */
export const describeInstanceAttribute = defineAction({
  name: 'DescribeInstanceAttribute',
  params: ['InstanceId', 'Attribute', 'DryRun'],
  status: 'partial',
  notes: 'every attribute; productCodes, kernel, ramdisk and sriovNetSupport are empty (hvm, virtio)',
  async run(ctx, params) {
    const instanceId = params.requiredString('InstanceId');
    const attribute = params.enumOf('Attribute', [...instanceAttributes, ...options.optionAttributes]);
    if (attribute === undefined) throw new CloudError('MissingParameter', { name: 'Attribute' });
    checkDryRun(ctx, params);
    const instance = await ctx.cloud.compute.instances.get(ctx.accountId, instanceId);
    const { row } = instance;
    if (options.isOptionAttribute(attribute))
      return { instanceId, ...options.optionAttributeXml(row, attribute) };
    switch (attribute) {
      case 'instanceType':
        return { instanceId, instanceType: { value: row.instance_type } };
      case 'userData':
        return { instanceId, userData: row.user_data === null ? {} : { value: row.user_data } };
      case 'disableApiTermination':
        return { instanceId, disableApiTermination: { value: row.disable_api_termination === 1 } };
      case 'instanceInitiatedShutdownBehavior':
        return { instanceId, instanceInitiatedShutdownBehavior: { value: row.shutdown_behavior } };
      case 'rootDeviceName':
        return { instanceId, rootDeviceName: { value: row.root_device_name } };
      case 'blockDeviceMapping':
        return { instanceId, blockDeviceMapping: volumeMappings(instance).map(instanceMappingXml) };
      case 'groupSet':
        return {
          instanceId,
          groupSet: (instance.network?.groups ?? []).map((g) => ({ groupId: g.id, groupName: g.name })),
        };
      default:
        return assertNever(attribute, 'attribute');
    }
  },
});

function attributeChange(params: QueryParams): AttributeChange {
  const attribute = params.string('Attribute');
  const value = (name: string): string | undefined =>
    params.string(`${name}.Value`) ??
    (attribute?.toLowerCase() === name.toLowerCase() ? params.string('Value') : undefined);
  const type = value('InstanceType');
  if (type !== undefined) return { kind: 'instanceType', value: type };
  const userData = value('UserData');
  if (userData !== undefined) return { kind: 'userData', value: userData };
  const behavior = value('InstanceInitiatedShutdownBehavior');
  if (behavior !== undefined) return { kind: 'shutdownBehavior', value: behavior };
  const disable = value('DisableApiTermination');
  if (disable !== undefined) {
    if (disable !== 'true' && disable !== 'false') {
      throw new CloudError('InvalidParameterValue', {
        name: 'DisableApiTermination.Value',
        value: disable,
        expected: 'true or false',
      });
    }
    return { kind: 'disableApiTermination', value: disable === 'true' };
  }
  const devices = params.structList('BlockDeviceMapping').map((m) => ({
    deviceName: m.requiredString('DeviceName'),
    value: m.boolean('Ebs.DeleteOnTermination') ?? true,
  }));
  if (devices.length > 0) return { kind: 'deleteOnTermination', devices };
  const option = options.optionChange(value);
  if (option !== undefined) return option;
  throw new CloudError('MissingParameter', { name: 'Attribute' });
}

/** EC2 ModifyInstanceAttribute. */
export const modifyInstanceAttribute = defineAction({
  name: 'ModifyInstanceAttribute',
  params: [
    'InstanceId',
    'Attribute',
    'Value',
    'InstanceType.Value',
    'UserData.Value',
    'DisableApiTermination.Value',
    'InstanceInitiatedShutdownBehavior.Value',
    'BlockDeviceMapping.N',
    'GroupId.N',
    'SourceDestCheck.Value',
    'DisableApiStop.Value',
    'EbsOptimized.Value',
    'Kernel.Value',
    'Ramdisk.Value',
    'DryRun',
  ],
  status: 'partial',
  notes:
    'instanceType, userData and ebsOptimized only while stopped (as EC2); GroupId.N replaces the groups; kernel and ramdisk refused (every instance is hvm)',
  async run(ctx, params) {
    const instanceId = params.requiredString('InstanceId');
    const groupIds = params.list('GroupId');
    if (groupIds.length > 0) {
      await ctx.cloud.compute.instances.owned(ctx.accountId, [instanceId]);
      await ctx.cloud.vpc.interfaces.setInstanceGroups(
        ctx.accountId,
        instanceId,
        groupIds,
        dryRunCheck(ctx, params),
      );
      return { return: true };
    }
    const change = attributeChange(params);
    await ctx.cloud.compute.instances.modifyAttribute(
      ctx.accountId,
      instanceId,
      change,
      dryRunCheck(ctx, params),
    );
    return { return: true };
  },
});

/** EC2 GetConsoleOutput. */
export const getConsoleOutput = defineAction({
  name: 'GetConsoleOutput',
  params: ['InstanceId', 'Latest', 'DryRun'],
  async run(ctx, params) {
    const instanceId = params.requiredString('InstanceId');
    params.boolean('Latest');
    checkDryRun(ctx, params);
    const output = await ctx.cloud.compute.instances.consoleOutput(ctx.accountId, instanceId);
    return {
      instanceId,
      timestamp: new Date().toISOString(),
      output: output === '' ? undefined : Buffer.from(output, 'utf8').toString('base64'),
    };
  },
});

/** Every instance action, for the registry. */
export const instanceActions = [
  runInstances,
  describeInstances,
  describeInstanceStatus,
  startInstances,
  stopInstances,
  rebootInstances,
  terminateInstances,
  describeInstanceAttribute,
  modifyInstanceAttribute,
  getConsoleOutput,
] as const;
