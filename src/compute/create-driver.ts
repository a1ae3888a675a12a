// Picks the driver for `strata serve --hypervisor qemu|fake` (Contract: the daemon).
import { assertNever } from '../base/assert.ts';
import type { Logger } from '../base/log.ts';
import { createFakeDriver } from './fake/fake-driver.ts';
import { createQemuDriver } from './qemu/qemu-driver.ts';
import type { VmDriver } from './vm-driver.ts';

/** The hypervisors `--hypervisor` accepts. */
export type HypervisorKind = 'qemu' | 'fake';

/** Creates the driver for `kind`; qemu keeps its VMs under `<dataDir>/instances/`. Call adopt() next. */
export function createVmDriver(
  kind: HypervisorKind,
  options: { dataDir: string; logger?: Logger },
): VmDriver {
  switch (kind) {
    case 'qemu':
      return createQemuDriver({
        stateDir: options.dataDir,
        ...(options.logger ? { logger: options.logger } : {}),
      });
    case 'fake':
      return createFakeDriver();
    default:
      return assertNever(kind, 'hypervisor');
  }
}
