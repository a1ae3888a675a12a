// How an instance is reached and learns about itself: its launch key pair, its metadata options
// (EC2's InstanceMetadataOptions) and its public address, as RunInstances records them, DescribeInstances
// filters them and ModifyInstanceMetadataOptions changes them. Kept apart from instances.ts so the
// networking work and this one meet in small hunks there.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { InstancesTable } from '../../db/tables/instances.ts';
import type { MetadataOptions } from '../../metadata/metadata.ts';
import type { NetworkRefresh } from '../../network/instance-network.ts';
import { CloudError } from '../errors.ts';
import type { FilterFields } from '../common/filters.ts';
import type { DryRunCheck } from '../common/dry-run.ts';
import type { KeyPairService } from '../key-pairs/key-pairs.ts';
import type { InstanceRecords, InstanceRow } from './instance-records.ts';

/** MetadataOptions as a request carries them; absent fields keep their current (or default) value. */
export interface MetadataOptionsRequest {
  readonly httpTokens?: string | undefined;
  readonly httpEndpoint?: string | undefined;
  readonly httpPutResponseHopLimit?: number | undefined;
  readonly instanceMetadataTags?: string | undefined;
  readonly httpProtocolIpv6?: string | undefined;
}

/**
 * EC2's defaults for an instance launched from an AMI without ImdsSupport: tokens optional, endpoint on,
 * hop limit 1, no tags. (EC2 uses required/2 only for AMIs marked `ImdsSupport: v2.0` or under an account
 * default; Strata's AMIs carry no such mark, so a guest that speaks only IMDSv1 keeps working.)
 */
export const defaultMetadataOptions: MetadataOptions = {
  httpTokens: 'optional',
  httpEndpoint: 'enabled',
  httpPutResponseHopLimit: 1,
  instanceMetadataTags: 'disabled',
};

/** The instance columns a launch records for its key and metadata options. */
export type LaunchAccessColumns = MetadataColumns & {
  key_name: string | null;
  key_public_key: string | null;
  public_ip: null;
  public_dns_name: null;
};

type MetadataColumns = Pick<
  InstancesTable,
  'metadata_http_tokens' | 'metadata_http_endpoint' | 'metadata_hop_limit' | 'metadata_tags'
>;

/** Checks RunInstances' KeyName (InvalidKeyPair.NotFound) and MetadataOptions, and gives the columns to record. */
export async function launchAccess(
  keyPairs: KeyPairService,
  accountId: string,
  keyName: string | undefined,
  options: MetadataOptionsRequest | undefined,
): Promise<LaunchAccessColumns> {
  const merged = mergeMetadataOptions(defaultMetadataOptions, options ?? {});
  const key =
    keyName === undefined || keyName === '' ? undefined : await keyPairs.launchKey(accountId, keyName);
  return {
    ...metadataColumns(merged),
    key_name: key?.name ?? null,
    key_public_key: key?.publicKey ?? null,
    public_ip: null,
    public_dns_name: null,
  };
}

/** `current` with the request's fields applied, each checked as EC2 checks it. */
export function mergeMetadataOptions(
  current: MetadataOptions,
  request: MetadataOptionsRequest,
): MetadataOptions {
  const {
    httpTokens,
    httpEndpoint,
    httpPutResponseHopLimit: hops,
    instanceMetadataTags,
    httpProtocolIpv6,
  } = request;
  if (httpProtocolIpv6 !== undefined && httpProtocolIpv6 !== 'disabled') {
    throw new CloudError('InvalidParameterValue', {
      name: 'HttpProtocolIpv6',
      value: httpProtocolIpv6,
      expected: 'disabled (Strata guests have no IPv6 metadata endpoint)',
    });
  }
  if (hops !== undefined && (!Number.isInteger(hops) || hops < 1 || hops > 64)) {
    throw new CloudError('InvalidParameterValue', {
      name: 'HttpPutResponseHopLimit',
      value: String(hops),
      expected: 'an integer from 1 to 64',
    });
  }
  return {
    httpTokens: oneOf('HttpTokens', httpTokens, ['optional', 'required'] as const) ?? current.httpTokens,
    httpEndpoint:
      oneOf('HttpEndpoint', httpEndpoint, ['enabled', 'disabled'] as const) ?? current.httpEndpoint,
    httpPutResponseHopLimit: hops ?? current.httpPutResponseHopLimit,
    instanceMetadataTags:
      oneOf('InstanceMetadataTags', instanceMetadataTags, ['enabled', 'disabled'] as const) ??
      current.instanceMetadataTags,
  };
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new CloudError('InvalidParameterValue', { name, value, expected: allowed.join(' or ') });
  }
  return value as T;
}

function metadataColumns(
  options: MetadataOptions,
): Pick<LaunchAccessColumns, keyof LaunchAccessColumns & `metadata_${string}`> {
  return {
    metadata_http_tokens: options.httpTokens,
    metadata_http_endpoint: options.httpEndpoint,
    metadata_hop_limit: options.httpPutResponseHopLimit,
    metadata_tags: options.instanceMetadataTags,
  };
}

/** An instance row's metadata options. */
export function metadataOptionsOf(row: InstanceRow): MetadataOptions {
  return mergeMetadataOptions(defaultMetadataOptions, {
    httpTokens: row.metadata_http_tokens,
    httpEndpoint: row.metadata_http_endpoint,
    httpPutResponseHopLimit: row.metadata_hop_limit,
    instanceMetadataTags: row.metadata_tags,
  });
}

/** DescribeInstances filters over the key, the public address and the metadata options. */
export const accessFilterFields: FilterFields<{ readonly row: InstanceRow }> = {
  'key-name': (i) => i.row.key_name,
  'ip-address': (i) => i.row.public_ip,
  'dns-name': (i) => i.row.public_dns_name,
  'metadata-options.http-tokens': (i) => i.row.metadata_http_tokens,
  'metadata-options.http-endpoint': (i) => i.row.metadata_http_endpoint,
  'metadata-options.http-put-response-hop-limit': (i) => i.row.metadata_hop_limit,
  'metadata-options.instance-metadata-tags': (i) => i.row.metadata_tags,
};

/** ModifyInstanceMetadataOptions: on any instance not shutting down or terminated; tells the host. */
export async function modifyMetadataOptions(
  deps: {
    readonly db: Kysely<Database>;
    readonly records: InstanceRecords;
    readonly refresh?: NetworkRefresh;
  },
  accountId: string,
  instanceId: string,
  request: MetadataOptionsRequest,
  dryRun: DryRunCheck,
): Promise<{ row: InstanceRow; options: MetadataOptions }> {
  const [row] = await deps.records.owned(accountId, [instanceId]);
  if (row === undefined || !['pending', 'running', 'stopping', 'stopped'].includes(row.state)) {
    throw new CloudError('IncorrectInstanceState', {
      message: `The instance '${instanceId}' is not in a state from which its metadata options can be modified.`,
    });
  }
  const options = mergeMetadataOptions(metadataOptionsOf(row), request);
  dryRun();
  await deps.db.updateTable('instances').set(metadataColumns(options)).where('id', '=', instanceId).execute();
  deps.refresh?.changed();
  return { row, options };
}
