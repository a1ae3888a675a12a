// #/volumes: the account's volumes, with create, snapshot, attach, detach and delete.
import type { Volume } from '@aws-sdk/client-ec2';
import {
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
} from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ec2 } from '../api.ts';
import { collectPages } from '../components/paging.ts';
import { usePoll } from '../components/use-poll.ts';
import type { Column } from '../components/ui.tsx';
import { ListSection, StateBadge, TagList, nameTag, parseFilters, useAction } from '../components/ui.tsx';
import { ZoneSelect, nameTagSpec } from '../components/forms.tsx';
import type { Session } from '../session.ts';

// One DescribeVolumes page: the first render waits for one answer, and 200 rows fill several screens.
const pageRows = 200;

/** The volumes page. */
export function VolumesPage({ session }: { session: Session }): JSX.Element {
  const [filters, setFilters] = useState('');
  const [limit, setLimit] = useState(pageRows);
  const volumes = usePoll(
    () =>
      collectPages(async (NextToken, MaxResults) => {
        const out = await ec2(session).send(
          new DescribeVolumesCommand({ Filters: parseFilters(filters), NextToken, MaxResults }),
        );
        return { rows: out.Volumes ?? [], nextToken: out.NextToken };
      }, limit),
    3000,
    `${filters}|${limit}`,
  );
  const action = useAction(volumes.refresh);
  const columns = volumeColumns(session, action);
  return (
    <section>
      <h1>Volumes</h1>
      <CreateVolumeForm session={session} busy={action.busy} run={action.run} />
      <ListSection
        title="Volumes"
        action={action}
        filters={filters}
        setFilters={setFilters}
        filterHint="status=available; tag:Name=web"
        loadError={volumes.error}
        columns={columns}
        rows={volumes.data?.rows}
        rowKey={(v) => v.VolumeId ?? ''}
      />
      {volumes.data?.more === true && (
        <button onClick={() => setLimit(limit + pageRows)}>Show {pageRows} more</button>
      )}
    </section>
  );
}

type Action = ReturnType<typeof useAction>;

function volumeColumns(session: Session, action: Action): Column<Volume>[] {
  const client = ec2(session);
  return [
    { title: 'Volume', cell: (v) => <a href={`#/volumes/${v.VolumeId}`}>{v.VolumeId}</a> },
    { title: 'Name', cell: (v) => nameTag(v.Tags) },
    { title: 'State', cell: (v) => <StateBadge state={v.State} /> },
    { title: 'Size', cell: (v) => `${v.Size} GiB` },
    { title: 'Zone', cell: (v) => v.AvailabilityZone },
    { title: 'From snapshot', cell: (v) => v.SnapshotId || '' },
    {
      title: 'Attached to',
      cell: (v) =>
        (v.Attachments ?? []).map((a) => (
          <a key={a.InstanceId} href={`#/instances/${a.InstanceId}`}>
            {a.InstanceId} {a.Device}
          </a>
        )),
    },
    { title: 'Tags', cell: (v) => <TagList tags={v.Tags} /> },
    {
      title: 'Actions',
      cell: (v) => (
        <span class="row-actions">
          <button
            disabled={action.busy}
            onClick={() =>
              void action.run(`Snapshot ${v.VolumeId}`, () =>
                client.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId })),
              )
            }
          >
            Snapshot
          </button>
          {(v.Attachments ?? []).length > 0 ? (
            <button
              disabled={action.busy}
              onClick={() =>
                void action.run(`Detach ${v.VolumeId}`, () =>
                  client.send(new DetachVolumeCommand({ VolumeId: v.VolumeId })),
                )
              }
            >
              Detach
            </button>
          ) : (
            <AttachButton volumeId={v.VolumeId ?? ''} busy={action.busy} run={action.run} session={session} />
          )}
          <button
            class="danger"
            disabled={action.busy}
            onClick={() =>
              void action.run(`Delete ${v.VolumeId}`, () =>
                client.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId })),
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

type Run = (label: string, action: () => Promise<unknown>) => Promise<void>;

function CreateVolumeForm(props: { session: Session; busy: boolean; run: Run }): JSX.Element {
  const [size, setSize] = useState('1');
  const [zone, setZone] = useState('');
  const [snapshotId, setSnapshotId] = useState('');
  const [name, setName] = useState('');
  const submit = (event: Event): void => {
    event.preventDefault();
    void props.run('Create volume', () =>
      ec2(props.session).send(
        new CreateVolumeCommand({
          AvailabilityZone: zone,
          Size: size === '' ? undefined : Number(size),
          SnapshotId: snapshotId === '' ? undefined : snapshotId,
          TagSpecifications: nameTagSpec('volume', name),
        }),
      ),
    );
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Create volume">
      <label>
        Size (GiB){' '}
        <input
          name="size"
          type="number"
          min="1"
          value={size}
          onInput={(e) => setSize((e.target as HTMLInputElement).value)}
        />
      </label>
      <ZoneSelect session={props.session} value={zone} onChange={setZone} />
      <label>
        From snapshot{' '}
        <input
          name="snapshot"
          placeholder="snap-… (optional)"
          value={snapshotId}
          onInput={(e) => setSnapshotId((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Name <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" disabled={props.busy}>
        Create volume
      </button>
    </form>
  );
}

function AttachButton(props: { volumeId: string; busy: boolean; run: Run; session: Session }): JSX.Element {
  const [open, setOpen] = useState(false);
  const [instanceId, setInstanceId] = useState('');
  const [device, setDevice] = useState('/dev/sdf');
  if (!open)
    return (
      <button disabled={props.busy} onClick={() => setOpen(true)}>
        Attach…
      </button>
    );
  const submit = (event: Event): void => {
    event.preventDefault();
    setOpen(false);
    void props.run(`Attach ${props.volumeId}`, () =>
      ec2(props.session).send(
        new AttachVolumeCommand({ VolumeId: props.volumeId, InstanceId: instanceId, Device: device }),
      ),
    );
  };
  return (
    <form class="attach-form" onSubmit={submit} aria-label={`Attach ${props.volumeId}`}>
      <input
        aria-label="Instance"
        placeholder="i-…"
        value={instanceId}
        onInput={(e) => setInstanceId((e.target as HTMLInputElement).value)}
      />
      <input
        aria-label="Device"
        value={device}
        onInput={(e) => setDevice((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Attach</button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}
