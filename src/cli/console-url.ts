// `strata console-url`: prints a one-time sign-in link to the web console for the admin profile. The running
// daemon mints it (through <data-dir>/admin.sock, which only its user can open): it works once, within
// limits.consoleLoginTtlSeconds, and carries a token, never the secret (api/console/console-logins.ts).
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { adminRequest } from '../daemon/admin-socket.ts';
import { dataDirOption } from '../daemon/daemon-config.ts';

/** Registers `strata console-url`. */
export function registerConsoleUrl(program: Command): void {
  program
    .command('console-url')
    .description('print a one-time sign-in link to the web console for the admin (needs the running daemon)')
    .addOption(dataDirOption())
    .action(async (flags: { dataDir: string }) => {
      const socket = join(resolve(flags.dataDir), 'admin.sock');
      try {
        console.log(await adminRequest(socket, { verb: 'console-url' }));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        console.error(
          `strata console-url: ${message} (is \`strata serve --data-dir ${flags.dataDir}\` running?)`,
        );
        process.exitCode = 1;
      }
    });
}
