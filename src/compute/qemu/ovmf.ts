// UEFI firmware (OVMF) is optional: VMs boot with SeaBIOS unless the host has OVMF installed.
import { access } from 'node:fs/promises';

/** OVMF's code and variable-store templates. */
export interface OvmfFiles {
  readonly code: string;
  readonly varsTemplate: string;
}

const CANDIDATES: OvmfFiles[] = [
  { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.fd' },
  { code: '/usr/share/OVMF/OVMF_CODE.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS.fd' },
];

/** The first installed OVMF pair, or null (then the 'uefi' capability is false). */
export async function findOvmf(): Promise<OvmfFiles | null> {
  for (const candidate of CANDIDATES) {
    try {
      await access(candidate.code);
      await access(candidate.varsTemplate);
      return candidate;
    } catch {
      // try the next layout
    }
  }
  return null;
}
