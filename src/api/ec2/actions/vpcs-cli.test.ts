// The stock AWS CLI against the VPC and security group actions: describe-vpcs with the default filter
// (the camelCase name Terraform sends), authorize-security-group-ingress with the CLI's own
// --protocol/--port/--cidr shorthand, and the `aws ec2 wait` waiters for VPCs, subnets and groups.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
} from '@aws-sdk/client-ec2';
import { startTestDaemon, type TestDaemon } from '../../testing/test-daemon.ts';

let strata: TestDaemon;

before(async () => {
  strata = await startTestDaemon();
});
after(() => strata.close());

async function aws(...args: string[]): Promise<unknown> {
  const { stdout } = await promisify(execFile)(
    'aws',
    ['ec2', ...args, '--endpoint-url', strata.endpoint, '--output', 'json'],
    {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: strata.admin.accessKeyId,
        AWS_SECRET_ACCESS_KEY: strata.admin.secretAccessKey,
        AWS_DEFAULT_REGION: strata.region,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      },
      timeout: 60_000,
    },
  );
  return stdout.trim() === '' ? undefined : (JSON.parse(stdout) as unknown);
}

// Each CLI run costs a Python start (1-2 s of CPU), so the SDK makes what the CLI only needs to see.
test('the AWS CLI finds the default VPC, opens a port with its shorthand, and its waiters succeed', async () => {
  const found = (await aws('describe-vpcs', '--filters', 'Name=isDefault,Values=true')) as {
    Vpcs: { VpcId: string; CidrBlock: string; IsDefault: boolean }[];
  };
  assert.equal(found.Vpcs.length, 1);
  assert.equal(found.Vpcs[0]!.CidrBlock, '172.31.0.0/16');
  assert.equal(found.Vpcs[0]!.IsDefault, true);

  const sdk = strata.ec2();
  const vpc = (await sdk.send(new CreateVpcCommand({ CidrBlock: '10.50.0.0/16' }))).Vpc!.VpcId!;
  const subnet = (await sdk.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.50.3.0/24' }))).Subnet!
    .SubnetId!;
  const group = (
    await sdk.send(new CreateSecurityGroupCommand({ GroupName: 'cli-ssh', Description: 'ssh', VpcId: vpc }))
  ).GroupId!;
  await aws('wait', 'vpc-available', '--vpc-ids', vpc);
  await aws('wait', 'subnet-available', '--subnet-ids', subnet);
  await aws('wait', 'security-group-exists', '--group-ids', group);

  const authorized = (await aws(
    'authorize-security-group-ingress',
    '--group-id',
    group,
    '--protocol',
    'tcp',
    '--port',
    '22',
    '--cidr',
    '0.0.0.0/0',
  )) as { Return: boolean; SecurityGroupRules: { SecurityGroupRuleId: string; FromPort: number }[] };
  assert.equal(authorized.Return, true);
  assert.match(authorized.SecurityGroupRules[0]!.SecurityGroupRuleId, /^sgr-/);

  // What the CLI wrote is what the SDK reads back.
  const described = await sdk.send(new DescribeSecurityGroupsCommand({ GroupIds: [group] }));
  const permission = described.SecurityGroups?.[0]?.IpPermissions?.[0];
  assert.deepEqual(
    [permission?.IpProtocol, permission?.FromPort, permission?.ToPort, permission?.IpRanges?.[0]?.CidrIp],
    ['tcp', 22, 22, '0.0.0.0/0'],
  );
});
