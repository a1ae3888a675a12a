// The `strata` program: which verbs there are, and loading only the one being run. Each verb's module
// registers it on the program, but importing them all loads the daemon and the AWS SDK (~1 s before any
// output), so the table below carries each verb's one-line summary for the verb list, and every other verb
// is a stub with that summary. program.test.ts checks the summaries against the verbs' own descriptions.
import { Command } from 'commander';
import { versionLine } from './version.ts';
import { addEnvironmentHelp } from './env-help.ts';

/** What a verb's module exports: a function that adds the verb (and its subcommands) to the program. */
export type RegisterVerb = (program: Command) => void;

/** A verb of `strata`: its summary in `strata --help`, and how to load its module. */
export interface Verb {
  readonly summary: string;
  readonly load: () => Promise<RegisterVerb>;
}

/** Every verb, in the order `strata --help` lists them. */
export const verbs: Readonly<Record<string, Verb>> = {
  serve: {
    summary: 'run Strata: the EC2/EBS API, block store, NBD server and VMs, in one process',
    load: async () => (await import('./serve.ts')).registerServe,
  },
  account: {
    summary: 'manage accounts and their access keys',
    load: async () => (await import('./account.ts')).registerAccount,
  },
  fsck: {
    summary: 'check the block store pool (<data-dir>/pool) offline; exits non-zero on any inconsistency',
    load: async () => (await import('./fsck.ts')).registerFsck,
  },
  'nbd-uri': {
    summary:
      'print the NBD URI of a volume (read-write) or snapshot (read-only) for qemu-img, nbdcopy, nbdinfo',
    load: async () => (await import('./nbd-uri.ts')).registerNbdUri,
  },
  'nbd-psk': {
    summary: "write an account's PSK for NBD over TLS (--nbd-listen) to FILE, mode 0600",
    load: async () => (await import('./nbd-psk.ts')).registerNbdPsk,
  },
  'install-service': {
    summary: 'write a systemd unit that runs strata serve and restarts it on failure',
    load: async () => (await import('./install-service.ts')).registerInstallService,
  },
  doctor: {
    summary:
      'report what this host can do: QEMU, KVM/TCG, UEFI, disk space and pool fullness, NBD tools, the demo image',
    load: async () => (await import('./doctor.ts')).registerDoctor,
  },
  image: {
    summary: 'build machine images',
    load: async () => (await import('./image.ts')).registerImage,
  },
  snapshot: {
    summary: 'upload and download snapshots (EBS direct API)',
    load: async () => (await import('./snapshot.ts')).registerSnapshot,
  },
  'console-url': {
    summary: 'print a one-time sign-in link to the web console for the admin (needs the running daemon)',
    load: async () => (await import('./console-url.ts')).registerConsoleUrl,
  },
};

/** The verb that `args` (process.argv after the script) runs or asks help for, or undefined for none. */
export function verbNamed(args: readonly string[]): string | undefined {
  const name = args[0] === 'help' ? args[1] : args[0];
  return name !== undefined && Object.hasOwn(verbs, name) ? name : undefined;
}

/** The program for `args`: the verb they name is loaded and registered, every other verb is a stub. */
export async function strataProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('strata')
    .description('A self-hosted EC2/EBS-compatible cloud, driven by the stock AWS CLI and SDKs.')
    // Not commander's .version(), which wants the line up front: finding the commit runs git.
    .option('-V, --version', 'print the version, git commit and Node version')
    .on('option:version', () => {
      console.log(versionLine());
      process.exit(0);
    })
    .showHelpAfterError()
    .enablePositionalOptions();
  const wanted = verbNamed(args);
  for (const [name, verb] of Object.entries(verbs)) {
    if (name === wanted) {
      (await verb.load())(program);
      const loaded = program.commands.find((command) => command.name() === name);
      if (loaded !== undefined) addEnvironmentHelp(loaded, name);
    } else program.command(name).description(verb.summary);
  }
  return program;
}
