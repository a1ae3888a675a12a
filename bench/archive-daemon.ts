// Benchmark: the archive through the daemon (EC2 SDK, in-process test daemon, `dir:` store on local disk):
// CreateSnapshot → `completed` (full, then 1% changed), and CreateVolume of an evicted snapshot (restore).
// Run by hand: node --import tsx bench/archive-daemon.ts [--mib N]   (default 256 MiB of random data)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { limits, units } from '../src/base/limits.ts';
import { startTestDaemon, type TestDaemon } from '../src/api/testing/test-daemon.ts';

const mibArg = process.argv.indexOf('--mib');
const mib = mibArg > 0 ? Number(process.argv[mibArg + 1]) : 256;

async function poll(probe: () => Promise<boolean>): Promise<void> {
  while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function snapshotMs(ec2: EC2Client, volumeId: string): Promise<{ id: string; ms: number }> {
  const started = performance.now();
  const { SnapshotId } = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  const id = SnapshotId ?? '';
  await poll(async () => {
    const { Snapshots } = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
    const state = Snapshots?.[0]?.State;
    if (state === 'error') throw new Error(`${id}: ${Snapshots?.[0]?.StateMessage}`);
    return state === 'completed';
  });
  return { id, ms: performance.now() - started };
}

async function volumeMs(strata: TestDaemon, snapshotId?: string): Promise<{ id: string; ms: number }> {
  const ec2 = strata.ec2();
  const started = performance.now();
  const { VolumeId } = await ec2.send(
    new CreateVolumeCommand({
      AvailabilityZone: `${strata.region}a`,
      ...(snapshotId !== undefined ? { SnapshotId: snapshotId } : { Size: Math.ceil(mib / 1024) + 1 }),
    }),
  );
  const id = VolumeId ?? '';
  await poll(async () => {
    const { Volumes } = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }));
    return Volumes?.[0]?.State === 'available';
  });
  return { id, ms: performance.now() - started };
}

function row(label: string, bytes: number, ms: number): void {
  const rate = bytes / units.MiB / (ms / 1000);
  console.log(
    `${label.padEnd(28)} ${(bytes / units.MiB).toFixed(0).padStart(6)} MiB ${ms.toFixed(0).padStart(7)} ms ${rate.toFixed(1).padStart(8)} MiB/s`,
  );
}

const archiveDir = await mkdtemp(join(tmpdir(), 'strata-bench-archive-'));
const strata = await startTestDaemon({ snapshotStore: { kind: 'dir', path: archiveDir } });
try {
  const ec2 = strata.ec2();
  const volume = await volumeMs(strata);
  const chunk = limits.ebsBlockBytes;
  for (let at = 0; at < mib * units.MiB; at += 4 * units.MiB)
    await strata.cloud.store.write(volume.id, at, randomBytes(4 * units.MiB));
  const full = await snapshotMs(ec2, volume.id);
  row('full archive', mib * units.MiB, full.ms);
  const changed = Math.max(1, Math.floor((mib * units.MiB) / chunk / 100));
  for (let i = 0; i < changed; i++)
    await strata.cloud.store.write(volume.id, i * 100 * chunk, randomBytes(chunk));
  const incremental = await snapshotMs(ec2, volume.id);
  row(`incremental (${changed} chunks)`, changed * chunk, incremental.ms);
  await strata.cloud.ebs.archive?.evict(full.id);
  const restored = await volumeMs(strata, full.id);
  row('restore on CreateVolume', mib * units.MiB, restored.ms);
} finally {
  await strata.close();
  await rm(archiveDir, { recursive: true, force: true });
}
