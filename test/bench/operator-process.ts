// The operator under test, as production runs it: its own Node process running the built manager
// (`npm run build` -> dist/, what the image runs), with the chart's NODE_OPTIONS, its own
// configuration file and kubeconfig, metrics on its health port. Measured from outside only.
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  freePorts,
  type StartedProcess,
  sleep,
  startProcess,
  stopPid,
  tailFile,
} from '../controlplane/processes.ts';

const REPO = resolve(import.meta.dirname, '..', '..');

/** The operator's process entry point; TERRITORY_BENCH_MANAGER points the bench at another build of it. */
export const MANAGER =
  process.env.TERRITORY_BENCH_MANAGER ?? join(REPO, 'dist', 'operator', 'src', 'cli', 'manager.js');

function chartValues(): { nodeOptions?: string; glibcTunables?: string } {
  return parse(readFileSync(join(REPO, 'charts', 'territory-operator', 'values.yaml'), 'utf8'));
}

/** The Node flags the Helm chart gives the manager (values.yaml `nodeOptions`): the bench measures those. */
export function chartNodeFlags(): string[] {
  return (chartValues().nodeOptions ?? '').split(' ').filter(Boolean);
}

/**
 * The bench cluster's configuration: an attested SecNumCloud Outscale region with attestation-only
 * node evidence (the test control plane has no nodes), so the sovereignty gate opens; a short resync
 * so steady state is observed over several periods in a minute.
 */
export function benchOperatorConfig(opts: {
  resyncSeconds: number;
  concurrency: number;
}): Record<string, unknown> {
  return {
    cluster: {
      provider: 'outscale',
      regions: ['cloudgouv-eu-west-1'],
      qualification: 'secnumcloud',
      nodeEvidence: 'attestation-only',
    },
    backupEgress: [{ host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['171.33.64.0/20'] }],
    resyncSeconds: opts.resyncSeconds,
    concurrency: opts.concurrency,
  };
}

export interface OperatorProcess {
  pid: number;
  metricsUrl: string;
  logPath: string;
  /** performance.now() at spawn. */
  spawnedAt: number;
  /** performance.now() when /metrics first answered. */
  readyAt: number;
  alive(): boolean;
  stop(): Promise<string>;
}

export async function startOperator(opts: {
  dir: string;
  kubeconfigPath: string;
  config: Record<string, unknown>;
  /** Extra Node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  nodeFlags?: string[];
  name: string;
}): Promise<OperatorProcess> {
  if (!existsSync(MANAGER)) {
    throw new Error(
      `the operator's process entry point ${MANAGER} does not exist: run \`npm run build\` first ` +
        '(`npm run bench` does), the bench runs the built operator as the image does',
    );
  }
  const configPath = join(opts.dir, `${opts.name}-config.yaml`);
  await writeFile(configPath, stringify(opts.config));
  const [port] = (await freePorts(1)) as [number];
  const logPath = join(opts.dir, `${opts.name}.log`);
  const spawnedAt = performance.now();
  const proc: StartedProcess = startProcess({
    name: opts.name,
    command: process.execPath,
    args: [
      ...(opts.nodeFlags ?? []),
      MANAGER,
      '--config',
      configPath,
      '--kubeconfig',
      opts.kubeconfigPath,
      '--health-port',
      String(port),
    ],
    logPath,
    detached: false,
    env: {
      ...process.env,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      // The chart's allocator settings too (values.yaml `glibcTunables`), unless the caller set some.
      GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? chartValues().glibcTunables ?? '',
    },
  });
  const killOnExit = () => {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {}
  };
  process.once('exit', killOnExit);
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const exit = proc.exitCode();
    if (exit !== undefined)
      throw new Error(`the operator exited (${exit}) at start:\n${await tailFile(logPath)}`);
    const ok = await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline)
      throw new Error(`the operator's ${metricsUrl} did not answer in 60 s:\n${await tailFile(logPath)}`);
    await sleep(50);
  }
  return {
    pid: proc.pid,
    metricsUrl,
    logPath,
    spawnedAt,
    readyAt: performance.now(),
    alive: () => proc.exitCode() === undefined,
    async stop() {
      const how = await stopPid(proc.pid, 15_000);
      process.removeListener('exit', killOnExit);
      return how;
    },
  };
}
