// Assertions separate programmer errors (crash) from operating errors (handled and answered).

/** Thrown when an invariant fails: a bug, never a way to reject user input. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** Crash with `message` unless `condition` holds. */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks the end of an exhaustive switch over a tagged union. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/** Exact integer division: crashes unless `dividend` is a multiple of `divisor`. */
export function divExact(dividend: number, divisor: number): number {
  assert(
    Number.isSafeInteger(dividend) && Number.isSafeInteger(divisor) && divisor > 0,
    'divExact: bad operands',
  );
  assert(dividend % divisor === 0, `divExact: ${dividend} is not a multiple of ${divisor}`);
  return dividend / divisor;
}
