import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import sshpk from 'sshpk';
import { createKeyMaterial, importKeyMaterial } from './key-material.ts';

test('an imported key reads the same as base64 (as the API sends it) and as pasted text', () => {
  const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
  const line = sshpk.parseKey(pem, 'pem').toString('ssh');
  const encoded = importKeyMaterial(Buffer.from(line).toString('base64'), 'k');
  assert.deepEqual(importKeyMaterial(line, 'k'), encoded);
  assert.deepEqual(importKeyMaterial(Buffer.from(pem).toString('base64'), 'k'), encoded, 'PEM works too');
  assert.match(encoded.publicKey, /^ssh-ed25519 \S+ k$/);
  assert.throws(() => importKeyMaterial('', 'k'), /OpenSSH public key format/);
  assert.throws(() => importKeyMaterial(Buffer.alloc(9000, 65).toString('base64'), 'k'), /OpenSSH/);
});

test('created keys: the public key is the private key half, named, with the fingerprint of its type', async () => {
  for (const type of ['rsa', 'ed25519'] as const) {
    const created = await createKeyMaterial(type, 'named');
    const format = type === 'rsa' ? 'pem' : 'ssh-private';
    const derived = sshpk
      .parsePrivateKey(created.privateKey, format)
      .toPublic()
      .toString('ssh')
      .split(' ')[1];
    assert.equal(created.publicKey, `ssh-${type} ${derived} named`);
    assert.match(
      created.fingerprint,
      type === 'rsa' ? /^([0-9a-f]{2}:){19}[0-9a-f]{2}$/ : /^[A-Za-z0-9+/]{43}=$/,
    );
  }
});
