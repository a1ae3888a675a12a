// #/instances: the account's instances, with run, stop, start, reboot, terminate and create image.
import type { Instance } from '@aws-sdk/client-ec2';
import {
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ec2 } from '../api.ts';
import { usePoll } from '../components/use-poll.ts';
import type { Column } from '../components/ui.tsx';
import { ListSection, StateBadge, TagList, nameTag, parseFilters, useAction } from '../components/ui.tsx';
import type { Session } from '../session.ts';
import { launch } from './images.tsx';

/** Every instance of the account that matches `filters`. */
export async function describeInstances(client: EC2Client, filters: string): Promise<Instance[]> {
  const out = await client.send(new DescribeInstancesCommand({ Filters: parseFilters(filters) }));
  return (out.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
}

type Run = (label: string, action: () => Promise<unknown>) => Promise<void>;

/** The lifecycle buttons of one instance (the table and the detail page). */
export function InstanceActions({
  instance,
  session,
  busy,
  run,
}: {
  instance: Instance;
  session: Session;
  busy: boolean;
  run: Run;
}): JSX.Element {
  const client = ec2(session);
  const ids = [instance.InstanceId ?? ''];
  const id = instance.InstanceId;
  const verbs: [string, () => Promise<unknown>][] = [
    ['Stop', () => client.send(new StopInstancesCommand({ InstanceIds: ids }))],
    ['Start', () => client.send(new StartInstancesCommand({ InstanceIds: ids }))],
    ['Reboot', () => client.send(new RebootInstancesCommand({ InstanceIds: ids }))],
    [
      'Create image',
      () => client.send(new CreateImageCommand({ InstanceId: id, Name: `${id}-${Date.now()}` })),
    ],
    ['Terminate', () => client.send(new TerminateInstancesCommand({ InstanceIds: ids }))],
  ];
  return (
    <span class="row-actions">
      {verbs.map(([verb, action]) => (
        <button
          key={verb}
          class={verb === 'Terminate' ? 'danger' : undefined}
          disabled={busy}
          onClick={() => void run(`${verb} ${id}`, action)}
        >
          {verb}
        </button>
      ))}
    </span>
  );
}

/** The instances page. */
export function InstancesPage({ session }: { session: Session }): JSX.Element {
  const [filters, setFilters] = useState('');
  const instances = usePoll(() => describeInstances(ec2(session), filters), 2000, filters);
  const action = useAction(instances.refresh);
  const columns: Column<Instance>[] = [
    { title: 'Instance', cell: (i) => <a href={`#/instances/${i.InstanceId}`}>{i.InstanceId}</a> },
    { title: 'Name', cell: (i) => nameTag(i.Tags) },
    { title: 'State', cell: (i) => <StateBadge state={i.State?.Name} /> },
    { title: 'Type', cell: (i) => i.InstanceType },
    { title: 'Image', cell: (i) => i.ImageId },
    { title: 'Zone', cell: (i) => i.Placement?.AvailabilityZone },
    { title: 'Private IP', cell: (i) => i.PrivateIpAddress },
    { title: 'Tags', cell: (i) => <TagList tags={i.Tags} /> },
    {
      title: 'Actions',
      cell: (i) => <InstanceActions instance={i} session={session} busy={action.busy} run={action.run} />,
    },
  ];
  return (
    <section>
      <h1>Instances</h1>
      <RunForm session={session} busy={action.busy} run={action.run} />
      <ListSection
        title="Instances"
        action={action}
        filters={filters}
        setFilters={setFilters}
        filterHint="instance-state-name=running"
        loadError={instances.error}
        columns={columns}
        rows={instances.data}
        rowKey={(i) => i.InstanceId ?? ''}
      />
    </section>
  );
}

function RunForm(props: { session: Session; busy: boolean; run: Run }): JSX.Element {
  const [images, setImages] = useState<{ id: string; name: string }[]>([]);
  const [imageId, setImageId] = useState('');
  const [type, setType] = useState('t3.micro');
  useEffect(() => {
    void ec2(props.session)
      .send(new DescribeImagesCommand({ Owners: ['self'] }))
      .then((out) => {
        const list = (out.Images ?? []).map((image) => ({ id: image.ImageId ?? '', name: image.Name ?? '' }));
        setImages(list);
        const demo = list.find((image) => image.name === 'strata-demo') ?? list[0];
        if (demo !== undefined) setImageId(demo.id);
      })
      .catch(() => setImages([]));
  }, [props.session]);
  const submit = (event: Event): void => {
    event.preventDefault();
    void props.run('Run instance', () => launch(props.session, imageId, type));
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Run instance">
      <label>
        Image{' '}
        <select
          name="image"
          value={imageId}
          onChange={(e) => setImageId((e.target as HTMLSelectElement).value)}
        >
          {images.map((image) => (
            <option key={image.id} value={image.id}>
              {image.name} ({image.id})
            </option>
          ))}
        </select>
      </label>
      <label>
        Type <input name="type" value={type} onInput={(e) => setType((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" disabled={props.busy || imageId === ''}>
        Run instance
      </button>
    </form>
  );
}
