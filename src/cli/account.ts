// `strata account`: manage accounts. Talks to the database directly (SQLite file or --database URL) with the
// data dir's master key, so it works whether or not the daemon is running; the daemon sees new accounts at once.
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { AccountError, Accounts } from '../cloud/common/accounts.ts';
import { SecretBox } from '../cloud/common/accounts-secrets.ts';
import { openDatabase } from '../db/database.ts';
import { dataDirOption, databaseLocation, databaseOption } from '../daemon/daemon-config.ts';

interface AccountFlags {
  dataDir: string;
  database?: string;
  json?: boolean;
}

/** Registers `strata account`. */
export function registerAccount(program: Command): void {
  const account = program.command('account').description('manage accounts and their access keys');
  account
    .command('create <name>')
    .description('create an account and print its access key (shown only once)')
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON instead of a credentials-file profile')
    .action(async (name: string, flags: AccountFlags) => {
      await withAccounts(flags, async (accounts) => {
        const { account: created, key } = await accounts.create(name);
        if (flags.json === true) {
          console.log(
            JSON.stringify({
              accountId: created.id,
              name,
              accessKeyId: key.accessKeyId,
              secretAccessKey: key.secretAccessKey,
            }),
          );
          return;
        }
        console.log(`# account ${created.id} (${name}); append to a credentials file to use it`);
        console.log(
          `[${name}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}`,
        );
      });
    });
  account
    .command('list')
    .description('list accounts')
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON lines')
    .action(async (flags: AccountFlags) => {
      await withAccounts(flags, async (accounts) => {
        for (const row of await accounts.list()) {
          console.log(
            flags.json === true
              ? JSON.stringify(row)
              : `${row.id}  ${row.name}${row.isAdmin ? '  (admin)' : ''}`,
          );
        }
      });
    });
}

async function withAccounts(flags: AccountFlags, use: (accounts: Accounts) => Promise<void>): Promise<void> {
  const dataDir = resolve(flags.dataDir);
  const masterKey = join(dataDir, 'master.key');
  if (!existsSync(masterKey)) {
    console.error(
      `strata account: ${masterKey} not found: run \`strata serve --data-dir ${flags.dataDir}\` once first`,
    );
    process.exitCode = 1;
    return;
  }
  const database = await openDatabase(databaseLocation(dataDir, flags.database));
  try {
    await use(new Accounts(database.db, SecretBox.openOrCreate(masterKey)));
  } catch (error) {
    if (!(error instanceof AccountError)) throw error;
    console.error(`strata account: ${error.message}`);
    process.exitCode = 1;
  } finally {
    await database.close();
  }
}
