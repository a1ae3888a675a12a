// The workload shape the crash and power-loss tests share with their child process.
import type { WorkloadShape } from './workload.ts';

/** Small pool, small extents: many blocks per volume and quick verification. */
export const crashShape: WorkloadShape & { readonly capacityBytes: number; readonly opsMax: number } = {
  extentBytes: 4096,
  volumeBytesMax: 48 * 4096,
  devicesMax: 12,
  capacityBytes: 4096 * 4096,
  opsMax: 200_000,
};
