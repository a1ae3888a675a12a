// One way for every verb to say which environment variables it reads: an "Environment:" section at the end of
// its --help, built from its options' .env() names (a flag wins over its variable) plus the few variables
// that are not an option's. program.ts adds it to whichever verb it loads, so no verb can forget it.
import type { Command } from 'commander';

/** A variable a verb reads that no option names, and what it does. */
export interface ExtraVariable {
  readonly name: string;
  readonly meaning: string;
}

// Variables read outside options, by the verb's name.
const extraVariables: Readonly<Record<string, readonly ExtraVariable[]>> = {
  serve: [
    {
      name: 'STRATA_ADMIN_ACCESS_KEY_ID',
      meaning: "the admin's access key id on first start (else generated)",
    },
    { name: 'STRATA_ADMIN_SECRET_ACCESS_KEY', meaning: "the admin's secret key on first start, with the id" },
  ],
  snapshot: [
    {
      name: 'AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_*',
      meaning:
        'the standard AWS chain; without it, <data-dir>/credentials and the endpoint in <data-dir>/config',
    },
  ],
};

/** The lines of `command`'s Environment section (empty when it reads none). */
export function environmentLines(command: Command, verb: string): string[] {
  const fromOptions = command.options
    .filter((option) => option.envVar !== undefined)
    .map((option) => ({ name: option.envVar ?? '', meaning: option.long ?? option.flags }));
  const all = [...fromOptions, ...(extraVariables[verb] ?? [])];
  if (all.length === 0) return [];
  const width = Math.max(...all.map((variable) => variable.name.length));
  return [
    '',
    "Environment (each is its option's default; the option wins):",
    ...all.map((v) => `  ${v.name.padEnd(width)}  ${v.meaning}`),
  ];
}

/** Adds the Environment section to `command` and each of its subcommands, under the verb's name. */
export function addEnvironmentHelp(command: Command, verb: string): void {
  for (const sub of command.commands) addEnvironmentHelp(sub, verb);
  command.addHelpText('after', () => environmentLines(command, verb).join('\n'));
}
