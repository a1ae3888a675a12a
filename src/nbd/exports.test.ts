import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ExportRegistry } from './exports.ts';
import { ExportLockError } from './nbd-server.ts';
import { MemoryBlockStore } from './testing/memory-store.ts';

test('secret export names derive from the key: a restarted server with the same key gives the same name', async () => {
  const store = new MemoryBlockStore();
  await store.createVolume('vol-00000000000000001', 1 << 20);
  const key = randomBytes(32);
  const first = new ExportRegistry(store, key).lock('vol-00000000000000001', 'instance i-1');
  const again = new ExportRegistry(store, key).lock('vol-00000000000000001', 'instance i-1');
  assert.equal(again.secretExportName, first.secretExportName);
  assert.match(first.secretExportName, /^vol-00000000000000001\.attachment-[0-9a-f]{32}$/);

  const otherOwner = new ExportRegistry(store, key).lock('vol-00000000000000001', 'instance i-2');
  assert.notEqual(otherOwner.secretExportName, first.secretExportName);
  const otherKey = new ExportRegistry(store, randomBytes(32)).lock('vol-00000000000000001', 'instance i-1');
  assert.notEqual(otherKey.secretExportName, first.secretExportName);
});

test('a locked volume opens only through its secret name', async () => {
  const store = new MemoryBlockStore();
  await store.createVolume('vol-00000000000000002', 1 << 20);
  const registry = new ExportRegistry(store, randomBytes(32));
  const lock = registry.lock('vol-00000000000000002', 'instance i-1');
  const plain = registry.resolve('vol-00000000000000002');
  assert.ok('reason' in plain && plain.reason === 'policy');
  assert.match(plain.message, /attached to instance i-1/);
  const secret = registry.resolve(lock.secretExportName);
  assert.ok('device' in secret && secret.device.id === 'vol-00000000000000002');
  assert.throws(() => registry.lock('vol-00000000000000002', 'instance i-2'), ExportLockError);
  registry.unlock('vol-00000000000000002');
  assert.ok('device' in registry.resolve('vol-00000000000000002'));
  assert.ok('reason' in registry.resolve(lock.secretExportName));
});
