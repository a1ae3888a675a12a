// Does KVM work here? /dev/kvm existing is not enough: under nested KVM this host boots a boot sector fine but
// fails with "KVM internal error" once syslinux enters protected mode, then hangs. So the probe boots the
// host's own kernel with an initramfs whose /init powers off at once, under a hard timeout; where there is no
// kernel it falls back to a 7-byte boot sector that writes to QEMU's isa-debug-exit port.
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { limits } from '../../base/limits.ts';
import type { Accelerator } from './qemu-command.ts';
import { cpioNewc } from '../image/cpio.ts';
import { findDemoImageSources } from '../image/demo-image.ts';

/** What the probe found; `detail` says why an accelerator is unusable. */
export interface ProbeResult {
  readonly usable: boolean;
  readonly elapsedMs: number;
  readonly detail: string;
}

// mov al, 1; out 0xf4, al; hlt; jmp $ — padded to a sector with the 0x55aa boot signature.
const BOOT_SECTOR_CODE = [0xb0, 0x01, 0xe6, 0xf4, 0xf4, 0xeb, 0xfe];
// isa-debug-exit makes QEMU exit with (value << 1) | 1.
const EXPECTED_EXIT_CODE = 3;

function bootSector(): Buffer {
  const sector = Buffer.alloc(512);
  sector.set(BOOT_SECTOR_CODE, 0);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** Boots the probe sector with `accelerator`; never takes longer than `timeoutMs`. */
export async function probeAccelerator(
  accelerator: Accelerator,
  options: { qemu?: string; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  const started = Date.now();
  if (accelerator === 'kvm') {
    try {
      await access('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      return { usable: false, elapsedMs: 0, detail: '/dev/kvm is missing or not accessible' };
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'strata-probe-'));
  try {
    const args = [
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-machine',
      'pc',
      '-accel',
      accelerator,
    ];
    if (accelerator === 'kvm') args.push('-cpu', 'host'); // as VMs run (qemu-command.ts)
    const probe = await probeGuest(dir);
    args.push(...probe.args);
    const timeoutMs = options.timeoutMs ?? limits.kvmProbeTimeoutMs;
    const run = await runWithTimeout(options.qemu ?? 'qemu-system-x86_64', args, timeoutMs);
    const elapsedMs = Date.now() - started;
    if (run.code === probe.exitCode)
      return { usable: true, elapsedMs, detail: `booted ${probe.what} in ${elapsedMs} ms` };
    const complaint = run.stderr.trim().split('\n').at(-1) ?? '';
    const why = run.timedOut
      ? `hung: killed after ${elapsedMs} ms`
      : `qemu failed (${run.code ?? 'signal'}): ${complaint}`;
    return { usable: false, elapsedMs, detail: `${probe.what}: ${why}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function probeGuest(dir: string): Promise<{ args: string[]; exitCode: number; what: string }> {
  const sources = await findDemoImageSources().catch(() => null);
  if (sources === null) {
    const image = join(dir, 'probe.img');
    await writeFile(image, bootSector());
    const args = [
      '-device',
      'isa-debug-exit,iobase=0xf4,iosize=4',
      '-drive',
      `file=${image},format=raw,if=ide`,
    ];
    return { args, exitCode: EXPECTED_EXIT_CODE, what: 'a boot sector' };
  }
  const initrd = join(dir, 'initrd');
  const init = Buffer.from('#!/bin/busybox sh\n/bin/busybox poweroff -f\n');
  const busybox = await readFile(sources.busyboxPath);
  await writeFile(
    initrd,
    cpioNewc([
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
      { kind: 'file', path: 'init', data: init, mode: 0o755 },
    ]),
  );
  const args = [
    '-m',
    '256M',
    '-no-reboot',
    '-kernel',
    sources.kernelPath,
    '-initrd',
    initrd,
    '-append',
    'quiet panic=-1',
  ];
  return { args, exitCode: 0, what: 'the host kernel' };
}

interface ProbeRun {
  readonly code: number | null;
  readonly timedOut: boolean;
  readonly stderr: string;
}

function runWithTimeout(command: string, args: string[], timeoutMs: number): Promise<ProbeRun> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, timedOut, stderr: error.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal === null ? code : null, timedOut, stderr: stderr || (signal ?? '') });
    });
  });
}

const cache = new Map<Accelerator, Promise<ProbeResult>>();

/** The probe result for `accelerator`, run at most once per process (one daemon run). */
export function cachedProbe(accelerator: Accelerator): Promise<ProbeResult> {
  let result = cache.get(accelerator);
  if (result === undefined) {
    result = probeAccelerator(accelerator);
    cache.set(accelerator, result);
  }
  return result;
}
