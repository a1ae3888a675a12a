// #/images: the account's images (and the demo image), with launch and deregister.
import type { Image, _InstanceType } from '@aws-sdk/client-ec2';
import { DeregisterImageCommand, DescribeImagesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ec2 } from '../api.ts';
import { navigate } from '../components/router.ts';
import { usePoll } from '../components/use-poll.ts';
import type { Column } from '../components/ui.tsx';
import { ListSection, StateBadge, TagList, parseFilters, useAction } from '../components/ui.tsx';
import type { Session } from '../session.ts';

/** Runs one instance of `imageId`; resolves to its id. */
export async function launch(session: Session, imageId: string, instanceType: string): Promise<string> {
  const out = await ec2(session).send(
    new RunInstancesCommand({
      ImageId: imageId,
      InstanceType: instanceType as _InstanceType,
      MinCount: 1,
      MaxCount: 1,
    }),
  );
  return out.Instances?.[0]?.InstanceId ?? '';
}

/** The images page. */
export function ImagesPage({ session }: { session: Session }): JSX.Element {
  const [filters, setFilters] = useState('');
  const images = usePoll(
    async () =>
      (
        await ec2(session).send(
          new DescribeImagesCommand({ Owners: ['self'], Filters: parseFilters(filters) }),
        )
      ).Images ?? [],
    5000,
    filters,
  );
  const action = useAction(images.refresh);
  const columns: Column<Image>[] = [
    { title: 'Image', cell: (i) => i.ImageId },
    { title: 'Name', cell: (i) => i.Name },
    { title: 'State', cell: (i) => <StateBadge state={i.State} /> },
    {
      title: 'Root snapshot',
      cell: (i) => i.BlockDeviceMappings?.find((m) => m.DeviceName === i.RootDeviceName)?.Ebs?.SnapshotId,
    },
    { title: 'Created', cell: (i) => i.CreationDate },
    { title: 'Tags', cell: (i) => <TagList tags={i.Tags} /> },
    {
      title: 'Actions',
      cell: (i) => (
        <span class="row-actions">
          <button
            disabled={action.busy}
            onClick={() =>
              void action.run(`Launch ${i.ImageId}`, async () =>
                navigate(`/instances/${await launch(session, i.ImageId ?? '', 't3.micro')}`),
              )
            }
          >
            Launch
          </button>
          <button
            class="danger"
            disabled={action.busy}
            onClick={() =>
              void action.run(`Deregister ${i.ImageId}`, () =>
                ec2(session).send(new DeregisterImageCommand({ ImageId: i.ImageId })),
              )
            }
          >
            Deregister
          </button>
        </span>
      ),
    },
  ];
  return (
    <section>
      <h1>Images</h1>
      <ListSection
        title="Images"
        action={action}
        filters={filters}
        setFilters={setFilters}
        filterHint="name=strata-demo"
        loadError={images.error}
        columns={columns}
        rows={images.data}
        rowKey={(i) => i.ImageId ?? ''}
      />
    </section>
  );
}
