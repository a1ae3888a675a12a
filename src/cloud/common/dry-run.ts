// EC2's DryRun as the domain sees it: a check the API builds from the request (api/ec2/dry-run.ts) and a
// service calls once, after it has validated the request against current state and before it changes
// anything. Services never read a DryRun flag themselves, so there is one DryRun path.

/** Throws DryRunOperation (or UnauthorizedOperation) when the request is a dry run; returns otherwise. */
export type DryRunCheck = () => void;

/** The check for requests Strata makes itself (the demo AMI): never a dry run. */
export const noDryRun: DryRunCheck = () => undefined;
