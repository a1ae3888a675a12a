// `strata fsck`: placeholder until its owner lands it.
import type { Command } from 'commander';

/** Registers `strata fsck`. */
export function registerFsck(program: Command): void {
  program
    .command('fsck')
    .description('not implemented yet')
    .action(() => {
      console.error('strata fsck: not implemented yet');
      process.exitCode = 2;
    });
}
