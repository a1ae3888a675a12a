// #/snapshots: the account's snapshots, with clone (a volume from the snapshot), register image and delete.
import type { Snapshot } from '@aws-sdk/client-ec2';
import {
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DescribeAvailabilityZonesCommand,
  DescribeSnapshotsCommand,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ec2 } from '../api.ts';
import { collectPages } from '../components/paging.ts';
import { usePoll } from '../components/use-poll.ts';
import type { Column } from '../components/ui.tsx';
import { ListSection, StateBadge, TagList, nameTag, parseFilters, useAction } from '../components/ui.tsx';
import type { Session } from '../session.ts';

/** The snapshots page. */
export function SnapshotsPage({ session }: { session: Session }): JSX.Element {
  const [filters, setFilters] = useState('');
  const snapshots = usePoll(
    () =>
      collectPages(async (NextToken, MaxResults) => {
        const out = await ec2(session).send(
          new DescribeSnapshotsCommand({
            OwnerIds: ['self'],
            Filters: parseFilters(filters),
            NextToken,
            MaxResults,
          }),
        );
        return { rows: out.Snapshots ?? [], nextToken: out.NextToken };
      }, 1000),
    3000,
    filters,
  );
  const action = useAction(snapshots.refresh);
  const columns = snapshotColumns(session, action);
  return (
    <section>
      <h1>Snapshots</h1>
      <ListSection
        title="Snapshots"
        action={action}
        filters={filters}
        setFilters={setFilters}
        filterHint="status=completed; volume-id=vol-…"
        loadError={snapshots.error}
        columns={columns}
        rows={snapshots.data?.rows}
        rowKey={(s) => s.SnapshotId ?? ''}
      />
    </section>
  );
}

type Action = ReturnType<typeof useAction>;

function snapshotColumns(session: Session, action: Action): Column<Snapshot>[] {
  const client = ec2(session);
  const clone = async (snapshot: Snapshot): Promise<unknown> => {
    const zones = await client.send(new DescribeAvailabilityZonesCommand({}));
    return client.send(
      new CreateVolumeCommand({
        SnapshotId: snapshot.SnapshotId,
        AvailabilityZone: zones.AvailabilityZones?.[0]?.ZoneName,
      }),
    );
  };
  const register = (snapshot: Snapshot): Promise<unknown> =>
    client.send(
      new RegisterImageCommand({
        Name: `from-${snapshot.SnapshotId}-${Date.now()}`,
        Architecture: 'x86_64',
        VirtualizationType: 'hvm',
        RootDeviceName: '/dev/xvda',
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshot.SnapshotId } }],
      }),
    );
  return [
    { title: 'Snapshot', cell: (s) => s.SnapshotId },
    { title: 'Name', cell: (s) => nameTag(s.Tags) },
    { title: 'State', cell: (s) => <StateBadge state={s.State} /> },
    { title: 'Progress', cell: (s) => s.Progress },
    { title: 'Volume', cell: (s) => <a href={`#/volumes/${s.VolumeId}`}>{s.VolumeId}</a> },
    { title: 'Size', cell: (s) => `${s.VolumeSize} GiB` },
    { title: 'Description', cell: (s) => s.Description },
    { title: 'Tags', cell: (s) => <TagList tags={s.Tags} /> },
    {
      title: 'Actions',
      cell: (s) => (
        <span class="row-actions">
          <button
            disabled={action.busy}
            onClick={() => void action.run(`Create volume from ${s.SnapshotId}`, () => clone(s))}
          >
            Create volume
          </button>
          <button
            disabled={action.busy}
            onClick={() => void action.run(`Register image from ${s.SnapshotId}`, () => register(s))}
          >
            Register image
          </button>
          <a href={`#/lineage?focus=${s.SnapshotId}`}>Lineage</a>
          <button
            class="danger"
            disabled={action.busy}
            onClick={() =>
              void action.run(`Delete ${s.SnapshotId}`, () =>
                client.send(new DeleteSnapshotCommand({ SnapshotId: s.SnapshotId })),
              )
            }
          >
            Delete
          </button>
        </span>
      ),
    },
  ];
}
