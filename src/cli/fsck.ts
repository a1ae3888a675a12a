// `strata fsck`: checks the block store pool offline (stop the daemon first), like thin_check.
import { join } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { fsckPool } from '../storage/open-block-store.ts';
import { dataDirOption } from '../daemon/daemon-config.ts';

interface FsckFlags {
  dataDir: string;
  repair?: boolean;
  json?: boolean;
}

/** Registers `strata fsck`. */
export function registerFsck(program: Command): void {
  program
    .command('fsck')
    .description('check the block store pool (<data-dir>/pool) offline; exits non-zero on any inconsistency')
    .addOption(dataDirOption())
    .addOption(
      new Option('--repair', 'return leaked extents to the free list (never touches referenced data)'),
    )
    .addOption(new Option('--json', 'print the report as JSON'))
    .action(async (flags: FsckFlags) => {
      const dir = join(flags.dataDir, 'pool');
      const report = await fsckPool(dir, { repair: flags.repair === true });
      if (flags.json === true) {
        console.log(JSON.stringify(report, null, 2));
      } else {
        const s = report.stats;
        console.log(
          `pool ${dir}: extent ${s.extentBytes} bytes, ${s.ownedExtents} used + ${s.freeExtents} free of ${s.highWater} touched, capacity ${s.capacityExtents} extents`,
        );
        console.log(`${s.lineages} lineages, ${s.devices} devices, ${s.mappings} mappings`);
        for (const line of report.repaired) console.log(`repaired: ${line}`);
        for (const line of report.notes) console.log(`note: ${line}`);
        for (const line of report.problems) console.log(`PROBLEM: ${line}`);
        console.log(report.ok ? 'clean' : `${report.problems.length} problems`);
      }
      process.exitCode = report.ok ? 0 : 1;
    });
}
