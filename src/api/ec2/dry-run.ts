// EC2's DryRun: check permissions, change nothing, and answer with an error either way. This is the one
// DryRun path: an action either calls `checkDryRun` itself (after validating parameters, BEFORE changing
// anything) or, when the service must first validate against current state, hands the service
// `dryRunCheck(ctx, params)` (cloud/common/dry-run.ts), which the service calls at that point.
//
// When DryRun=true the check throws DryRunOperation (412) if the caller may perform the action, otherwise
// UnauthorizedOperation (403). When DryRun is absent or false it returns and the action proceeds.
import { CloudError } from '../../cloud/errors.ts';
import { noDryRun, type DryRunCheck } from '../../cloud/common/dry-run.ts';
import type { ActionContext } from './action.ts';
import type { QueryParams } from './query-params.ts';

/** Whether the caller may perform the context's action. Strata has no IAM: every account may act on its own resources. */
export function isAllowed(ctx: ActionContext): boolean {
  return ctx.accountId.length === 12;
}

/** The request's DryRun as a check for a service to run; the flag is parsed now, so a bad value fails first. */
export function dryRunCheck(ctx: ActionContext, params: QueryParams): DryRunCheck {
  if (params.boolean('DryRun') !== true) return noDryRun;
  return () => {
    throw new CloudError(isAllowed(ctx) ? 'DryRunOperation' : 'UnauthorizedOperation');
  };
}

/** Throws DryRunOperation / UnauthorizedOperation when the request is a dry run. */
export function checkDryRun(ctx: ActionContext, params: QueryParams): void {
  dryRunCheck(ctx, params)();
}
