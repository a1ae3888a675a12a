// The lazy-restore flags of `strata serve` (docs/archive.md, "Lazy restore"), with their environment variables.
import { InvalidArgumentError, Option } from 'commander';
import { units } from '../base/limits.ts';
import type { SnapshotArchiveSettings } from '../cloud/ebs/snapshot-archive.ts';

/** The parsed flags, as commander hands them over. */
export interface RestoreFlags {
  fastRestore?: boolean;
  hydrationRate?: number;
}

/** `--fast-restore` and `--hydration-rate`. */
export function restoreOptions(): Option[] {
  return [
    new Option(
      '--fast-restore',
      'a volume from an archived snapshot turns available only once every chunk is local',
    ).env('STRATA_FAST_RESTORE'),
    new Option('--hydration-rate <MiB/s>', 'background hydration of a lazily restored volume, per volume')
      .env('STRATA_HYDRATION_RATE')
      .argParser(parseHydrationRate)
      .default(128),
  ];
}

/** A positive rate in MiB/s (fractions allowed: 0.5 is 512 KiB/s, one chunk a second). */
export function parseHydrationRate(value: string): number {
  const rate = Number(value);
  if (value.trim() === '' || !Number.isFinite(rate) || rate <= 0) {
    throw new InvalidArgumentError(`expected a positive number of MiB/s, got "${value}"`);
  }
  return rate;
}

/** The archive settings the flags give. */
export function restoreSettings(flags: RestoreFlags): SnapshotArchiveSettings {
  return {
    fastRestore: flags.fastRestore === true,
    ...(flags.hydrationRate !== undefined
      ? { hydrationBytesPerSecond: Math.round(flags.hydrationRate * units.MiB) }
      : {}),
  };
}
