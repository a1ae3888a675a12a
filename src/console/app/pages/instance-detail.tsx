// #/instances/ID: one instance: its state and actions, block device mappings (linking to the volumes), user
// data, and the serial console, polled with GetConsoleOutput and following its tail while scrolled to the end.
import { DescribeInstanceAttributeCommand, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import type { Instance } from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { ec2 } from '../api.ts';
import { usePoll } from '../components/use-poll.ts';
import { ActionResult, ErrorBanner, StateBadge, TagList } from '../components/ui.tsx';
import { useAction } from '../components/ui.tsx';
import type { Session } from '../session.ts';
import { InstanceActions, describeInstances } from './instances.tsx';

/** Base64 to text (the console output is UTF-8 bytes, base64 in the API). */
function decodeBase64(text: string): string {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The instance detail page. */
export function InstanceDetailPage({
  session,
  instanceId,
}: {
  session: Session;
  instanceId: string;
}): JSX.Element {
  const client = ec2(session);
  const instance = usePoll(
    async () => (await describeInstances(client, `instance-id=${instanceId}`))[0],
    2000,
    instanceId,
  );
  const action = useAction(instance.refresh);
  const userData = usePoll(
    async () => {
      const out = await client.send(
        new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
      );
      return out.UserData?.Value === undefined ? '' : decodeBase64(out.UserData.Value);
    },
    60_000,
    instanceId,
  );
  const i = instance.data;
  return (
    <section>
      <h1>
        Instance {instanceId} <StateBadge state={i?.State?.Name} />
      </h1>
      <ErrorBanner message={instance.error} />
      {i !== undefined && (
        <InstanceActions instance={i} session={session} busy={action.busy} run={action.run} />
      )}
      <ActionResult error={action.error} notice={action.notice} />
      {i !== undefined && <InstanceFacts instance={i} />}
      <h2>Block devices</h2>
      <ul>
        {(i?.BlockDeviceMappings ?? []).map((m) => (
          <li key={m.DeviceName}>
            {m.DeviceName}: <a href={`#/volumes/${m.Ebs?.VolumeId}`}>{m.Ebs?.VolumeId}</a> ({m.Ebs?.Status})
          </li>
        ))}
      </ul>
      <h2>User data</h2>
      <pre class="user-data">
        {userData.data === undefined || userData.data === '' ? '(none)' : userData.data}
      </pre>
      <h2>Serial console</h2>
      <SerialConsole session={session} instanceId={instanceId} />
    </section>
  );
}

function InstanceFacts({ instance: i }: { instance: Instance }): JSX.Element {
  return (
    <dl class="facts">
      <dt>Type</dt>
      <dd>{i.InstanceType}</dd>
      <dt>Image</dt>
      <dd>{i.ImageId}</dd>
      <dt>Zone</dt>
      <dd>{i.Placement?.AvailabilityZone}</dd>
      <dt>Private IP</dt>
      <dd>{i.PrivateIpAddress ?? '—'}</dd>
      <dt>Public IP</dt>
      <dd>{i.PublicIpAddress ?? '—'}</dd>
      {i.PublicIpAddress !== undefined && (
        <>
          <dt>SSH</dt>
          <dd>
            <code>
              ssh -i {i.KeyName ?? 'KEY'}.pem root@{i.PublicIpAddress}
            </code>
          </dd>
        </>
      )}
      <dt>Tags</dt>
      <dd>
        <TagList tags={i.Tags} />
      </dd>
    </dl>
  );
}

function SerialConsole({ session, instanceId }: { session: Session; instanceId: string }): JSX.Element {
  const output = usePoll(
    async () => {
      const out = await ec2(session).send(
        new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }),
      );
      return out.Output === undefined ? '' : decodeBase64(out.Output);
    },
    1000,
    instanceId,
  );
  const box = useRef<HTMLPreElement>(null);
  const following = useRef(true);
  useEffect(() => {
    const element = box.current;
    if (element !== null && following.current) element.scrollTop = element.scrollHeight;
  }, [output.data]);
  const onScroll = (): void => {
    const element = box.current;
    if (element !== null)
      following.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
  };
  return (
    <>
      <ErrorBanner message={output.error} />
      <pre
        class="serial-console"
        ref={box}
        onScroll={onScroll}
        tabIndex={0}
        aria-label="Serial console"
        aria-live="off"
      >
        {output.data === undefined || output.data === '' ? '(no output yet)' : output.data}
      </pre>
    </>
  );
}
