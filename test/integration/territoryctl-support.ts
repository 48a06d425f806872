// Helpers shared by the territoryctl integration tests: run the real CLI (and kubectl) as child
// processes against the shared control plane, and install the CRDs it needs.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { CRD_FILE, CRD_NAME } from '../../operator/src/api/crd.ts';
import { cnpgCrds } from '../cnpg/crds.ts';

export const REPOSITORY = resolve(import.meta.dirname, '../..');
export const CLI = join(REPOSITORY, 'operator/src/cli/territoryctl.ts');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** territoryctl against the test control plane (KUBECONFIG set, no colours). */
export function territoryctl(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Run> {
  const env = { ...process.env, KUBECONFIG: inject('kubeconfigPath'), NO_COLOR: '1', ...opts.env };
  return run(process.execPath, [CLI, ...args], { ...opts, env });
}

export function kubectl(args: string[], input?: string): Promise<Run> {
  return run(inject('kubectlPath'), ['--kubeconfig', inject('kubeconfigPath'), ...args], {
    ...(input !== undefined ? { input } : {}),
  });
}

export function ok(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r;
}

/**
 * The Territory CRD (from crds/) and CloudNativePG's, by server-side apply: idempotent, and shared
 * with the other test files that install the same ones.
 */
export async function installCrds(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'territoryctl-crds-'));
  const cnpg = join(dir, 'cnpg.yaml');
  const crds = await cnpgCrds();
  await writeFile(cnpg, crds.map((c) => `---\n${stringify(c)}`).join(''));
  for (const file of [join(REPOSITORY, CRD_FILE), cnpg]) {
    ok(
      await kubectl([
        'apply',
        '--server-side',
        '--force-conflicts',
        '--field-manager=territoryctl-test',
        '-f',
        file,
      ]),
      `kubectl apply -f ${file}`,
    );
  }
  const names = [CRD_NAME, ...crds.map((c) => c.metadata.name)].map((n) => `crd/${n}`);
  ok(
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names]),
    'kubectl wait for CRDs',
  );
}
