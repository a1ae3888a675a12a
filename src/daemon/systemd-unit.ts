// The systemd unit that runs `strata serve` as a service and brings it back after a crash.
//
// Choices, each for a reason:
// - Restart=on-failure with RestartSec: a daemon that dies on a fault (non-zero exit, signal, watchdog)
//   comes back; `systemctl stop` (SIGTERM, a clean exit 0) stays stopped. StartLimitBurst stops a daemon
//   that cannot start at all from looping forever.
// - KillMode=process: QEMU runs detached but in the unit's cgroup; killing only the daemon lets running
//   VMs outlive a crash or restart, and the next daemon re-adopts them (docs/compute.md). The daemon's own
//   SIGTERM handling decides what happens to VMs on a clean stop (--vms-on-shutdown).
// - PATH is the installer's, so the unit finds the same node, qemu and nbd tools the installer's shell did.
import { assert } from '../base/assert.ts';

/** What the unit runs and as whom. */
export interface SystemdUnitOptions {
  /** Absolute path of the `strata` command (bin/strata of the checkout). */
  readonly strataBin: string;
  /** Absolute data directory for `strata serve --data-dir`. */
  readonly dataDir: string;
  /** Further `strata serve` arguments (e.g. `--nbd-listen 0.0.0.0:10809`). */
  readonly serveArgs: readonly string[];
  /** The PATH the service runs with. */
  readonly path: string;
  /** Run as this user instead of root. */
  readonly user?: string;
}

/** The unit file's text. */
export function systemdUnit(options: SystemdUnitOptions): string {
  assert(options.strataBin.startsWith('/'), 'systemdUnit: strataBin must be absolute');
  assert(options.dataDir.startsWith('/'), 'systemdUnit: dataDir must be absolute');
  const command = [options.strataBin, 'serve', '--data-dir', options.dataDir, ...options.serveArgs];
  const lines = [
    '[Unit]',
    'Description=Strata, a self-hosted EC2/EBS-compatible cloud (strata serve)',
    'After=network-online.target',
    'Wants=network-online.target',
    'StartLimitIntervalSec=300',
    'StartLimitBurst=10',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${command.map(quoteArgument).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=2s',
    'KillMode=process',
    'TimeoutStopSec=90s',
    `Environment=${quoteArgument(`PATH=${options.path}`)}`,
    'LimitNOFILE=65536',
    ...(options.user !== undefined ? [`User=${options.user}`] : []),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

// systemd splits ExecStart like a shell: quote what has spaces or quotes, and double % and $ (specifiers
// and variable expansion) so every argument arrives as written.
function quoteArgument(argument: string): string {
  assert(!/[\n\r]/.test(argument), 'systemdUnit: an argument cannot hold a line break');
  const escaped = argument.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (!/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
