// Instance details that tools read on every plan: DescribeInstanceCreditSpecifications (Terraform, for t-family
// instances) and GetInstanceUefiData. Strata does not meter CPU credits: T instances report EC2's default mode
// for their family (standard for t1/t2, unlimited for t3/t3a), and run unthrottled either way.
import { defineAction } from '../action.ts';
import { checkDryRun } from '../dry-run.ts';

/** EC2's default credit mode of a burstable type, or undefined for a type that has no credits. */
function creditMode(instanceType: string): string | undefined {
  if (/^t[12]\./.test(instanceType)) return 'standard';
  if (/^t\d/.test(instanceType)) return 'unlimited';
  return undefined;
}

/** EC2 DescribeInstanceCreditSpecifications. */
export const describeInstanceCreditSpecifications = defineAction({
  name: 'DescribeInstanceCreditSpecifications',
  params: ['InstanceId.N', 'Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  status: 'partial',
  notes:
    "each T instance reports its family's default mode; ModifyInstanceCreditSpecification is not implemented",
  async run(ctx, params) {
    const request = { instanceIds: params.list('InstanceId'), filters: params.filters(), ...params.page() };
    checkDryRun(ctx, params);
    const page = await ctx.cloud.compute.instances.describe(
      ctx.accountId,
      request,
      'DescribeInstanceCreditSpecifications',
    );
    return {
      instanceCreditSpecificationSet: page.items.flatMap(({ row }) => {
        const cpuCredits = creditMode(row.instance_type);
        return cpuCredits === undefined ? [] : [{ instanceId: row.id, cpuCredits }];
      }),
      nextToken: page.nextToken,
    };
  },
});

/** EC2 GetInstanceUefiData: the UEFI variable store is not kept apart from the instance, so it is empty. */
export const getInstanceUefiData = defineAction({
  name: 'GetInstanceUefiData',
  params: ['InstanceId', 'DryRun'],
  status: 'partial',
  notes: 'always empty: UEFI variables are not exported',
  async run(ctx, params) {
    const instanceId = params.requiredString('InstanceId');
    checkDryRun(ctx, params);
    await ctx.cloud.compute.instances.get(ctx.accountId, instanceId);
    return { instanceId, uefiData: '' };
  },
});

/** The instance-detail actions, for the registry. */
export const instanceInfoActions = [describeInstanceCreditSpecifications, getInstanceUefiData] as const;
