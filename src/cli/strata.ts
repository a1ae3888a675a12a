// The `strata` command. Each verb lives in its own file and registers itself on the program.
import { Command } from 'commander';
import { registerServe } from './serve.ts';
import { registerAccount } from './account.ts';
import { registerFsck } from './fsck.ts';
import { registerNbdUri } from './nbd-uri.ts';
import { registerNbdPsk } from './nbd-psk.ts';
import { registerInstallService } from './install-service.ts';
import { registerDoctor } from './doctor.ts';
import { registerImage } from './image.ts';
import { registerSnapshot } from './snapshot.ts';

const program = new Command('strata')
  .description('A self-hosted EC2/EBS-compatible cloud, driven by the stock AWS CLI and SDKs.')
  .showHelpAfterError()
  .enablePositionalOptions();

for (const register of [
  registerServe,
  registerAccount,
  registerFsck,
  registerNbdUri,
  registerNbdPsk,
  registerInstallService,
  registerDoctor,
  registerImage,
  registerSnapshot,
]) {
  register(program);
}

await program.parseAsync(process.argv);
