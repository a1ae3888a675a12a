// TEST-ONLY: TLS material for NBD tests — PSK files and a throwaway CA with server and client certificates,
// laid out as libnbd (tls-certificates=DIR), qemu (tls-creds-x509 dir=DIR) and the server expect.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './harness.ts';

/** Writes `identity:hexkey` as `DIR/keys.psk` (qemu's name; libnbd takes any path); returns the path. */
export async function writePskFile(dir: string, identity: string, key: Buffer): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'keys.psk');
  await writeFile(path, `${identity}:${key.toString('hex')}\n`, { mode: 0o600 });
  return path;
}

/** A CA that signs certificates. */
export interface TestCa {
  readonly dir: string;
  readonly certPem: string;
}

/** A new self-signed CA (ECDSA P-256, valid two days) in `dir`. */
export async function makeCa(dir: string, name: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-keyout', join(dir, 'ca-key.pem'), '-out', join(dir, 'ca-cert.pem'), '-days', '2'],
    ...['-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  return { dir, certPem: await readFile(join(dir, 'ca-cert.pem'), 'utf8') };
}

/**
 * Issues `role`-cert.pem and `role`-key.pem in `into` (plus ca-cert.pem), with subject CN `commonName`;
 * a server certificate also names 127.0.0.1, which the clients check the address against.
 */
export async function issue(
  ca: TestCa,
  into: string,
  role: 'server' | 'client',
  commonName: string,
): Promise<void> {
  await mkdir(into, { recursive: true, mode: 0o700 });
  const key = join(into, `${role}-key.pem`);
  const request = join(into, `${role}.csr`);
  const extensions = join(into, `${role}.ext`);
  await run('openssl', [
    ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-keyout', key, '-out', request, '-subj', `/CN=${commonName}`],
  ]);
  const usage = role === 'server' ? 'serverAuth\nsubjectAltName=IP:127.0.0.1' : 'clientAuth';
  await writeFile(extensions, `keyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n`);
  await run('openssl', [
    ...[
      'x509',
      '-req',
      '-in',
      request,
      '-CA',
      join(ca.dir, 'ca-cert.pem'),
      '-CAkey',
      join(ca.dir, 'ca-key.pem'),
    ],
    ...['-CAcreateserial', '-out', join(into, `${role}-cert.pem`), '-days', '2', '-extfile', extensions],
  ]);
  await writeFile(join(into, 'ca-cert.pem'), ca.certPem);
}
