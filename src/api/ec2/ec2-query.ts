// The EC2 Query protocol after authentication: Action and Version checks, dispatch to the registry, XML out.
import type { Logger } from '../../base/log.ts';
import type { Cloud } from '../../cloud/cloud.ts';
import type { Caller } from '../auth/sigv4.ts';
import { CloudError } from '../../cloud/errors.ts';
import type { ActionContext } from './action.ts';
import type { QueryParams } from './query-params.ts';
import { findEc2Action } from './registry.ts';
import { undeclaredParam, undeclaredParamMessage } from './declared-params.ts';
import { ec2ApiVersion, renderEc2Response } from './xml.ts';

/** What the HTTP layer knows about one EC2 request. */
export interface Ec2Request {
  readonly requestId: string;
  readonly caller: Caller;
  readonly params: QueryParams;
  readonly cloud: Cloud;
  readonly logger: Logger;
}

/** Runs one EC2 Query request and returns its XML body; throws CloudError (or anything, for a 500). */
export async function handleEc2Query(request: Ec2Request): Promise<{ action: string; xml: string }> {
  const { params, caller, requestId } = request;
  const name = params.requiredString('Action');
  const version = params.requiredString('Version');
  if (version !== ec2ApiVersion) throw params.invalid('Version', version, ec2ApiVersion);
  const action = findEc2Action(name);
  if (action === undefined) throw new CloudError('InvalidAction', { action: name });
  const undeclared = undeclaredParam(action, params);
  if (undeclared !== undefined)
    throw new CloudError('UnknownParameter', {
      name: undeclared,
      message: undeclaredParamMessage(action, undeclared),
    });
  const ctx: ActionContext = {
    accountId: caller.accountId,
    accessKeyId: caller.accessKeyId,
    requestId,
    region: caller.region,
    action: name,
    logger: request.logger.child({ requestId, accountId: caller.accountId, action: name }),
    cloud: request.cloud,
  };
  const result = await action.run(ctx, params);
  return { action: name, xml: renderEc2Response(name, requestId, result) };
}
