// One suite, run against every dialect: SQLite always, PostgreSQL when STRATA_TEST_PG_URL is set.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import { openDatabase } from './database.ts';
import type { OpenDatabaseOptions } from './database.ts';
import { migrations } from './migrations/migrations.ts';
import { Accounts, AccountError } from '../cloud/common/accounts.ts';
import { SecretBox } from '../cloud/common/accounts-secrets.ts';
import { createPgDatabase, postgresSkipReason, startTestDaemon } from '../api/testing/test-daemon.ts';

interface Variant {
  readonly name: string;
  readonly skip: string | undefined;
  /** A fresh empty database and how to dispose of it. */
  create(): Promise<{ options: OpenDatabaseOptions; dispose(): Promise<void> }>;
}

const variants: Variant[] = [
  {
    name: 'sqlite',
    skip: undefined,
    create: () => {
      const dir = mkdtempSync(join(tmpdir(), 'strata-db-'));
      return Promise.resolve({
        options: { sqlitePath: join(dir, 'strata.db') },
        dispose: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
      });
    },
  },
  {
    name: 'postgres',
    skip: postgresSkipReason(),
    create: async () => {
      const database = await createPgDatabase();
      return { options: { url: database.url }, dispose: database.drop };
    },
  },
];

for (const variant of variants) {
  describe(`database on ${variant.name}`, { skip: variant.skip }, () => {
    test('migrations run at open, once', async () => {
      const { options, dispose } = await variant.create();
      try {
        for (let open = 0; open < 2; open++) {
          const database = await openDatabase(options);
          assert.equal(database.dialect, variant.name);
          const applied = await sql<{
            name: string;
          }>`select name from kysely_migration order by name`.execute(database.db);
          assert.deepEqual(
            applied.rows.map((row) => row.name),
            Object.keys(migrations),
          );
          await database.close();
        }
      } finally {
        await dispose();
      }
    });

    test('accounts: keys sealed at rest, names unique, keys cascade with their account', async () => {
      const { options, dispose } = await variant.create();
      const database = await openDatabase(options);
      try {
        const accounts = new Accounts(database.db, new SecretBox(randomBytes(32)));
        const admin = await accounts.ensureAdmin({
          accessKeyId: 'AKIAADMINADMINADMIN0',
          secretAccessKey: 'admin-secret-0123456789',
        });
        assert.equal(admin.created, true);
        assert.equal((await accounts.ensureAdmin()).key.secretAccessKey, 'admin-secret-0123456789');
        const { account, key } = await accounts.create('carol');
        assert.match(account.id, /^\d{12}$/);
        assert.match(account.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.deepEqual(await accounts.lookupKey(key.accessKeyId), key);
        assert.deepEqual(
          (await accounts.list()).map((row) => [row.name, row.isAdmin]),
          [
            ['admin', true],
            ['carol', false],
          ],
        );
        await assert.rejects(accounts.create('carol'), AccountError);
        const stored = await database.db.selectFrom('access_keys').select('secret_ciphertext').execute();
        for (const row of stored) assert.doesNotMatch(row.secret_ciphertext, /admin-secret|carol/);
        assert.ok(!stored.some((row) => row.secret_ciphertext.includes(key.secretAccessKey)));
        await database.db.deleteFrom('accounts').where('id', '=', account.id).execute();
        assert.equal(await accounts.lookupKey(key.accessKeyId), undefined);
      } finally {
        await database.close();
        await dispose();
      }
    });

    test('a key sealed under one master key does not open under another', async () => {
      const box = new SecretBox(randomBytes(32));
      const sealed = box.seal('s3cret', 'AKIAEXAMPLE');
      assert.equal(box.open(sealed, 'AKIAEXAMPLE'), 's3cret');
      assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'AKIAEXAMPLE'));
      assert.throws(() => box.open(sealed, 'AKIAOTHER'));
    });

    test('a daemon on this database keeps its accounts across restarts', async () => {
      const strata = await startTestDaemon({ postgres: variant.name === 'postgres' });
      try {
        const bob = await strata.createAccount('bob');
        await strata.restart();
        assert.equal(strata.cloud.dbDialect, variant.name);
        const out = await strata.ec2(bob).send(new DescribeRegionsCommand({}));
        assert.equal(out.Regions?.length, 1);
        await strata.ec2().send(new DescribeRegionsCommand({}));
      } finally {
        await strata.close();
      }
    });
  });
}
