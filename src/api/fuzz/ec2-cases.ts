// Signed EC2 Query cases: real actions with the parameters they document (plus unknown ones), filled with
// hostile values, lists expanded to odd indices or thousands of entries, sometimes a bad Action or Version.
import { ec2Actions } from '../ec2/registry.ts';
import { ec2ApiVersion } from '../ec2/xml.ts';
import type { Chooser, KnownIds } from './fuzz-values.ts';
import { anyValue, wellFormed } from './fuzz-values.ts';

/** One signed EC2 request to send. */
export interface Ec2Case {
  readonly method: 'GET' | 'POST';
  readonly params: Readonly<Record<string, string>>;
  readonly summary: string;
}

const listEntriesMax = 3000;
const structFields: Readonly<Record<string, readonly string[]>> = {
  Filter: ['Name', 'Value.1', 'Value.2'],
  TagSpecification: ['ResourceType', 'Tag.1.Key', 'Tag.1.Value', 'Tag.2.Key'],
  Tag: ['Key', 'Value'],
  BlockDeviceMapping: [
    'DeviceName',
    'NoDevice',
    'VirtualName',
    'Ebs.SnapshotId',
    'Ebs.VolumeSize',
    'Ebs.VolumeType',
    'Ebs.DeleteOnTermination',
    'Ebs.Iops',
    'Ebs.Encrypted',
  ],
  'LaunchPermission.Add': ['UserId', 'Group'],
  'LaunchPermission.Remove': ['UserId', 'Group'],
};

function index(choose: Chooser): string {
  return choose.chance(0.9)
    ? String(choose.int(1, 3))
    : choose.pick(['0', '-1', '01', 'x', '99999999999999999999', '']);
}

// Expands one documented parameter (`VolumeId.N`, `Filter.N`, `Size`) into name=value pairs. Lists of
// thousands go only into POST bodies: a GET's parameters ride in the URL, which Node refuses past 16 KiB
// (long values test that), and signing thousands of query parameters is quadratic (signed-request.ts).
function fill(
  choose: Chooser,
  ids: KnownIds,
  param: string,
  params: Record<string, string>,
  longLists: boolean,
): void {
  if (!param.endsWith('.N')) {
    params[param] = anyValue(choose, ids);
    return;
  }
  const base = param.slice(0, -2);
  const fields = structFields[base];
  const count = longLists && choose.chance(0.03) ? choose.int(100, listEntriesMax) : choose.int(0, 3);
  // Long lists carry short values, so the body stays near the 1 MiB limit instead of far past it.
  const value = (): string => (count > 3 ? ids.pick(choose, 'snap') : anyValue(choose, ids));
  for (let n = 0; n < count; n++) {
    const at = count > 3 ? String(n + 1) : index(choose);
    if (fields === undefined) params[`${base}.${at}`] = value();
    else for (const field of fields) if (choose.chance(0.8)) params[`${base}.${at}.${field}`] = value();
  }
}

/** One random signed EC2 Query case. */
export function ec2Case(choose: Chooser, ids: KnownIds): Ec2Case {
  const action = choose.pick(ec2Actions);
  const method = choose.chance(0.8) ? 'POST' : 'GET';
  const params: Record<string, string> = {};
  const roll = choose.next();
  params.Action =
    roll < 0.95 ? action.name : choose.pick(['', 'describevolumes', 'DescribeVolumes ', 'Foo', '%zz']);
  if (choose.chance(0.97))
    params.Version = choose.chance(0.97) ? ec2ApiVersion : choose.pick(['2014-01-01', '', 'x']);
  for (const param of action.params)
    if (choose.chance(0.5)) fill(choose, ids, param, params, method === 'POST');
  if (choose.chance(0.1)) params[anyValue(choose, ids) || 'Empty'] = anyValue(choose, ids);
  if (choose.chance(0.2)) params.DryRun = choose.pick(['true', 'false', 'yes']);
  const count = Object.keys(params).length;
  // Lone surrogates cannot be percent-encoded (the signer throws); JSON bodies and raw HTTP carry them instead.
  const urlSafe = Object.fromEntries(
    Object.entries(params).map(([name, value]) => [wellFormed(name), wellFormed(value)]),
  );
  return {
    method,
    params: urlSafe,
    summary: `${action.name} with ${count} parameters (${Object.keys(params).slice(0, 6).join(', ')}…)`,
  };
}
