#!/usr/bin/env node
// territoryctl (also the kubectl plugin `kubectl territory`): the platform engineer's and the DPO's
// command line for Territories. One module per subcommand in ./territoryctl/.
//
//   render FILE      offline: the manifests the operator would own (for GitOps reviews)
//   status [NAME]    every Territory with the health of each part
//   register         the GDPR art. 30 record of processing (Markdown, CSV, JSON)
//   export NAME      the reversibility bundle: manifests, latest backup, checksums, README
//   decrypt FILE     offline: an encrypted backup of an export bundle -> a plain pg_dump file
//   restore NAME     restore a Territory's database from a backup (spec.restore), and follow it
//   doctor           checks the cluster and says what to fix
//   plan             offline: the databases of every local authority of France, per tier and in total
//
// Human-friendly output on stdout, `-o json|yaml` for scripts, progress and diagnostics on stderr.
// Exit codes: 0 ok, 1 the command found a problem, 2 it could not run (usage, cluster, permissions).
import { basename } from 'node:path';
import { Command, CommanderError } from 'commander';
import { decryptCommand } from './territoryctl/decrypt.ts';
import { doctorCommand } from './territoryctl/doctor.ts';
import { CliError, EXIT } from './territoryctl/errors.ts';
import { exportCommand } from './territoryctl/export.ts';
import { styleFor } from './territoryctl/output.ts';
import { planCommand } from './territoryctl/plan.ts';
import { registerCommand } from './territoryctl/register.ts';
import { renderCommand } from './territoryctl/render.ts';
import { restoreCommand } from './territoryctl/restore.ts';
import { statusCommand } from './territoryctl/status.ts';

// kubectl runs plugins as `kubectl-territory`; help then reads `kubectl territory ...`.
const invokedAs = basename(process.argv[1] ?? '').replace(/\.ts$/, '');
const name = invokedAs === 'kubectl-territory' ? 'kubectl territory' : 'territoryctl';

// `territoryctl render x | head` closes stdout early: that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.ok);
  throw err;
});

const program = new Command(name)
  .description(
    'Sovereign data stacks of French local authorities: render, status, register, export, restore, doctor, plan',
  )
  .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
  .option('--context <name>', 'kubeconfig context to use')
  .showHelpAfterError()
  .exitOverride();

for (const command of [
  renderCommand(),
  statusCommand(),
  registerCommand(),
  exportCommand(),
  decryptCommand(),
  restoreCommand(),
  doctorCommand(),
  planCommand(),
]) {
  program.addCommand(command.exitOverride());
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const style = styleFor(process.stderr);
  if (err instanceof CommanderError) {
    // Commander already printed its message (and help); --help and --version are not failures.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof CliError) {
    process.stderr.write(`${style.bad('error:')} ${err.message}\n`);
    if (err.hint) process.stderr.write(`${style.bold('fix:')} ${err.hint}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`${style.bad('unexpected error:')} ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = EXIT.failure;
  }
}
