// What a QEMU test needs on the host, for its skip message. Not used by the daemon.
import { access, constants } from 'node:fs/promises';
import { findDemoImageSources } from './image/demo-image.ts';

/** The first of `tools` that is not an executable, or what the demo image lacks; null when all is there. */
export async function missingTool(tools: readonly string[]): Promise<string | null> {
  for (const tool of tools) {
    const present = await access(tool, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!present) return `${tool} is not installed`;
  }
  return findDemoImageSources().then(
    () => null,
    (error: Error) => error.message,
  );
}
