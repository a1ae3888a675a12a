// `strata nbd-uri ID`: prints the URI qemu-img, nbdcopy and nbdinfo take for a volume or snapshot.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { isValidId } from '../base/ids.ts';
import { dataDirOption, parseListenAddress } from '../daemon/daemon-config.ts';
import { nbdUri } from '../nbd/nbd-server.ts';
import type { NbdClientTls } from '../nbd/nbd-server.ts';

interface NbdUriFlags {
  dataDir: string;
  tcp?: string;
  pskFile?: string;
  tlsCertificates?: string;
}

/** Registers `strata nbd-uri`. */
export function registerNbdUri(program: Command): void {
  program
    .command('nbd-uri')
    .description(
      'print the NBD URI of a volume (read-write) or snapshot (read-only) for qemu-img, nbdcopy, nbdinfo',
    )
    .argument('<id>', 'volume or snapshot id (vol-… or snap-…)')
    .addOption(dataDirOption())
    .addOption(
      new Option(
        '--tcp <host:port>',
        "the daemon's --nbd-listen address, for a nbd:// URI instead of the unix socket",
      ),
    )
    .addOption(
      new Option(
        '--psk-file <file>',
        'with --tcp: a nbds:// URI authenticated by this PSK file (strata nbd-psk)',
      ),
    )
    .addOption(
      new Option(
        '--tls-certificates <dir>',
        'with --tcp: a nbds:// URI authenticated by ca-cert.pem, client-cert.pem, client-key.pem in DIR',
      ),
    )
    .action((id: string, flags: NbdUriFlags) => {
      try {
        console.log(uriFor(id, flags));
      } catch (error) {
        console.error(`strata nbd-uri: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 2;
      }
    });
}

function uriFor(id: string, flags: NbdUriFlags): string {
  if (!isValidId(id, 'vol') && !isValidId(id, 'snap'))
    throw new Error(`expected a volume or snapshot id (vol-… or snap-…): got ${id}`);
  if (flags.tcp === undefined) {
    if (flags.pskFile !== undefined || flags.tlsCertificates !== undefined)
      throw new Error('--psk-file and --tls-certificates need --tcp (the unix socket has no TLS)');
    return nbdUri(id, { socketPath: join(resolve(flags.dataDir), 'nbd.sock') });
  }
  return nbdUri(id, parseListenAddress(flags.tcp, '--tcp'), clientTls(flags));
}

function clientTls(flags: NbdUriFlags): NbdClientTls | undefined {
  if (flags.pskFile !== undefined && flags.tlsCertificates !== undefined)
    throw new Error('give --psk-file or --tls-certificates, not both');
  if (flags.tlsCertificates !== undefined) return { certificatesDir: resolve(flags.tlsCertificates) };
  if (flags.pskFile === undefined) return undefined;
  const pskFile = resolve(flags.pskFile);
  // The identity goes in the URI's user part; libnbd would otherwise send the local login name.
  const identity = /^([^:\s]+):[0-9a-fA-F]+$/m.exec(readFileSync(pskFile, 'utf8'))?.[1];
  if (identity === undefined) throw new Error(`${pskFile} holds no "identity:hexkey" line`);
  return { pskFile, identity };
}
