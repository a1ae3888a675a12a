// Writes `<data-dir>/credentials` and `<data-dir>/config` in the AWS shared-file format (profile `strata`),
// so `AWS_SHARED_CREDENTIALS_FILE=<dd>/credentials AWS_CONFIG_FILE=<dd>/config aws --profile strata …` works.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyPair } from '../cloud/common/accounts.ts';

/** The profile name Strata writes. */
export const profileName = 'strata';

/** Paths of the two files in `dataDir`. */
export function credentialsPaths(dataDir: string): { credentials: string; config: string } {
  return { credentials: join(dataDir, 'credentials'), config: join(dataDir, 'config') };
}

/** (Re)writes both files atomically, mode 0600; `endpoint` is the API URL clients should use. */
export function writeCredentialsFiles(dataDir: string, key: KeyPair, region: string, endpoint: string): void {
  const paths = credentialsPaths(dataDir);
  writeAtomic(
    paths.credentials,
    `[${profileName}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`,
  );
  // endpoint_url is read by AWS CLI v2.13+/botocore 1.31+; older CLIs need --endpoint-url.
  writeAtomic(
    paths.config,
    `[profile ${profileName}]\nregion = ${region}\nendpoint_url = ${endpoint}\noutput = json\n`,
  );
}

function writeAtomic(path: string, content: string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, path);
}
