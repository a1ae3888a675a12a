// `strata account`: manage accounts. Talks to the database directly (SQLite file or --database URL) with the
// data dir's master key, so it works whether or not the daemon is running; the daemon sees new accounts at once.
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { AccountError, Accounts } from '../cloud/common/accounts.ts';
import { SecretBox } from '../cloud/common/accounts-secrets.ts';
import { openDatabase } from '../db/database.ts';
import { dataDirOption, databaseLocation, databaseOption, defaultListen } from '../daemon/daemon-config.ts';
import {
  credentialsPaths,
  profileSections,
  strataProfileSettings,
  writeProfile,
} from '../daemon/credentials-files.ts';
import { defaultRegion } from '../cloud/common/regions.ts';

interface AccountFlags {
  dataDir: string;
  database?: string;
  json?: boolean;
  write?: boolean;
}

// Where a daemon with default flags answers, for a data dir whose config file is gone.
const defaultEndpoint = `http://${defaultListen}`;

/** Registers `strata account`. */
export function registerAccount(program: Command): void {
  const account = program.command('account').description('manage accounts and their access keys');
  account
    .command('create <name>')
    .description('create an account and print its access key (shown only once)')
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON instead of the two profile sections')
    .option(
      '--write',
      'also add the profile to <data-dir>/credentials and <data-dir>/config (the files the daemon writes)',
    )
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
        printProfile(resolve(flags.dataDir), name, created.id, key, flags.write === true);
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

// Both halves of a working profile: a credentials section alone fails with "You must specify a region".
function printProfile(
  dataDir: string,
  name: string,
  accountId: string,
  key: { accessKeyId: string; secretAccessKey: string },
  write: boolean,
): void {
  const settings = strataProfileSettings(dataDir) ?? { region: defaultRegion, endpoint: defaultEndpoint };
  const sections = profileSections(name, key, settings.region, settings.endpoint);
  const paths = credentialsPaths(dataDir);
  if (write) writeProfile(dataDir, sections);
  const verb = write ? 'added to' : 'for';
  console.log(`# account ${accountId} (${name}): the secret key is shown only now`);
  console.log(`# ${verb} the credentials file (${write ? paths.credentials : '~/.aws/credentials'}):`);
  console.log(sections.credentials);
  console.log(`# ${verb} the config file (${write ? paths.config : '~/.aws/config'}):`);
  console.log(sections.config);
  console.log(
    `# then: aws --profile ${name} ec2 describe-volumes` +
      (write ? ' (with the exports strata serve printed)' : ''),
  );
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
