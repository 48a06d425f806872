// The pinned kubectl, for the harness: apply manifests, wait for conditions. Output is kept for
// the error message; nothing here is parsed from human-readable text.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

const run = promisify(execFile);

export interface Kubectl {
  binary: string;
  kubeconfig: string;
}

export async function kubectl(k: Kubectl, args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run(k.binary, [`--kubeconfig=${k.kubeconfig}`, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string; stdout?: string };
    throw new Error(`kubectl ${args.join(' ')}: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** Server-side apply of objects (or of YAML text), as the harness's own field manager. */
export async function applyManifests(
  k: Kubectl,
  manifests: Record<string, unknown>[] | string,
): Promise<void> {
  const text = typeof manifests === 'string' ? manifests : manifests.map((m) => stringify(m)).join('---\n');
  await new Promise<void>((resolveApply, reject) => {
    const child = spawn(
      k.binary,
      [
        `--kubeconfig=${k.kubeconfig}`,
        'apply',
        '--server-side',
        '--force-conflicts',
        '--field-manager=territory-test',
        '-f',
        '-',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveApply() : reject(new Error(`kubectl apply failed: ${output.trim()}`)),
    );
    child.stdin.end(text);
  });
}

/** `kubectl wait`, with the object's state in the error when it times out. */
export async function waitForCondition(
  k: Kubectl,
  target: string[],
  condition: string,
  timeoutSeconds: number,
): Promise<void> {
  try {
    await kubectl(
      k,
      ['wait', ...target, `--for=${condition}`, `--timeout=${timeoutSeconds}s`],
      (timeoutSeconds + 30) * 1000,
    );
  } catch (error) {
    const state = await kubectl(k, ['get', ...target, '-o', 'wide']).catch((e: Error) => e.message);
    throw new Error(`${(error as Error).message}\n${state}`);
  }
}
