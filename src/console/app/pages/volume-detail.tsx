// #/volumes/ID: one volume: its facts, the allocation map (allocated against thin space, from the block
// status the pool keeps), its snapshots, its NBD URI and ready-to-copy qemu-img and nbdcopy commands.
import { DescribeSnapshotsCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import type { Volume } from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ec2, extGet } from '../api.ts';
import { usePoll } from '../components/use-poll.ts';
import { ErrorBanner, StateBadge, TagList, formatBytes } from '../components/ui.tsx';
import type { Session } from '../session.ts';

/** GET /_strata/ext/volumes/ID (docs/api.md). */
interface ExtVolume {
  readonly volumeId: string;
  readonly sizeBytes: number;
  readonly allocatedBytes: number;
  readonly nbdUri: string;
}

/** GET /_strata/ext/volumes/ID/allocation (docs/api.md). */
interface ExtAllocation {
  readonly sizeBytes: number;
  readonly cellBytes: number;
  readonly cells: readonly number[];
}

const bucketCount = 256;

/** The volume detail page. */
export function VolumeDetailPage({ session, volumeId }: { session: Session; volumeId: string }): JSX.Element {
  const client = ec2(session);
  const volume = usePoll(
    async () => (await client.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes?.[0],
    3000,
    volumeId,
  );
  const ext = usePoll(() => extGet<ExtVolume>(session, `volumes/${volumeId}`), 5000, volumeId);
  const map = usePoll(
    () => extGet<ExtAllocation>(session, `volumes/${volumeId}/allocation`, { cells: String(bucketCount) }),
    5000,
    volumeId,
  );
  const snapshots = usePoll(
    async () =>
      (
        await client.send(
          new DescribeSnapshotsCommand({
            OwnerIds: ['self'],
            Filters: [{ Name: 'volume-id', Values: [volumeId] }],
          }),
        )
      ).Snapshots ?? [],
    5000,
    volumeId,
  );
  const v = volume.data;
  return (
    <section>
      <h1>
        Volume {volumeId} <StateBadge state={v?.State} />
      </h1>
      <ErrorBanner message={volume.error ?? ext.error} />
      {v !== undefined && <VolumeFacts volume={v} allocatedBytes={ext.data?.allocatedBytes} />}
      <h2>Allocation map</h2>
      <ErrorBanner message={map.error} />
      {map.data !== undefined && <AllocationMap map={map.data} />}
      {ext.data !== undefined && <NbdCommands uri={ext.data.nbdUri} volumeId={volumeId} />}
      <h2>Snapshots</h2>
      <ul>
        {(snapshots.data ?? []).map((s) => (
          <li key={s.SnapshotId}>
            <a href={`#/lineage?focus=${s.SnapshotId}`}>{s.SnapshotId}</a> <StateBadge state={s.State} />{' '}
            {s.StartTime?.toISOString()}
          </li>
        ))}
      </ul>
      <p>
        <a href={`#/lineage?focus=${volumeId}`}>Show this volume's lineage</a>
      </p>
    </section>
  );
}

function VolumeFacts({
  volume: v,
  allocatedBytes,
}: {
  volume: Volume;
  allocatedBytes: number | undefined;
}): JSX.Element {
  return (
    <dl class="facts">
      <dt>Size</dt>
      <dd>{v.Size} GiB</dd>
      <dt>Allocated</dt>
      <dd>{allocatedBytes === undefined ? '…' : formatBytes(allocatedBytes)}</dd>
      <dt>Zone</dt>
      <dd>{v.AvailabilityZone}</dd>
      <dt>From snapshot</dt>
      <dd>
        {v.SnapshotId === undefined || v.SnapshotId === '' ? (
          '—'
        ) : (
          <a href={`#/lineage?focus=${v.SnapshotId}`}>{v.SnapshotId}</a>
        )}
      </dd>
      <dt>Attached to</dt>
      <dd>
        {(v.Attachments ?? []).map((a) => (
          <a key={a.InstanceId} href={`#/instances/${a.InstanceId}`}>
            {a.InstanceId}
          </a>
        ))}
      </dd>
      <dt>Tags</dt>
      <dd>
        <TagList tags={v.Tags} />
      </dd>
    </dl>
  );
}

function AllocationMap({ map }: { map: ExtAllocation }): JSX.Element {
  return (
    <figure class="allocation">
      <div
        class="allocation-map"
        role="img"
        aria-label={`Allocation map: ${map.cells.length} cells of ${formatBytes(map.cellBytes)}`}
      >
        {map.cells.map((fraction, index) => (
          <span
            key={index}
            class={fraction === 0 ? 'cell thin' : 'cell used'}
            style={fraction === 0 ? undefined : { opacity: 0.35 + 0.65 * fraction }}
            data-allocated={fraction > 0 ? 'yes' : 'no'}
            title={`${formatBytes(index * map.cellBytes)}: ${Math.round(fraction * 100)}% allocated`}
          />
        ))}
      </div>
      <figcaption>
        Each cell is {formatBytes(map.cellBytes)}; dark cells hold data, light ones are thin (read as zeros,
        cost nothing).
      </figcaption>
    </figure>
  );
}

function NbdCommands({ uri, volumeId }: { uri: string; volumeId: string }): JSX.Element {
  const [copied, setCopied] = useState('');
  const commands = [
    `qemu-img convert -O qcow2 '${uri}' ${volumeId}.qcow2`,
    `nbdcopy '${uri}' ${volumeId}.raw`,
    `nbdinfo --map '${uri}'`,
  ];
  const copy = (text: string): void => {
    void navigator.clipboard?.writeText(text).then(
      () => setCopied(text),
      () => setCopied(''),
    );
  };
  return (
    <>
      <h2>NBD</h2>
      <p>
        URI: <code>{uri}</code> (on the daemon's host, as its user)
      </p>
      <ul class="commands">
        {commands.map((command) => (
          <li key={command}>
            <code>{command}</code>{' '}
            <button onClick={() => copy(command)}>{copied === command ? 'Copied' : 'Copy'}</button>
          </li>
        ))}
      </ul>
    </>
  );
}
