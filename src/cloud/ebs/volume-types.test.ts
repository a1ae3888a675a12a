import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudError as ApiError } from '../errors.ts';
import { parseVolumeType, resolvePerformance, type VolumeType } from './volume-types.ts';

const code = (c: string) => (e: unknown) => e instanceof ApiError && e.code === c;
const perf = (type: VolumeType, sizeGiB: number, iops?: number, throughput?: number) =>
  resolvePerformance({ type, sizeGiB, iops, throughput });

test('defaults: gp2 3 IOPS/GiB within 100..16000, gp3 3000 IOPS and 125 MiB/s', () => {
  assert.deepEqual(perf('gp2', 8), { iops: 100, throughput: null });
  assert.deepEqual(perf('gp2', 1000), { iops: 3000, throughput: null });
  assert.deepEqual(perf('gp2', 16384), { iops: 16000, throughput: null });
  assert.deepEqual(perf('gp3', 1), { iops: 3000, throughput: 125 });
  assert.deepEqual(perf('gp3', 100, 6000, 500), { iops: 6000, throughput: 500 });
  assert.deepEqual(perf('st1', 125), { iops: null, throughput: null });
  assert.equal(parseVolumeType(undefined), 'gp2');
});

test('size ranges per type', () => {
  assert.throws(() => perf('st1', 124), code('InvalidParameterValue'));
  assert.throws(() => perf('sc1', 100), code('InvalidParameterValue'));
  assert.throws(() => perf('gp2', 16385), code('InvalidParameterValue'));
  assert.throws(() => perf('standard', 1025), code('InvalidParameterValue'));
  assert.throws(() => perf('io1', 3, 100), code('InvalidParameterValue'));
  assert.throws(() => perf('gp3', 0), code('InvalidParameterValue'));
});

test('IOPS and throughput rules', () => {
  assert.throws(() => perf('io1', 100), code('MissingParameter'));
  assert.throws(() => perf('io2', 100), code('MissingParameter'));
  assert.equal(perf('io1', 100, 5000).iops, 5000);
  assert.throws(() => perf('io1', 10, 1000), code('InvalidParameterValue'));
  assert.throws(() => perf('gp2', 10, 300), code('InvalidParameterCombination'));
  assert.throws(() => perf('gp2', 10, undefined, 200), code('InvalidParameterCombination'));
  assert.throws(() => perf('gp3', 100, 2999), code('InvalidParameterValue'));
  assert.throws(() => perf('gp3', 100, 3000, 1001), code('InvalidParameterValue'));
  assert.throws(() => perf('gp3', 100, 3000, 1000), code('InvalidParameterValue'));
  assert.throws(() => parseVolumeType('gp9'), code('UnknownVolumeType'));
});
