// For flag tests: parses argv with some commander options, under extra environment variables.
import { Command, type Option } from 'commander';

/** The options' values after parsing `argv` with `env` set (and restored afterwards); throws on bad input. */
export function parseOptions<T>(
  options: readonly Option[],
  argv: string[],
  env: Record<string, string> = {},
): T {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const command = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
    for (const option of options) command.addOption(option);
    command.parse(argv, { from: 'user' });
    return command.opts<T & Record<string, unknown>>();
  } finally {
    for (const key of Object.keys(env)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}
