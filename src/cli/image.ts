// `strata image`: placeholder until its owner lands it.
import type { Command } from 'commander';

/** Registers `strata image`. */
export function registerImage(program: Command): void {
  program
    .command('image')
    .description('not implemented yet')
    .action(() => {
      console.error('strata image: not implemented yet');
      process.exitCode = 2;
    });
}
