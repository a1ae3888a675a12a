// Every bound in Strata, named once, with what it costs. Relations are asserted at startup.
import { assert } from './assert.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Unit constants, so sizes read as sizes. */
export const units = { KiB, MiB, GiB, TiB: 1024 * GiB } as const;

export const limits = {
  /** HTTP request body, enforced while streaming. EBS PutSnapshotBlock carries 512 KiB; costs that much memory per request. */
  requestBodyBytesMax: 1 * MiB,
  /** Largest NBD READ/WRITE payload (NBD's recommended maximum). One request buffers this much. */
  nbdPayloadBytesMax: 32 * MiB,
  /** NBD requests in flight per connection before we stop reading the socket; bounds memory at depth x payload. */
  nbdQueueDepthMax: 128,
  /** NBD option-haggling messages accepted before the handshake is dropped. */
  nbdOptionsMax: 64,
  /** Concurrent QEMU boots; each TCG boot takes one core for a few seconds. */
  qemuBootsConcurrentMax: 2,
  /** Serial console bytes kept per instance; GetConsoleOutput returns the last 64 KiB like EC2. */
  consoleBytesMax: 64 * KiB,
  /** Block store extent size default: 64 KiB (see docs/architecture.md). */
  extentBytesDefault: 64 * KiB,
  /** EBS direct API block size (Contract). */
  ebsBlockBytes: 512 * KiB,
  /** Largest EBS volume, in GiB (io2 Block Express / gp3: 16 TiB = 16384 GiB; io2 up to 65536). */
  volumeGiBMax: 65536,
  /** Block store commits dirty metadata at least this often, in ms ("a short interval"). */
  storageCommitIntervalMs: 1000,
} as const;

/** Checks relations between limits; called once at startup. */
export function assertLimits(): void {
  assert(limits.ebsBlockBytes % limits.extentBytesDefault === 0, 'EBS block must be a multiple of the extent');
  assert(limits.requestBodyBytesMax > limits.ebsBlockBytes, 'body limit must fit one EBS block');
  assert(limits.nbdPayloadBytesMax % limits.extentBytesDefault === 0, 'NBD payload must be whole extents');
}
