// `strata serve`: placeholder until its owner lands it.
import type { Command } from 'commander';

/** Registers `strata serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('not implemented yet')
    .action(() => {
      console.error('strata serve: not implemented yet');
      process.exitCode = 2;
    });
}
