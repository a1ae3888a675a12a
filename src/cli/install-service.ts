// `strata install-service`: writes the systemd unit that runs `strata serve` and restarts it after a crash.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option } from 'commander';
import type { Command } from 'commander';
import { systemdUnit } from '../daemon/systemd-unit.ts';

interface InstallServiceFlags {
  dataDir: string;
  unitDir: string;
  name: string;
  user?: string;
  print?: boolean;
}

const strataBin = fileURLToPath(new URL('../../bin/strata', import.meta.url));

/** Registers `strata install-service`. */
export function registerInstallService(program: Command): void {
  program
    .command('install-service')
    .description('write a systemd unit that runs strata serve and restarts it on failure')
    .argument('[serve-args...]', 'more `strata serve` arguments, after --')
    .addOption(
      new Option('--data-dir <dir>', 'the data directory the service uses').default('/var/lib/strata'),
    )
    .addOption(new Option('--unit-dir <dir>', 'where unit files go').default('/etc/systemd/system'))
    .addOption(new Option('--name <name>', 'unit name, without .service').default('strata'))
    .addOption(new Option('--user <user>', 'run as this user (default root: KVM, networking)'))
    .option('--print', 'print the unit instead of writing it')
    .passThroughOptions()
    .action((serveArgs: string[], flags: InstallServiceFlags) => {
      if (!/^[A-Za-z0-9@._-]+$/.test(flags.name)) {
        console.error(`strata install-service: --name must be a unit name like strata: got ${flags.name}`);
        process.exitCode = 2;
        return;
      }
      const unit = systemdUnit({
        strataBin,
        dataDir: resolve(flags.dataDir),
        // Commander keeps the `--` that separates serve's arguments from ours.
        serveArgs: serveArgs[0] === '--' ? serveArgs.slice(1) : serveArgs,
        path: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        ...(flags.user !== undefined ? { user: flags.user } : {}),
      });
      if (flags.print === true) return void process.stdout.write(unit);
      if (!existsSync(flags.unitDir)) mkdirSync(flags.unitDir, { recursive: true });
      const path = join(resolve(flags.unitDir), `${flags.name}.service`);
      writeFileSync(path, unit, { mode: 0o644 });
      chmodSync(path, 0o644); // systemd wants it world-readable whatever the umask

      console.log(`wrote ${path}`);
      console.log(
        `start it now and at boot: systemctl daemon-reload && systemctl enable --now ${flags.name}`,
      );
    });
}
