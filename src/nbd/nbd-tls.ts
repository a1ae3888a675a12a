// NBD_OPT_STARTTLS: upgrading a handshake socket to TLS and learning who the client is.
//
// Two ways to authenticate, each naming an identity that the server's authoriser maps to exports:
// - TLS-PSK (RFC 4279; what `nbdinfo nbds://ID@host/…?tls-psk-file=` and qemu's tls-creds-psk send): the
//   identity is the PSK username, and the key is whatever `pskFor(identity)` says; a wrong key fails the
//   TLS handshake itself.
// - x509 with client certificates (libnbd's tls-certificates=DIR, qemu's tls-creds-x509): the client's
//   certificate must chain to `ca`, and its subject CN is the identity.
// gnutls (libnbd, qemu) and OpenSSL (Node) negotiate TLS 1.3 both ways (nbd-tls.test.ts runs both real
// clients against this); TLS 1.2 suites stay offered for older clients.
import { createSecureContext, TLSSocket } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Socket } from 'node:net';
import { assert } from '../base/assert.ts';
import type { NbdTlsOptions } from './nbd-server.ts';

/** Why a TLS upgrade failed (bad key, no certificate, garbage instead of a ClientHello). */
export class TlsUpgradeError extends Error {
  override readonly name = 'TlsUpgradeError';
}

// PSK suites are off in OpenSSL's default list; name them, plus the certificate suites we accept. TLS 1.3
// offers only SHA-256 suites: OpenSSL's PSK callback makes SHA-256 sessions, so with a SHA-384 suite chosen
// it would drop the client's PSK and ask for a certificate ("Insufficient credentials" at gnutls).
const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-PSK-CHACHA20-POLY1305',
  'ECDHE-PSK-AES256-CBC-SHA384',
  'ECDHE-PSK-AES128-CBC-SHA256',
  'PSK-AES256-GCM-SHA384',
  'PSK-AES128-GCM-SHA256',
  'PSK-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');
// A PSK shorter than this is refused: the derived keys are 32 bytes, and a short one is guessable offline.
const PSK_BYTES_MIN = 16;

/** A listener's TLS context, built once. */
export class NbdTls {
  readonly #options: NbdTlsOptions;
  readonly #context: SecureContext;
  readonly #authorities: readonly X509Certificate[];

  constructor(options: NbdTlsOptions) {
    assert(options.pskFor !== undefined || options.x509 !== undefined, 'NbdTls: neither PSK nor x509');
    this.#options = options;
    this.#authorities = options.x509 === undefined ? [] : parseCertificates(options.x509.ca);
    assert(
      options.x509 === undefined || this.#authorities.length > 0,
      'NbdTls: no certificate in the CA PEM',
    );
    this.#context = createSecureContext({
      minVersion: 'TLSv1.2',
      ciphers: CIPHERS,
      // OpenSSL treats a TLS 1.3 PSK like a resumed session, which needs this when client certificates are
      // requested too (else "session id context uninitialized"); tls.createServer sets it, TLSSocket not.
      sessionIdContext: 'strata-nbd',
      ...(options.x509 !== undefined
        ? { cert: options.x509.cert, key: options.x509.key, ca: options.x509.ca }
        : {}),
    });
  }

  /**
   * Runs the server side of a TLS handshake over `socket` (which must have no unread data) and resolves
   * with the encrypted socket and the client's identity; rejects with TlsUpgradeError.
   */
  async upgrade(socket: Socket): Promise<{ socket: TLSSocket; identity: string }> {
    assert(socket.readableLength === 0, 'upgrade: unread plaintext left on the socket');
    let pskIdentity: string | null = null;
    const pskFor = this.#options.pskFor;
    const x509 = this.#options.x509 !== undefined;
    const secure = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.#context,
      requestCert: x509,
      rejectUnauthorized: false,
      ...(pskFor !== undefined
        ? {
            pskCallback: (_socket: TLSSocket, identity: string): Buffer | null => {
              const key = pskFor(identity);
              if (key === null || key.length < PSK_BYTES_MIN) return null;
              pskIdentity = identity;
              return key;
            },
          }
        : {}),
    });
    // Peers vanish and send garbage; that ends the socket ('close' follows) and is never a server error.
    secure.on('error', () => {});
    await settled(secure);
    if (pskIdentity !== null) return { socket: secure, identity: pskIdentity };
    return { socket: secure, identity: certificateIdentity(secure, this.#authorities) };
  }
}

// Resolves once the TLS handshake is done; rejects (socket destroyed) when it fails or the peer leaves.
function settled(secure: TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error?: Error): void => {
      cleanup();
      secure.destroy();
      reject(new TlsUpgradeError(`TLS handshake failed: ${error?.message ?? 'peer closed'}`));
    };
    const done = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      secure.off('secure', done);
      secure.off('error', fail);
      secure.off('close', fail);
      secure.off('end', fail);
    };
    secure.once('secure', done);
    secure.once('error', fail);
    secure.once('close', fail);
    // The listener allows half-open sockets, so a client that hangs up mid-handshake only sends 'end'.
    secure.once('end', fail);
  });
}

// The subject CN of a client certificate issued and signed by one of `authorities`, within its validity
// dates; throws TlsUpgradeError for anything else. A TLSSocket built by hand (not by tls.Server) never sets
// `authorized`, so the check is done here, with the public X509Certificate API.
function certificateIdentity(secure: TLSSocket, authorities: readonly X509Certificate[]): string {
  const peer = secure.getPeerX509Certificate();
  const refuse = (why: string): never => {
    secure.destroy();
    throw new TlsUpgradeError(`TLS client not authorised: ${why}`);
  };
  if (peer === undefined) return refuse('no PSK and no client certificate');
  if (!authorities.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey)))
    return refuse(`certificate "${peer.subject}" is not signed by the configured CA`);
  const now = Date.now();
  if (Date.parse(peer.validFrom) > now || Date.parse(peer.validTo) < now)
    return refuse(`certificate "${peer.subject}" is outside its validity dates`);
  const commonName = /^CN=(.+)$/m.exec(peer.subject)?.[1];
  if (commonName === undefined) return refuse('certificate has no subject CN to take as its identity');
  return commonName;
}

/** The certificates in a PEM bundle. */
function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/** True for addresses only this host can reach: `localhost`, 127.0.0.0/8 and ::1 (also IPv4-mapped). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const mapped = host.toLowerCase().startsWith('::ffff:') ? host.slice(7) : host;
  if (isIPv4(mapped)) return mapped.split('.')[0] === '127';
  return isIPv6(host) && /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(host);
}
