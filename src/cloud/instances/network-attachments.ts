// The port through which the instance lifecycle gets an instance's NIC from the host side of networking
// (daemon/instance-networking.ts implements it). A leaf: the lifecycle never sees switches or sockets.
import type { VmNic } from '../../compute/vm-driver.ts';

/** The host's network side of instances, as the lifecycle drives it. */
export interface NetworkAttachments {
  /** Sets up the instance's switch port and metadata channel before its VM starts; undefined: no network. */
  prepare(instanceId: string): Promise<VmNic | undefined>;
  /** Connects the switch to the VM's NIC once the VM runs (after spawn). */
  started(instanceId: string): Promise<void>;
  /** Takes back a VM a previous daemon left running: prepare, connect, and bring its forwards up to date. */
  adopted(instanceId: string): Promise<void>;
  /** Tears it down after the VM stopped, failed to start, or the instance terminated. Safe to repeat. */
  release(instanceId: string): Promise<void>;
}
