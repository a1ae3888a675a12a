// `strata account`: placeholder until its owner lands it.
import type { Command } from 'commander';

/** Registers `strata account`. */
export function registerAccount(program: Command): void {
  program
    .command('account')
    .description('not implemented yet')
    .action(() => {
      console.error('strata account: not implemented yet');
      process.exitCode = 2;
    });
}
