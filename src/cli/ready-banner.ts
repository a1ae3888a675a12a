// The block `strata serve` prints once it answers: where the API is and how to point the AWS CLI at it, so
// nobody has to dig the endpoint out of the JSON log lines. On stdout; the log stays on stderr.
import { resolve } from 'node:path';
import { credentialsPaths, profileName } from '../daemon/credentials-files.ts';

/**
 * The lines of the block for a daemon answering at `endpoint` with its data in `dataDir`; `consoleUrl`, once
 * the web console exists, gets its own line after the endpoint.
 */
export function readyBanner(endpoint: string, dataDir: string, consoleUrl?: string): string[] {
  const paths = credentialsPaths(resolve(dataDir));
  return [
    '',
    `strata is ready: EC2 and EBS direct APIs on ${endpoint}`,
    ...(consoleUrl === undefined ? [] : [`Web console: ${consoleUrl}`]),
    'In another shell:',
    `  export AWS_SHARED_CREDENTIALS_FILE=${paths.credentials} AWS_CONFIG_FILE=${paths.config} AWS_PROFILE=${profileName}`,
    `  aws --endpoint-url ${endpoint} ec2 describe-availability-zones`,
    'Stop it with Ctrl-C (SIGINT) or SIGTERM.',
    '',
  ];
}
