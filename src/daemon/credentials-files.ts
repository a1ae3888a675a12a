// Writes `<data-dir>/credentials` and `<data-dir>/config` in the AWS shared-file format (profile `strata`),
// so `AWS_SHARED_CREDENTIALS_FILE=<dd>/credentials AWS_CONFIG_FILE=<dd>/config aws --profile strata …` works.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyPair } from '../cloud/common/accounts.ts';

/** The profile name Strata writes. */
export const profileName = 'strata';

/** Paths of the two files in `dataDir`. */
export function credentialsPaths(dataDir: string): { credentials: string; config: string } {
  return { credentials: join(dataDir, 'credentials'), config: join(dataDir, 'config') };
}

/** (Re)writes the `strata` profile in both files atomically, mode 0600, keeping any other profiles there. */
export function writeCredentialsFiles(dataDir: string, key: KeyPair, region: string, endpoint: string): void {
  writeProfile(dataDir, profileSections(profileName, key, region, endpoint));
}

/** Adds (or replaces) one profile in `<dataDir>/credentials` and `<dataDir>/config`, keeping the others. */
export function writeProfile(dataDir: string, sections: { credentials: string; config: string }): void {
  const paths = credentialsPaths(dataDir);
  writeAtomic(paths.credentials, withSection(readOrEmpty(paths.credentials), sections.credentials));
  writeAtomic(paths.config, withSection(readOrEmpty(paths.config), sections.config));
}

/** One profile as the two files spell it: `[NAME]` with the keys, and `[profile NAME]` with region and endpoint. */
export function profileSections(
  name: string,
  key: Pick<KeyPair, 'accessKeyId' | 'secretAccessKey'>,
  region: string,
  endpoint: string,
): { credentials: string; config: string } {
  return {
    credentials: `[${name}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`,
    // endpoint_url is read by AWS CLI v2.13+/botocore 1.31+; older CLIs need --endpoint-url.
    config: `[profile ${name}]\nregion = ${region}\nendpoint_url = ${endpoint}\noutput = json\n`,
  };
}

/** Adds `section` (starting with its `[header]` line) to `text`, replacing a section of the same header. */
export function withSection(text: string, section: string): string {
  const header = section.slice(0, section.indexOf('\n'));
  const kept: string[] = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('[')) skipping = line.trim() === header;
    if (!skipping) kept.push(line);
  }
  const rest = kept.join('\n').trim();
  return rest === '' ? section : `${section}\n${rest}\n`;
}

/** The endpoint_url and region of the `strata` profile in `<dataDir>/config`, or undefined without one. */
export function strataProfileSettings(dataDir: string): { region: string; endpoint: string } | undefined {
  const config = readOrEmpty(credentialsPaths(dataDir).config);
  const section = new RegExp(`^\\[profile ${profileName}\\]\\n((?:[^[].*\\n?)*)`, 'm');
  const text = section.exec(config)?.[1] ?? '';
  const region = /^region = (.+)$/m.exec(text)?.[1];
  const endpoint = /^endpoint_url = (.+)$/m.exec(text)?.[1];
  return region === undefined || endpoint === undefined ? undefined : { region, endpoint };
}

// By a rename, so a reader never sees half a file.
function writeAtomic(path: string, content: string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, path);
}

function readOrEmpty(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}
