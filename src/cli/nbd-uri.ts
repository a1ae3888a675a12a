// `strata nbd-uri`: placeholder until its owner lands it.
import type { Command } from 'commander';

/** Registers `strata nbd-uri`. */
export function registerNbdUri(program: Command): void {
  program
    .command('nbd-uri')
    .description('not implemented yet')
    .action(() => {
      console.error('strata nbd-uri: not implemented yet');
      process.exitCode = 2;
    });
}
