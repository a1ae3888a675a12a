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

/** Boot script: count the boot durably, print the marker, ACPI power button, then the network in the background. */
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
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
/usr/sbin/strata-net &
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

/** Console line prefix the guest prints with its instance id, read from the metadata service. */
export const INSTANCE_MARKER = 'STRATA-DEMO: instance-id';
/** Console line prefix of the user data script's exit status, after its output. */
export const USER_DATA_MARKER = 'STRATA-DEMO: user-data exit=';

/** The udhcpc event script: the lease's address, route and host name. */
export const DHCP_EVENT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    ip route add default via "$router" 2>/dev/null
    [ -n "$hostname" ] && hostname "$hostname"
    echo "STRATA-DEMO: lease $ip" >/dev/console
    ;;
esac
`;

/**
 * `strata-imds METHOD PATH [HEADERS]`: one request to the metadata service, its body on stdout; any status but
 * 200 goes to stderr with exit 1. busybox's wget cannot PUT with headers, so this speaks HTTP/1.0 over nc.
 * HEADERS are `Name: value\\r\\n` lines, as printf %b reads them.
 */
export const STRATA_IMDS = `#!/bin/sh
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT
printf '%s %s HTTP/1.0\\r\\nHost: 169.254.169.254\\r\\n%b\\r\\n' "$1" "$2" "$3" |
  nc -w 5 169.254.169.254 80 >"$answer" 2>/dev/null
status=$(head -n 1 "$answer" | tr -d '\\r')
case "$status" in
  *" 200 "*) sed "1,/^$(printf '\\r')\\$/d" "$answer" ;;
  *) echo "strata-imds: $1 $2: \${status:-no answer}" >&2; exit 1 ;;
esac
`;

/**
 * The network at boot: DHCP on eth0, then, from the metadata service with an IMDSv2 token, the launch key
 * into root's authorized_keys, the instance id to the console and the user data, run when it starts with #!.
 * The SSH server (dropbear, host key made on first boot) takes root logins with that key. A VM without a NIC
 * (driver tests) gets its user data over fw_cfg instead.
 */
export const STRATA_NET = `#!/bin/sh
run_user_data() {
  [ "$(head -c 2 "$1")" = '#!' ] || return 0
  chmod 700 "$1"
  ("$1"; echo "${USER_DATA_MARKER}$?") </dev/null >/dev/console 2>&1 &
}
fwcfg=/sys/firmware/qemu_fw_cfg/by_name/${USER_DATA_FW_CFG_NAME}/raw
if ! ip link set eth0 up 2>/dev/null; then
  if [ -r "$fwcfg" ]; then cp "$fwcfg" /run/user-data && run_user_data /run/user-data; fi
  exit 0
fi
udhcpc -i eth0 -b -t 10 -T 2 -s /usr/sbin/strata-dhcp >/dev/null 2>&1
token=
tries=0
while [ -z "$token" ] && [ $tries -lt 30 ]; do
  token=$(strata-imds PUT /latest/api/token 'X-aws-ec2-metadata-token-ttl-seconds: 300\\r\\n')
  [ -n "$token" ] || sleep 1
  tries=$((tries + 1))
done
[ -n "$token" ] || { echo "STRATA-DEMO: no metadata service" >/dev/console; exit 0; }
header="X-aws-ec2-metadata-token: $token\\r\\n"
echo "${INSTANCE_MARKER} $(strata-imds GET /latest/meta-data/instance-id "$header")" >/dev/console
mkdir -p /root/.ssh && chmod 700 /root/.ssh
if strata-imds GET /latest/meta-data/public-keys/0/openssh-key "$header" >/run/authorized_keys; then
  mv /run/authorized_keys /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
fi
key=/etc/dropbear/dropbear_ed25519_host_key
mkdir -p /etc/dropbear
[ -s $key ] || dropbearkey -t ed25519 -f $key >/dev/null 2>&1
dropbear -r $key -s -p 22 && echo "STRATA-DEMO: ssh ready" >/dev/console
strata-imds GET /latest/user-data "$header" >/run/user-data && run_user_data /run/user-data
`;

/** busybox acpid runs /etc/acpi/PWRF/00000080 on the power button: a clean poweroff. */
export const POWER_BUTTON = `#!/bin/sh
echo "STRATA-DEMO: power button" >/dev/console
sync
poweroff
`;
