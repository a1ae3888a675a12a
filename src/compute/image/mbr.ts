// The classic MBR partition table, written by us so that building an image needs no sfdisk and no loop device.
import { assert } from '../../base/assert.ts';

/** Bytes per sector of the images we build. */
export const SECTOR_BYTES = 512;

/** One primary partition, in sectors. */
export interface MbrPartition {
  readonly startSector: number;
  readonly sectorCount: number;
  /** Partition type byte: 0x06 FAT16, 0x0c FAT32 LBA, 0x83 Linux. */
  readonly type: number;
  readonly bootable: boolean;
}

// CHS fields are unused by LBA-aware loaders (SeaBIOS, syslinux's mbr.bin); 0xfeffff marks "beyond CHS".
const CHS_BEYOND = [0xfe, 0xff, 0xff];

/**
 * Sector 0 of a disk: `bootCode` (at most 440 bytes, e.g. syslinux's mbr.bin), the disk signature, up to four
 * primary partitions and the 0x55aa signature.
 */
export function mbrSector(
  bootCode: Uint8Array,
  diskSignature: number,
  partitions: readonly MbrPartition[],
): Buffer {
  assert(bootCode.length <= 440, `MBR boot code must fit 440 bytes: got ${bootCode.length}`);
  assert(partitions.length >= 1 && partitions.length <= 4, 'an MBR holds one to four primary partitions');
  const sector = Buffer.alloc(SECTOR_BYTES);
  Buffer.from(bootCode).copy(sector, 0);
  sector.writeUInt32LE(diskSignature >>> 0, 440);
  let previousEnd = 1;
  partitions.forEach((partition, index) => {
    assert(partition.startSector >= previousEnd, 'partitions must be in order and not overlap');
    assert(
      partition.sectorCount > 0 && partition.startSector + partition.sectorCount <= 2 ** 32,
      'LBA32 range',
    );
    previousEnd = partition.startSector + partition.sectorCount;
    const entry = 446 + 16 * index;
    sector[entry] = partition.bootable ? 0x80 : 0x00;
    sector.set(CHS_BEYOND, entry + 1);
    sector[entry + 4] = partition.type;
    sector.set(CHS_BEYOND, entry + 5);
    sector.writeUInt32LE(partition.startSector, entry + 8);
    sector.writeUInt32LE(partition.sectorCount, entry + 12);
  });
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** Reads the partitions back from sector 0 (for checks and tests); empty slots are skipped. */
export function readMbrPartitions(sector: Uint8Array): MbrPartition[] {
  assert(sector.length >= SECTOR_BYTES && sector[510] === 0x55 && sector[511] === 0xaa, 'not an MBR');
  const view = Buffer.from(sector.buffer, sector.byteOffset, SECTOR_BYTES);
  const partitions: MbrPartition[] = [];
  for (let index = 0; index < 4; index++) {
    const entry = 446 + 16 * index;
    const type = view[entry + 4] ?? 0;
    if (type === 0) continue;
    partitions.push({
      bootable: view[entry] === 0x80,
      type,
      startSector: view.readUInt32LE(entry + 8),
      sectorCount: view.readUInt32LE(entry + 12),
    });
  }
  return partitions;
}
