// `strata image demo --output FILE`: builds the bootable demo image (src/compute/image/demo-image.ts).
// `strata image import --instance-store FILE`: registers an instance-store AMI from a disk image. It runs on
// the daemon's host: `qemu-img convert` writes FILE (raw, qcow2, vmdk …) as qcow2 into
// `<data-dir>/images/import-<uuid>.qcow2`, then RegisterImage through the EC2 API (credentials and endpoint
// as `strata snapshot upload` finds them) with that file name as ImageLocation; the daemon renames it to
// `<ami-id>.qcow2` (cloud/images/instance-store-images.ts). A failed registration removes the file.
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { EC2Client, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { buildDemoImage } from '../compute/image/demo-image.ts';
import { runTool } from '../compute/run-tool.ts';
import { imagesDir } from '../cloud/images/instance-store-images.ts';
import { dataDirOption } from '../daemon/daemon-config.ts';
import { ebsClientFor } from './snapshot.ts';

/** `strata image import`'s flags. */
interface ImportFlags {
  instanceStore?: boolean;
  name?: string;
  description?: string;
  endpointUrl?: string;
  profile?: string;
  dataDir: string;
}

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
  image
    .command('import <file>')
    .description(
      'register a disk image (raw, qcow2, vmdk …) as an AMI; prints its id (run on the daemon host)',
    )
    .option('--instance-store', 'the root disk is a local copy-on-write of the image (required for now)')
    .option('--name <name>', 'AMI name (default: the file name)')
    .option('--description <text>', 'AMI description')
    .option('--endpoint-url <url>', 'API endpoint (default: <data-dir>/config of the local daemon)')
    .option('--profile <name>', 'AWS profile (default: the standard AWS chain, else <data-dir>/credentials)')
    .addOption(dataDirOption())
    .action(async (file: string, flags: ImportFlags) => {
      if (flags.instanceStore !== true) {
        console.error('strata image import: only --instance-store images can be imported for now');
        process.exitCode = 2;
        return;
      }
      try {
        console.log(await importInstanceStoreImage(file, flags));
      } catch (error) {
        console.error(`strata image import: ${(error as Error).message}`);
        process.exitCode = 1;
      }
    });
}

/** Converts `file` into the data dir's images folder and registers it; returns the AMI id. */
export async function importInstanceStoreImage(file: string, flags: ImportFlags): Promise<string> {
  const dir = imagesDir(resolve(flags.dataDir));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const location = `import-${randomUUID()}.qcow2`;
  const target = join(dir, location);
  const ec2 = ec2ClientFor(flags);
  try {
    await runTool('qemu-img', ['convert', '-O', 'qcow2', file, target], { timeoutMs: 30 * 60_000 });
    const out = await ec2.send(
      new RegisterImageCommand({
        Name: flags.name ?? file.split('/').pop(),
        Description: flags.description,
        ImageLocation: location,
        RootDeviceName: '/dev/sda1',
        Architecture: 'x86_64',
        VirtualizationType: 'hvm',
      }),
    );
    return out.ImageId ?? '';
  } finally {
    // Registered: the daemon renamed it away. Not registered: it must not linger.
    await rm(target, { force: true });
    ec2.destroy();
  }
}

/** An EC2 client with the same endpoint, region and credentials `strata snapshot` would use. */
function ec2ClientFor(flags: ImportFlags): EC2Client {
  const ebs = ebsClientFor({ ...flags, concurrency: '1' });
  const { endpoint, region, credentials } = ebs.config;
  const client = new EC2Client({ endpoint, region, credentials });
  ebs.destroy();
  return client;
}
