// `strata nbd-uri ID`: prints the URI qemu-img, nbdcopy and nbdinfo take for a volume or snapshot.
import { join, resolve } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { isValidId } from '../base/ids.ts';
import { dataDirOption, parseListenAddress } from '../daemon/daemon-config.ts';
import { nbdUri } from '../nbd/nbd-server.ts';

interface NbdUriFlags {
  dataDir: string;
  tcp?: string;
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
    .addOption(
      new Option(
        '--tcp <host:port>',
        "the daemon's --nbd-listen address, for a nbd:// URI instead of the unix socket",
      ),
    )
    .action((id: string, flags: NbdUriFlags) => {
      if (!isValidId(id, 'vol') && !isValidId(id, 'snap')) {
        console.error(`strata nbd-uri: expected a volume or snapshot id (vol-… or snap-…): got ${id}`);
        process.exitCode = 2;
        return;
      }
      const endpoint = flags.tcp
        ? parseListenAddress(flags.tcp, '--tcp')
        : { socketPath: join(resolve(flags.dataDir), 'nbd.sock') };
      console.log(nbdUri(id, endpoint));
    });
}
