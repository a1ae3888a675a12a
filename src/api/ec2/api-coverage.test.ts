import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ec2Sdk from '@aws-sdk/client-ec2';
import * as ebsSdk from '@aws-sdk/client-ebs';
import {
  coveragePath,
  ebsDirectActions,
  plannedEc2Actions,
  renderCoverage,
} from '../../../scripts/api-coverage.ts';
import { ec2Actions } from './registry.ts';

test('every action name, implemented or planned, is a real AWS operation', () => {
  for (const name of [...ec2Actions.map((action) => action.name), ...plannedEc2Actions]) {
    assert.ok(`${name}Command` in ec2Sdk, `${name} is not an EC2 operation`);
  }
  for (const name of ebsDirectActions)
    assert.ok(`${name}Command` in ebsSdk, `${name} is not an EBS operation`);
});

test('docs/api-coverage.md matches the action registry (regenerate: npx tsx scripts/api-coverage.ts)', () => {
  const generated = renderCoverage();
  for (const action of ec2Actions)
    assert.ok(generated.includes(`| ${action.name} | ${action.status} |`), action.name);
  assert.equal(readFileSync(coveragePath, 'utf8'), generated);
});
