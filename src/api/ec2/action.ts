// What an EC2 Query action is, and what it gets to work with.
//
// Usage (one file per resource family under api/ec2/actions/, e.g. actions/volumes.ts):
//   export const createVolume = defineAction({
//     name: 'CreateVolume',
//     params: ['AvailabilityZone', 'Size', 'SnapshotId', 'VolumeType', 'TagSpecification.N', 'DryRun'],
//     async run(ctx, params) {
//       const zone = params.requiredString('AvailabilityZone');
//       checkDryRun(ctx, params);                                  // from ./dry-run.ts, after validation
//       const volume = await ctx.cloud.volumes.create(ctx.accountId, { … });  // services take accountId
//       return { volumeId: volume.id, size: volume.size, … };     // EC2 XML element names, see xml.ts
//     },
//   });
//   export const volumeActions = [createVolume, …] as const;
// then list `volumeActions` in registry.ts. `params` feeds docs/api-coverage.md (`Foo.N` for lists).
import type { Logger } from '../../base/log.ts';
import type { Cloud } from '../../cloud/cloud.ts';
import type { QueryParams } from './query-params.ts';
import type { XmlObject } from './xml.ts';

/** What every action runs with: who is asking, in which request, and the composed services. */
export interface ActionContext {
  /** The authenticated caller's 12-digit account id; pass it to every service call (account isolation). */
  readonly accountId: string;
  /** The access key that signed the request. */
  readonly accessKeyId: string;
  /** Echoed in the response and in every log line of the request. */
  readonly requestId: string;
  /** The region the request was signed for. */
  readonly region: string;
  /** The action's name, e.g. `CreateVolume`. */
  readonly action: string;
  /** A child logger carrying requestId, accountId and action. */
  readonly logger: Logger;
  /** The daemon's services: db, block store, accounts, regions, and the domain services (cloud/cloud.ts). */
  readonly cloud: Cloud;
}

/** How complete an action is, for the coverage table. */
export type ActionStatus = 'supported' | 'partial';

/** An EC2 Query action: a tagged object named after the EC2 action it implements. */
export interface Ec2Action {
  readonly kind: 'ec2';
  /** Exactly as EC2 spells it (`DescribeVolumes`). */
  readonly name: string;
  /** The request parameters Strata reads, as the EC2 reference names them (`VolumeId.N`, `Filter.N`). */
  readonly params: readonly string[];
  /** `partial` when some documented behaviour is missing; say what in `notes`. */
  readonly status: ActionStatus;
  /** One line for the coverage table (what is missing or different from EC2). */
  readonly notes: string;
  /** Performs the action; throws CloudError for operating errors; returns the response's elements. */
  run(ctx: ActionContext, params: QueryParams): Promise<XmlObject>;
}

/** What `defineAction` needs; status defaults to supported and notes to ''. */
export type ActionDefinition = Omit<Ec2Action, 'kind' | 'status' | 'notes'> & {
  readonly status?: ActionStatus;
  readonly notes?: string;
};

/** Builds an action object from its definition. */
export function defineAction(definition: ActionDefinition): Ec2Action {
  return Object.freeze({ kind: 'ec2', status: 'supported', notes: '', ...definition });
}
