// The instance settings Strata records and reports but that change nothing on this host (issue 17):
// detailed monitoring, tenancy and EBS optimization as RunInstances asks for them, and the attributes
// sourceDestCheck and disableApiStop (stop protection, which StopInstances enforces). Kernel and RAM disk
// belong to paravirtual instances; every Strata instance is hvm, so they are always empty.
import type { Updateable } from 'kysely';
import { assertNever } from '../../base/assert.ts';
import type { InstancesTable } from '../../db/tables/instances.ts';
import { ec2Error } from '../errors.ts';
import type { InstanceRow } from './instance-records.ts';

/** EC2's tenancies; all run alike here. */
export const tenancies = ['default', 'dedicated', 'host'] as const;

/** RunInstances' Monitoring.Enabled, Placement.Tenancy, EbsOptimized and DisableApiStop. */
export interface LaunchOptions {
  readonly monitoring: boolean | undefined;
  readonly tenancy: (typeof tenancies)[number] | undefined;
  readonly ebsOptimized: boolean | undefined;
  readonly disableApiStop: boolean | undefined;
}

/** The instance columns a launch with `options` starts with (EC2's defaults for what is not asked). */
export function launchColumns(
  options: LaunchOptions | undefined,
): Pick<
  InstanceRow,
  'monitoring_state' | 'tenancy' | 'ebs_optimized' | 'source_dest_check' | 'disable_api_stop'
> {
  return {
    monitoring_state: options?.monitoring === true ? 'enabled' : 'disabled',
    tenancy: options?.tenancy ?? 'default',
    ebs_optimized: options?.ebsOptimized === true ? 1 : 0,
    source_dest_check: 1,
    disable_api_stop: options?.disableApiStop === true ? 1 : 0,
  };
}

/** A ModifyInstanceAttribute change of one of these settings. */
export type OptionChange =
  | { readonly kind: 'sourceDestCheck'; readonly value: boolean }
  | { readonly kind: 'disableApiStop'; readonly value: boolean }
  | { readonly kind: 'ebsOptimized'; readonly value: boolean }
  | { readonly kind: 'kernel' | 'ramdisk'; readonly value: string };

const optionKinds: ReadonlySet<string> = new Set([
  'sourceDestCheck',
  'disableApiStop',
  'ebsOptimized',
  'kernel',
  'ramdisk',
]);

/** Whether `change` is one of these settings. */
export function isOptionChange(change: { readonly kind: string }): change is OptionChange {
  return optionKinds.has(change.kind);
}

/** The row update for `change`, or EC2's error when it may not apply to `row` now. */
export function optionUpdate(row: InstanceRow, change: OptionChange): Updateable<InstancesTable> {
  switch (change.kind) {
    case 'sourceDestCheck':
      return { source_dest_check: change.value ? 1 : 0 };
    case 'disableApiStop':
      return { disable_api_stop: change.value ? 1 : 0 };
    case 'ebsOptimized':
      stoppedOnly(row, 'ebsOptimized');
      return { ebs_optimized: change.value ? 1 : 0 };
    case 'kernel':
    case 'ramdisk':
      stoppedOnly(row, change.kind);
      throw ec2Error(
        'UnsupportedOperation',
        `The instance '${row.id}' is hvm: ${change.kind} can only be set on paravirtual instances.`,
      );
    default:
      return assertNever(change, 'option change');
  }
}

/** StopInstances' check: OperationNotPermitted while stop protection is on, as EC2. */
export function checkStoppable(row: InstanceRow): void {
  if (row.disable_api_stop === 1) {
    throw ec2Error(
      'OperationNotPermitted',
      `The instance '${row.id}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`,
    );
  }
}

function stoppedOnly(row: InstanceRow, what: string): void {
  if (row.state !== 'stopped') {
    throw ec2Error(
      'IncorrectInstanceState',
      `The instance '${row.id}' is not in the 'stopped' state; ${what} can only be modified on a stopped instance.`,
    );
  }
}
