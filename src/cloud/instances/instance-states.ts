// The EC2 instance state machine: names, codes, and which actions each state accepts. Transitions are made
// by the instance manager from driver results and events, never by a timer.
import { assert } from '../../base/assert.ts';
import { ec2Error } from '../errors.ts';

/** EC2's instance states. */
export type InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

/** EC2's state codes (the low byte of instanceState.code). */
export const stateCodes: Readonly<Record<InstanceState, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** The state a row holds, checked. */
export function instanceState(name: string): InstanceState {
  assert(Object.hasOwn(stateCodes, name), `unknown instance state ${name}`);
  return name as InstanceState;
}

/** EC2's IncorrectInstanceState for `action` on an instance in `state`. */
export function incorrectState(instanceId: string, state: string, action: string): Error {
  return ec2Error(
    'IncorrectInstanceState',
    `The instance '${instanceId}' is not in a state from which it can be ${action}.`,
  );
}

/** A state change as StartInstances/StopInstances/TerminateInstances report it. */
export interface StateChange {
  readonly instanceId: string;
  readonly previous: InstanceState;
  readonly current: InstanceState;
}
