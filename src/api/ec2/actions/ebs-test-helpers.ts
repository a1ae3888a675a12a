// Shared assertions for the EBS action tests (volumes, snapshots, tags).
import assert from 'node:assert/strict';

/** Awaits `promise` and asserts it failed with EC2 error `code` (the SDK's `name`). */
export async function expectEc2Error(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const name = (error as { name?: string; Code?: string }).Code ?? (error as { name?: string }).name;
    assert.equal(name, code, `expected ${code}, got ${String(name)}: ${String((error as Error).message)}`);
    return true;
  });
}
