// The `strata` command (bin/strata runs its build, dist/strata.mjs). program.ts knows the verbs and loads
// only the one named on the command line.
import { strataProgram } from './program.ts';

const nodeMajorMin = 22;
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < nodeMajorMin) {
  console.error(
    `strata: Node ${nodeMajorMin} or newer is needed: this is ${process.version}. ` +
      'scripts/install-deps.sh installs Node 24 into runtime/, which bin/strata then uses.',
  );
  process.exit(1);
}

const args = process.argv.slice(2);
await (await strataProgram(args)).parseAsync(args, { from: 'user' });
