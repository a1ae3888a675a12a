// `strata nbd-uri ID`: prints the URI qemu-img, nbdcopy and nbdinfo take for a volume or snapshot.
import { existsSync, readFileSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { join, resolve } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { isValidId } from '../base/ids.ts';
import { dataDirOption, databaseOption, parseListenAddress } from '../daemon/daemon-config.ts';
import { nbdUri } from '../nbd/nbd-server.ts';
import type { NbdClientTls } from '../nbd/nbd-server.ts';

interface NbdUriFlags {
  dataDir: string;
  database?: string;
  check: boolean;
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
    .addOption(databaseOption())
    .option('--no-check', 'print the URI without looking the id up in the database')
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
        const uri = uriFor(id, flags);
        const unchecked = checkExists(id, flags);
        if (unchecked !== undefined) console.error(`strata nbd-uri: ${id} was not checked: ${unchecked}`);
        console.log(uri);
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

// Whether the id names a volume or snapshot, read from the SQLite database read-only (a missing one throws);
// returns why it could not be checked instead. Not through openDatabase, which would migrate, and create a
// database in a data dir that has none.
function checkExists(id: string, flags: NbdUriFlags): string | undefined {
  if (!flags.check) return '--no-check';
  if (flags.database !== undefined && flags.database !== '')
    return 'only the SQLite database is read, and --database names another';
  const dataDir = resolve(flags.dataDir);
  const path = join(dataDir, 'strata.db');
  if (!existsSync(path)) {
    if (flags.tcp !== undefined) return `no database in ${dataDir} (the daemon at --tcp may have it)`;
    throw new Error(`no Strata database in ${dataDir}: give the --data-dir that strata serve uses`);
  }
  const database = new SqliteDatabase(path, { readonly: true, fileMustExist: true, timeout: 2_000 });
  try {
    const table = id.startsWith('vol-') ? 'volumes' : 'snapshots';
    const row = database.prepare(`SELECT state FROM ${table} WHERE id = ?`).get(id) as
      { state: string } | undefined;
    if (row === undefined) throw new Error(`${id} does not exist in ${dataDir}`);
    return undefined;
  } finally {
    database.close();
  }
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
