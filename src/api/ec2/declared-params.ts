// A parameter that Strata does not read must not be ignored in silence: a user who passes `--key-name` and
// gets an instance without the key learns too late. Each action declares the parameters it reads
// (`Ec2Action.params`, which also feeds docs/api-coverage.md); a request naming any other is refused,
// before the action runs, with the parameter's name.
import type { Ec2Action } from './action.ts';
import type { QueryParams } from './query-params.ts';

// Parameters of the protocol itself, never in an action's list: the action, and a signature carried in the
// query (SigV2, as libcloud signs; SigV4 presigned, `X-Amz-…`), which authentication has already checked.
const protocolParams = new Set([
  'Action',
  'Version',
  'AWSAccessKeyId',
  'SignatureVersion',
  'SignatureMethod',
  'Signature',
  'Timestamp',
  'Expires',
  'SecurityToken',
]);

function isProtocolParam(name: string): boolean {
  return protocolParams.has(name) || name.startsWith('X-Amz-');
}

// Parameters the AWS SDKs add on their own, which Strata may pass over: the SDK's EC2 middleware presigns every
// CopySnapshot for a cross-region copy (PresignedUrl, DestinationRegion); a same-region copy needs neither.
const addedBySdks: Readonly<Record<string, readonly string[]>> = {
  CopySnapshot: ['PresignedUrl', 'DestinationRegion'],
};

const patternCache = new WeakMap<Ec2Action, readonly RegExp[]>();

// `VolumeId.N` matches `VolumeId.3`; `Filter.N` matches `Filter.1.Name` and `Filter.1.Value.2`; a plain
// `Placement.AvailabilityZone` matches itself; a plain `Foo` matches `Foo` and its members `Foo.…`.
function patterns(action: Ec2Action): readonly RegExp[] {
  let compiled = patternCache.get(action);
  if (compiled === undefined) {
    compiled = [...action.params, ...(addedBySdks[action.name] ?? [])].map((declared) => {
      const body = declared
        .split('.')
        .map((part) => (part === 'N' ? '\\d+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('\\.');
      return new RegExp(`^${body}(?:\\..+)?$`);
    });
    patternCache.set(action, compiled);
  }
  return compiled;
}

/** The first parameter of the request that `action` does not declare, or undefined when it reads them all. */
export function undeclaredParam(action: Ec2Action, params: QueryParams): string | undefined {
  const known = patterns(action);
  return params.names().find((name) => !isProtocolParam(name) && !known.some((p) => p.test(name)));
}

/** The message for an undeclared parameter: what happened, and where to see what the action supports. */
export function undeclaredParamMessage(action: Ec2Action, name: string): string {
  return (
    `The parameter ${name} is not recognized: Strata's ${action.name} does not support it, and refuses it ` +
    'rather than ignore it (docs/api-coverage.md lists the parameters each action reads)'
  );
}
