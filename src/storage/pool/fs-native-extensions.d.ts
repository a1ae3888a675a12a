// Types for the one call Strata uses from fs-native-extensions (the package ships none).
declare module 'fs-native-extensions' {
  /** Punches a hole of `length` bytes at `offset` (fallocate PUNCH_HOLE | KEEP_SIZE on Linux). */
  export function trim(fd: number, offset: number, length: number): Promise<void>;
}
