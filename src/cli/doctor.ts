// `strata doctor`: what this host can do. Exits non-zero only when something required is missing
// (QEMU that can run a guest under TCG, and a writable data dir with room).
import type { Command } from 'commander';
import { access, constants, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { units } from '../base/limits.ts';
import { runTool } from '../compute/run-tool.ts';
import { probeAccelerator } from '../compute/qemu/kvm-probe.ts';
import { findOvmf } from '../compute/qemu/ovmf.ts';
import { findDemoImageSources } from '../compute/image/demo-image.ts';
import { poolSpace } from './pool-space.ts';

/** One line of the report. */
interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly required: boolean;
  readonly detail: string;
  /** Works, but needs attention (printed as WARN): e.g. the pool's file system past its high-water mark. */
  readonly warning?: boolean;
}

const DATA_DIR_FREE_BYTES_MIN = 2 * units.GiB;

async function toolVersion(name: string, command: string, args: string[], required: boolean): Promise<Check> {
  try {
    const out = await runTool(command, args, { timeoutMs: 10_000 });
    return { name, ok: true, required, detail: out.split('\n')[0]?.trim() ?? '' };
  } catch (error) {
    return {
      name,
      ok: false,
      required,
      detail: `${command} not usable: ${(error as Error).message.split('\n')[0]}`,
    };
  }
}

async function acceleratorChecks(): Promise<Check[]> {
  // TCG gets a long timeout: it is only slow, never hung, and a loaded host must not read as broken.
  const [tcg, kvm] = await Promise.all([
    probeAccelerator('tcg', { timeoutMs: 60_000 }),
    probeAccelerator('kvm'),
  ]);
  return [
    { name: 'tcg', ok: tcg.usable, required: true, detail: tcg.detail },
    {
      name: 'kvm',
      ok: kvm.usable,
      required: false,
      // The daemon's default (accelerator auto) decides by this same probe: say what it will pick.
      detail: `${kvm.detail}${kvm.usable ? ' (VMs run under KVM)' : ' (VMs run under TCG, several times slower)'}`,
    },
  ];
}

async function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function dataDirCheck(dataDir: string): Promise<Check> {
  const dir = resolve(dataDir);
  // A data dir that does not exist yet is judged by its nearest existing parent (serve creates it there).
  let probe = dir;
  while (probe !== dirname(probe) && !(await pathExists(probe))) probe = dirname(probe);
  try {
    await access(probe, constants.W_OK);
    const fs = await statfs(probe);
    const freeBytes = fs.bavail * fs.bsize;
    const ok = freeBytes >= DATA_DIR_FREE_BYTES_MIN;
    const detail = `${dir}: ${(freeBytes / units.GiB).toFixed(1)} GiB free${ok ? '' : ` (want at least ${DATA_DIR_FREE_BYTES_MIN / units.GiB} GiB)`}`;
    return { name: 'data dir', ok, required: true, detail };
  } catch (error) {
    return { name: 'data dir', ok: false, required: true, detail: `${dir}: ${(error as Error).message}` };
  }
}

async function poolSpaceCheck(dataDir: string): Promise<Check> {
  const dir = resolve(dataDir);
  if (!(await pathExists(dir))) {
    return { name: 'pool space', ok: true, required: false, detail: `${dir}: no data dir yet` };
  }
  try {
    const report = await poolSpace(dir);
    return {
      name: 'pool space',
      ok: !report.warning,
      required: false,
      warning: report.warning,
      detail: report.detail,
    };
  } catch (error) {
    return { name: 'pool space', ok: false, required: false, detail: `${dir}: ${(error as Error).message}` };
  }
}

async function demoImageCheck(): Promise<Check> {
  try {
    const sources = await findDemoImageSources();
    for (const path of [
      sources.kernelPath,
      sources.busyboxPath,
      sources.syslinuxMbrPath,
      '/usr/bin/mcopy',
      '/usr/bin/syslinux',
    ]) {
      await access(path);
    }
    return {
      name: 'demo image',
      ok: true,
      required: false,
      detail: `kernel ${sources.kernelPath}, busybox, syslinux, mtools`,
    };
  } catch (error) {
    return {
      name: 'demo image',
      ok: false,
      required: false,
      detail: `strata image demo cannot build: ${(error as Error).message}`,
    };
  }
}

/** Runs every check; slow ones (the two probes boot a kernel) run concurrently with the rest. */
export async function runDoctor(dataDir: string): Promise<Check[]> {
  const ovmf = findOvmf().then((found): Check => ({
    name: 'uefi (OVMF)',
    ok: found !== null,
    required: false,
    detail: found === null ? 'not installed: VMs boot with SeaBIOS only (apt-get install ovmf)' : found.code,
  }));
  const checks = await Promise.all([
    toolVersion('qemu', 'qemu-system-x86_64', ['--version'], true),
    acceleratorChecks(),
    ovmf,
    dataDirCheck(dataDir),
    poolSpaceCheck(dataDir),
    toolVersion('qemu-img', 'qemu-img', ['--version'], false),
    toolVersion('qemu-nbd', 'qemu-nbd', ['--version'], false),
    toolVersion('nbdinfo', 'nbdinfo', ['--version'], false),
    toolVersion('nbdcopy', 'nbdcopy', ['--version'], false),
    demoImageCheck(),
  ]);
  return checks.flat();
}

/** Registers `strata doctor`. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'report what this host can do: QEMU, KVM/TCG, UEFI, disk space and pool fullness, NBD tools, the demo image',
    )
    .option('--data-dir <dir>', 'data directory to check', process.env.STRATA_DATA_DIR ?? './data')
    .option('--json', 'print the checks as JSON')
    .action(async (options: { dataDir: string; json?: boolean }) => {
      const checks = await runDoctor(options.dataDir);
      if (options.json === true) console.log(JSON.stringify(checks, null, 2));
      else {
        for (const check of checks) {
          const status = check.ok
            ? 'ok  '
            : check.required
              ? 'FAIL'
              : check.warning === true
                ? 'WARN'
                : 'no  ';
          console.log(`${status}  ${check.name.padEnd(12)} ${check.detail}`);
        }
      }
      const failed = checks.filter((check) => check.required && !check.ok);
      if (failed.length > 0) {
        console.error(
          `strata doctor: missing what Strata needs: ${failed.map((check) => check.name).join(', ')}`,
        );
        process.exitCode = 1;
      }
    });
}
