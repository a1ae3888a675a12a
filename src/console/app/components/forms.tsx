// Form pieces more than one page uses.
import { DescribeAvailabilityZonesCommand } from '@aws-sdk/client-ec2';
import type { ResourceType, TagSpecification } from '@aws-sdk/client-ec2';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ec2 } from '../api.ts';
import type { Session } from '../session.ts';

/** A Name tag for a create call, or none when `name` is empty. */
export function nameTagSpec(resourceType: ResourceType, name: string): TagSpecification[] | undefined {
  return name === '' ? undefined : [{ ResourceType: resourceType, Tags: [{ Key: 'Name', Value: name }] }];
}

/** The region's availability zones; picks the first when none is chosen. */
export function ZoneSelect(props: {
  session: Session;
  value: string;
  onChange: (zone: string) => void;
}): JSX.Element {
  const [zones, setZones] = useState<string[]>([]);
  useEffect(() => {
    void ec2(props.session)
      .send(new DescribeAvailabilityZonesCommand({}))
      .then((out) => {
        const names = (out.AvailabilityZones ?? [])
          .map((zone) => zone.ZoneName ?? '')
          .filter((n) => n !== '');
        setZones(names);
        if (props.value === '' && names[0] !== undefined) props.onChange(names[0]);
      })
      .catch(() => setZones([]));
  }, [props.session]);
  return (
    <label>
      Zone{' '}
      <select
        name="zone"
        value={props.value}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
      >
        {zones.map((zone) => (
          <option key={zone} value={zone}>
            {zone}
          </option>
        ))}
      </select>
    </label>
  );
}
