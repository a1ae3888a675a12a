// `strata serve`: runs the daemon (API, storage, NBD, compute) in the foreground until SIGTERM/SIGINT.
import { Option } from 'commander';
import type { Command } from 'commander';
import { createLogger } from '../base/log.ts';
import type { Hypervisor } from '../cloud/cloud.ts';
import { defaultRegion } from '../cloud/common/regions.ts';
import { startDaemon } from '../daemon/daemon.ts';
import type { DaemonOptions } from '../daemon/daemon.ts';
import { dataDirOption, databaseOption, defaultListen, parseListenAddress } from '../daemon/daemon-config.ts';
import {
  snapshotStoreFromFlags,
  snapshotStoreOptions,
  type SnapshotStoreFlags,
} from './snapshot-store-flags.ts';
import { restoreOptions, restoreSettings, type RestoreFlags } from './restore-flags.ts';
import { readyBanner } from './ready-banner.ts';

interface ServeFlags extends SnapshotStoreFlags, RestoreFlags {
  dataDir: string;
  listen: string;
  database?: string;
  hypervisor: Hypervisor;
  nbdListen?: string;
  nbdTls: 'on' | 'off';
  nbdTlsX509?: string;
  region: string;
  zones?: string;
  logLevel?: string;
  demoImage?: boolean;
  vmsOnShutdown: 'keep' | 'stop';
}

/** Registers `strata serve`. */
export function registerServe(program: Command): void {
  // The common options first, as --help lists them in this order.
  const serveCommand = program.command('serve');
  serveCommand
    .description('run Strata: the EC2/EBS API, block store, NBD server and VMs, in one process')
    .addOption(dataDirOption())
    .addOption(
      new Option('--listen <host:port>', 'HTTP API address (EC2 and EBS direct)')
        .env('STRATA_LISTEN')
        .default(defaultListen),
    )
    .addOption(
      new Option('--hypervisor <kind>', 'VM driver')
        .choices(['qemu', 'fake'])
        .env('STRATA_HYPERVISOR')
        .default('qemu'),
    )
    .addOption(databaseOption())
    .addOption(
      new Option('--region <name>', 'the region this daemon serves')
        .env('STRATA_REGION')
        .default(defaultRegion),
    )
    .addOption(
      new Option('--zones <list>', 'comma-separated availability zones (default <region>a,b,c)').env(
        'STRATA_ZONES',
      ),
    )
    .addOption(
      new Option('--log-level <level>', 'pino level: debug, info, warn, error').env('STRATA_LOG_LEVEL'),
    )
    .addOption(
      new Option('--demo-image', 'register the bootable demo image as the AMI strata-demo (once)').env(
        'STRATA_DEMO_IMAGE',
      ),
    )
    .addOption(
      new Option('--vms-on-shutdown <what>', 'on SIGTERM: keep VMs running for the next daemon, or stop them')
        .choices(['keep', 'stop'])
        .env('STRATA_VMS_ON_SHUTDOWN')
        .default('keep'),
    )
    .addHelpText(
      'after',
      '\nOn first start Strata creates an admin account (keys from STRATA_ADMIN_ACCESS_KEY_ID and\n' +
        'STRATA_ADMIN_SECRET_ACCESS_KEY, or generated) and writes <data-dir>/credentials and <data-dir>/config\n' +
        '(profile "strata"). SIGTERM or SIGINT stops it cleanly.',
    )
    .action(async (flags: ServeFlags) => {
      try {
        await serve(flags);
      } catch (error) {
        // Startup errors are configuration problems (bad flag, port in use): say so without a stack.
        console.error(`strata serve: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      }
    });
  for (const option of [...nbdOptions(), ...snapshotStoreOptions(), ...restoreOptions()])
    serveCommand.addOption(option);
}

// --nbd-listen and its TLS settings (docs/nbd.md, TLS and accounts).
function nbdOptions(): Option[] {
  return [
    new Option('--nbd-listen <host:port>', 'also serve NBD on TCP (10809 is standard)').env(
      'STRATA_NBD_LISTEN',
    ),
    new Option(
      '--nbd-tls <mode>',
      'TLS on --nbd-listen: on (PSK per account, required) or off (loopback only)',
    )
      .choices(['on', 'off'])
      .env('STRATA_NBD_TLS')
      .default('on'),
    new Option(
      '--nbd-tls-x509 <dir>',
      'also accept client certificates (CN = account id): ca-cert.pem, server-cert.pem, server-key.pem',
    ).env('STRATA_NBD_TLS_X509'),
  ];
}

async function serve(flags: ServeFlags): Promise<void> {
  const logger = createLogger(flags.logLevel !== undefined ? { level: flags.logLevel } : {});
  const options: DaemonOptions = {
    dataDir: flags.dataDir,
    listen: parseListenAddress(flags.listen, '--listen'),
    hypervisor: flags.hypervisor,
    region: flags.region,
    demoImage: flags.demoImage === true,
    vmsOnShutdown: flags.vmsOnShutdown,
    logger,
    ...(flags.database ? { databaseUrl: flags.database } : {}),
    ...(flags.nbdListen ? { nbdListen: parseListenAddress(flags.nbdListen, '--nbd-listen') } : {}),
    nbdTls: flags.nbdTls,
    ...(flags.nbdTlsX509 ? { nbdTlsX509Dir: flags.nbdTlsX509 } : {}),
    ...(flags.zones ? { zones: flags.zones.split(',').map((zone) => zone.trim()) } : {}),
    ...adminKeysFromEnv(),
    snapshotStore: snapshotStoreFromFlags(flags),
    snapshotArchive: restoreSettings(flags),
  };
  const daemon = await startDaemon(options);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight requests');
    daemon.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  console.log(readyBanner(daemon.endpoint, flags.dataDir).join('\n'));
}

function adminKeysFromEnv(): Pick<DaemonOptions, 'adminKeys'> {
  const accessKeyId = process.env.STRATA_ADMIN_ACCESS_KEY_ID;
  const secretAccessKey = process.env.STRATA_ADMIN_SECRET_ACCESS_KEY;
  if (!accessKeyId && !secretAccessKey) return {};
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('set both STRATA_ADMIN_ACCESS_KEY_ID and STRATA_ADMIN_SECRET_ACCESS_KEY, or neither');
  }
  return { adminKeys: { accessKeyId, secretAccessKey } };
}
