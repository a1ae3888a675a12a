// `strata doctor`: placeholder until its owner lands it.
import type { Command } from 'commander';

/** Registers `strata doctor`. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('not implemented yet')
    .action(() => {
      console.error('strata doctor: not implemented yet');
      process.exitCode = 2;
    });
}
