// `strata nbd-psk ACCOUNT FILE`: writes an account's NBD TLS pre-shared key (mode 0600), for
// `nbdinfo nbds://…?tls-psk-file=FILE` and qemu's tls-creds-psk (which reads DIR/keys.psk).
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadOrCreateKeyFile } from '../base/key-file.ts';
import { Accounts } from '../cloud/common/accounts.ts';
import { SecretBox } from '../cloud/common/accounts-secrets.ts';
import { openDatabase } from '../db/database.ts';
import { dataDirOption, databaseLocation, databaseOption } from '../daemon/daemon-config.ts';
import { NbdPskKeys } from '../daemon/nbd-access.ts';

interface NbdPskFlags {
  dataDir: string;
  database?: string;
}

/** Registers `strata nbd-psk`. */
export function registerNbdPsk(program: Command): void {
  program
    .command('nbd-psk')
    .description("write an account's PSK for NBD over TLS (--nbd-listen) to FILE, mode 0600")
    .argument('<account>', 'account name or 12-digit id')
    .argument('<file>', 'where to write it (for qemu: DIR/keys.psk)')
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (account: string, file: string, flags: NbdPskFlags) => {
      try {
        const written = await writePsk(account, resolve(file), flags);
        console.log(`wrote the NBD PSK of account ${written.id} (${written.name}) to ${resolve(file)}`);
        console.log(`use: strata nbd-uri vol-… --tcp HOST:PORT --psk-file ${resolve(file)}`);
      } catch (error) {
        console.error(`strata nbd-psk: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
      }
    });
}

async function writePsk(
  account: string,
  file: string,
  flags: NbdPskFlags,
): Promise<{ id: string; name: string }> {
  const dataDir = resolve(flags.dataDir);
  const masterKeyPath = join(dataDir, 'master.key');
  if (!existsSync(masterKeyPath))
    throw new Error(
      `${masterKeyPath} not found: run \`strata serve --data-dir ${flags.dataDir}\` once first`,
    );
  const masterKey = loadOrCreateKeyFile(masterKeyPath);
  const database = await openDatabase(databaseLocation(dataDir, flags.database));
  try {
    const accounts = await new Accounts(database.db, new SecretBox(masterKey)).list();
    const found = accounts.find((row) => row.id === account || row.name === account);
    if (found === undefined) throw new Error(`no account named or numbered ${account}`);
    // Created 0600, and restricted again in case the file already existed with a wider mode.
    writeFileSync(file, new NbdPskKeys(masterKey).pskFileLine(found.id), { mode: 0o600 });
    chmodSync(file, 0o600);
    return found;
  } finally {
    await database.close();
  }
}
