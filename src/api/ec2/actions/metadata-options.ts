// EC2 ModifyInstanceMetadataOptions, and the instance fields of how an instance is reached (KeyName, its
// public address, MetadataOptions) that RunInstances reads and DescribeInstances renders. The semantics
// live in cloud/instances/launch-access.ts.
import type { MetadataOptionsRequest } from '../../../cloud/instances/launch-access.ts';
import { metadataOptionsOf } from '../../../cloud/instances/launch-access.ts';
import type { InstanceRow } from '../../../cloud/instances/instance-records.ts';
import type { MetadataOptions } from '../../../metadata/metadata.ts';
import { defineAction } from '../action.ts';
import { dryRunCheck } from '../dry-run.ts';
import type { QueryParams } from '../query-params.ts';
import type { XmlObject } from '../xml.ts';

/** `MetadataOptions.*` of RunInstances, or the bare fields of ModifyInstanceMetadataOptions (`prefix` ''). */
export function metadataOptionsParams(params: QueryParams, prefix: string): MetadataOptionsRequest {
  return {
    httpTokens: params.string(`${prefix}HttpTokens`),
    httpEndpoint: params.string(`${prefix}HttpEndpoint`),
    httpPutResponseHopLimit: params.int(`${prefix}HttpPutResponseHopLimit`),
    instanceMetadataTags: params.string(`${prefix}InstanceMetadataTags`),
    httpProtocolIpv6: params.string(`${prefix}HttpProtocolIpv6`),
  };
}

/** RunInstances' parameters for this file, for its `params` list. */
export const runInstancesAccessParams = [
  'KeyName',
  'MetadataOptions.HttpTokens',
  'MetadataOptions.HttpEndpoint',
  'MetadataOptions.HttpPutResponseHopLimit',
  'MetadataOptions.InstanceMetadataTags',
  'MetadataOptions.HttpProtocolIpv6',
] as const;

/** EC2's InstanceMetadataOptionsResponse; `pending` until the host applies a change, as EC2 says. */
export function metadataOptionsXml(options: MetadataOptions, state: 'pending' | 'applied'): XmlObject {
  return {
    state,
    httpTokens: options.httpTokens,
    httpPutResponseHopLimit: options.httpPutResponseHopLimit,
    httpEndpoint: options.httpEndpoint,
    httpProtocolIpv6: 'disabled',
    instanceMetadataTags: options.instanceMetadataTags,
  };
}

/** DescribeInstances' dnsName, keyName, ipAddress and metadataOptions of one instance. */
export function instanceAccessXml(row: InstanceRow): XmlObject {
  return {
    dnsName: row.public_dns_name ?? '',
    keyName: row.key_name ?? undefined,
    ipAddress: row.public_ip ?? undefined,
    // A pending instance's options reach its host as it boots.
    metadataOptions: metadataOptionsXml(
      metadataOptionsOf(row),
      row.state === 'pending' ? 'pending' : 'applied',
    ),
  };
}

/** EC2 ModifyInstanceMetadataOptions. */
export const modifyInstanceMetadataOptions = defineAction({
  name: 'ModifyInstanceMetadataOptions',
  params: [
    'InstanceId',
    'HttpTokens',
    'HttpEndpoint',
    'HttpPutResponseHopLimit',
    'InstanceMetadataTags',
    'HttpProtocolIpv6',
    'DryRun',
  ],
  async run(ctx, params) {
    const instanceId = params.requiredString('InstanceId');
    const request = metadataOptionsParams(params, '');
    const { options } = await ctx.cloud.compute.modifyMetadataOptions(
      ctx.accountId,
      instanceId,
      request,
      dryRunCheck(ctx, params),
    );
    return { instanceId, instanceMetadataOptions: metadataOptionsXml(options, 'pending') };
  },
});

/** Every metadata options action, for the registry. */
export const metadataOptionsActions = [modifyInstanceMetadataOptions] as const;
