// EC2's DryRun: check permissions, change nothing, and answer with an error either way.
//
// Usage inside run(), after validating parameters and BEFORE changing anything:
//   checkDryRun(ctx, params);
// When DryRun=true it throws DryRunOperation (412) if the caller may perform the action, otherwise
// UnauthorizedOperation (403). When DryRun is absent or false it returns and the action proceeds.
import { ApiError } from '../errors.ts';
import type { ActionContext } from './action.ts';
import type { QueryParams } from './query-params.ts';

/** Whether the caller may perform the context's action. Strata has no IAM: every account may act on its own resources. */
export function isAllowed(ctx: ActionContext): boolean {
  return ctx.accountId.length === 12;
}

/** Throws DryRunOperation / UnauthorizedOperation when the request is a dry run. */
export function checkDryRun(ctx: ActionContext, params: QueryParams): void {
  if (params.boolean('DryRun') !== true) return;
  throw new ApiError(isAllowed(ctx) ? 'DryRunOperation' : 'UnauthorizedOperation');
}
