// `strata image demo --output FILE`: builds the bootable demo image (src/compute/image/demo-image.ts).
// Later sessions upload it as a snapshot and register the AMI `strata-demo`.
import type { Command } from 'commander';
import { buildDemoImage } from '../compute/image/demo-image.ts';

/** Registers `strata image`. */
export function registerImage(program: Command): void {
  const image = program.command('image').description('build machine images');
  image
    .command('demo')
    .description('build the tiny bootable demo Linux image (raw, sparse) from the host kernel and busybox')
    .requiredOption('-o, --output <file>', 'where to write the raw image (overwritten)')
    .option('--size-gib <n>', 'image size in GiB (whole GiB, like EBS volumes)', '1')
    .action(async (options: { output: string; sizeGib: string }) => {
      const sizeGiB = Number(options.sizeGib);
      if (!Number.isInteger(sizeGiB) || sizeGiB < 1 || sizeGiB > 1024) {
        console.error(
          `strata image demo: --size-gib must be a whole number from 1 to 1024: got ${options.sizeGib}`,
        );
        process.exitCode = 2;
        return;
      }
      const started = Date.now();
      const { sizeBytes } = await buildDemoImage({ output: options.output, sizeGiB });
      console.log(
        `${options.output}: ${sizeBytes} bytes (${sizeGiB} GiB, sparse), built in ${Date.now() - started} ms`,
      );
    });
}
