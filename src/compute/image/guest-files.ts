// The demo guest's scripts: the initramfs /init and the root volume's init files. Kept as text here so the
// image is built from this file, the host kernel and busybox, nothing else.

/** Console line prefix the guest prints once per boot, followed by ` count=N` (N read from its root volume). */
export const BOOT_MARKER = 'STRATA-DEMO: booted';
/** Console line prefix the guest prints with its block devices, at boot and on every change. */
export const DISKS_MARKER = 'STRATA-DISKS';
/** Where QEMU's fw_cfg hands the guest its user data (see qemu-command.ts). */
export const USER_DATA_FW_CFG_NAME = 'opt/strata/user-data';
/** Filesystem label of the root partition. */
export const ROOT_LABEL = 'strata-root';

/** Modules the initramfs loads, in dependency order (everything else the guest needs is built in). */
export const INITRD_MODULES = [
  'kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio.ko',
  'kernel/drivers/virtio/virtio_pci_legacy_dev.ko',
  'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
  'kernel/drivers/virtio/virtio_pci.ko',
  'kernel/drivers/block/virtio_blk.ko',
  'kernel/net/core/failover.ko',
  'kernel/drivers/net/net_failover.ko',
  'kernel/drivers/net/virtio_net.ko',
  'kernel/drivers/firmware/qemu_fw_cfg.ko',
  'kernel/drivers/acpi/button.ko',
  'kernel/drivers/input/evdev.ko',
] as const;

/** The kernel command line syslinux passes. `quiet` keeps the console tail ours (GetConsoleOutput is 64 KiB). */
export const KERNEL_COMMAND_LINE = 'console=ttyS0,115200 quiet loglevel=3 panic=5 no_timer_check';

/** syslinux.cfg on the boot partition: boot at once, no menu. */
export const SYSLINUX_CFG = `DEFAULT strata
PROMPT 0
TIMEOUT 0
LABEL strata
  KERNEL /vmlinuz
  INITRD /initrd
  APPEND ${KERNEL_COMMAND_LINE}
`;

/** The initramfs /init: load modules, find the root (partition 2 of the first disk), switch to it. */
export const INITRD_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in ${INITRD_MODULES.map((path) => path.split('/').pop()).join(' ')}; do
  insmod /lib/modules/$module || echo "strata-initrd: insmod $module failed"
done
tries=0
while [ ! -b /dev/vda2 ] && [ $tries -lt 200 ]; do sleep 0.05; tries=$((tries + 1)); done
if ! mount -t ext4 -o rw /dev/vda2 /newroot; then
  echo "STRATA-DEMO: cannot mount root /dev/vda2"
  sleep 2; poweroff -f
fi
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /sbin/init
`;

/** busybox init's table: our rc scripts, the disk watcher, Ctrl-Alt-Del reboots cleanly (soft reboot). */
export const INITTAB = `::sysinit:/etc/init.d/rcS
::respawn:/usr/sbin/strata-disks
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/init.d/rcK
`;

/** Boot script: count the boot durably, print the marker, network, ACPI power button, then user data. */
export const RC_S = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /run
mount -o remount,rw /
hostname strata-demo
count=$(cat /var/lib/strata/boot-count 2>/dev/null)
count=$((\${count:-0} + 1))
echo "$count" > /var/lib/strata/boot-count.new
mv /var/lib/strata/boot-count.new /var/lib/strata/boot-count
sync
# acpid before the marker: a power button pressed once the marker shows is never lost.
acpid -l /run/acpid.log
echo "${BOOT_MARKER} count=$count"
ip link set lo up
if ip link set eth0 up 2>/dev/null; then
  ip addr add 10.0.2.15/24 dev eth0
  ip route add default via 10.0.2.2
fi
userdata=/sys/firmware/qemu_fw_cfg/by_name/${USER_DATA_FW_CFG_NAME}/raw
if [ -r "$userdata" ] && [ "$(head -c 2 "$userdata")" = '#!' ]; then
  cp "$userdata" /run/user-data
  chmod 700 /run/user-data
  (/run/user-data; echo "STRATA-DEMO: user-data exit=$?") </dev/null >/dev/console 2>&1 &
fi
`;

/** Shutdown script: flush and leave the root clean before busybox init powers off or reboots. */
export const RC_K = `#!/bin/sh
echo "STRATA-DEMO: shutting down"
sync
mount -o remount,ro / 2>/dev/null
sync
`;

/** The disk watcher: prints the block devices with their serials (volume ids) at start and on every change. */
export const STRATA_DISKS = `#!/bin/sh
last=unset
while true; do
  disks=
  for dev in /sys/block/vd*; do
    [ -e "$dev" ] || continue
    serial=$(cat "$dev/serial" 2>/dev/null)
    # The 20-byte virtio serial drops the id's dash (vol0ab…); print the volume id as EC2 names it.
    case "$serial" in vol[0-9a-f]*) serial="vol-\${serial#vol}" ;; esac
    disks="$disks \${dev##*/}=$serial"
  done
  if [ "$disks" != "$last" ]; then
    echo "${DISKS_MARKER}\${disks:- none}"
    last=$disks
  fi
  sleep 1
done
`;

/** busybox acpid runs /etc/acpi/PWRF/00000080 on the power button: a clean poweroff. */
export const POWER_BUTTON = `#!/bin/sh
echo "STRATA-DEMO: power button" >/dev/console
sync
poweroff
`;
