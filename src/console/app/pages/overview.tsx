// #/ (overview): counts of the account's resources, running VMs, and the pool's usage and fullness from
// the extension API.
import { DescribeImagesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { ec2, extGet } from '../api.ts';
import { usePoll } from '../components/use-poll.ts';
import { ErrorBanner, formatBytes } from '../components/ui.tsx';
import type { Session } from '../session.ts';
import { describeInstances } from './instances.tsx';

/** GET /_strata/ext/overview (docs/api.md). */
export interface ExtOverview {
  readonly region: string;
  readonly hypervisor: string;
  readonly pool: {
    capacityBytes: number;
    usedBytes: number;
    availableBytes: number;
    pendingFreeBytes: number;
    fullnessPercent: number;
  };
  readonly account: { volumes: number; allocatedBytes: number };
}

async function counts(session: Session): Promise<Record<string, number>> {
  const client = ec2(session);
  const [volumes, snapshots, images, instances] = await Promise.all([
    client.send(new DescribeVolumesCommand({})),
    client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] })),
    client.send(new DescribeImagesCommand({ Owners: ['self'] })),
    describeInstances(client, ''),
  ]);
  return {
    Volumes: volumes.Volumes?.length ?? 0,
    Snapshots: snapshots.Snapshots?.length ?? 0,
    Images: images.Images?.length ?? 0,
    Instances: instances.length,
    Running: instances.filter((i) => i.State?.Name === 'running').length,
  };
}

/** The overview page. */
export function OverviewPage({ session }: { session: Session }): JSX.Element {
  const numbers = usePoll(() => counts(session), 5000, 'counts');
  const ext = usePoll(() => extGet<ExtOverview>(session, 'overview'), 5000, 'ext');
  const pool = ext.data?.pool;
  return (
    <section>
      <h1>Overview</h1>
      <ErrorBanner message={numbers.error ?? ext.error} />
      <ul class="cards">
        {Object.entries(numbers.data ?? {}).map(([name, value]) => (
          <li class="card" key={name}>
            <a href={`#/${name === 'Running' ? 'instances' : name.toLowerCase()}`}>
              <span class="card-number">{value}</span> {name}
            </a>
          </li>
        ))}
      </ul>
      {pool !== undefined && (
        <>
          <h2>Pool</h2>
          <div
            class="meter"
            role="meter"
            aria-label="Pool fullness"
            aria-valuenow={pool.fullnessPercent}
            aria-valuemin={0}
            aria-valuemax={100}
          >
            <div class="meter-fill" style={{ width: `${Math.min(100, pool.fullnessPercent)}%` }} />
          </div>
          <p>
            {pool.fullnessPercent.toFixed(1)}% full: {formatBytes(pool.usedBytes)} used,{' '}
            {formatBytes(pool.availableBytes)} available, {formatBytes(pool.pendingFreeBytes)} being
            reclaimed, of {formatBytes(pool.capacityBytes)}.
          </p>
          <dl class="facts">
            <dt>Region</dt>
            <dd>{ext.data?.region}</dd>
            <dt>Hypervisor</dt>
            <dd>{ext.data?.hypervisor}</dd>
            <dt>Your volumes hold</dt>
            <dd>{formatBytes(ext.data?.account.allocatedBytes ?? 0)} allocated</dd>
          </dl>
        </>
      )}
    </section>
  );
}
