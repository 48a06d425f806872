// The Manager as a real process: health endpoints, and SIGTERM in the middle of a reconcile: it
// stops taking work, lets the reconcile finish, releases its Lease, and exits 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { testKubeConfig, uniqueName, waitFor } from '../support/kube.ts';

const admin = new KubeClient(testKubeConfig());
const namespace = uniqueName('rt-manager');
const NODE = `${process.cwd()}/node_modules/.bin/node`;

beforeAll(async () => {
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
});
afterAll(async () => {
  await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  await admin.close();
});

interface Line {
  event?: string;
  msg?: string;
  port?: number;
  [k: string]: unknown;
}

function startChild(): { child: ChildProcess; lines: Line[]; exited: Promise<number | null> } {
  const child = spawn(NODE, ['test/integration/runtime-child-manager.ts'], {
    env: { ...process.env, CHILD_KUBECONFIG: inject('kubeconfigPath'), CHILD_NAMESPACE: namespace },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Line);
    } catch {
      lines.push({ msg: l });
    }
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0 && stderr) lines.push({ msg: `stderr: ${stderr}` });
      resolve(code);
    }),
  );
  return { child, lines, exited };
}

describe('Manager process', () => {
  it('serves /healthz /readyz /metrics, and on SIGTERM finishes the in-flight reconcile, releases the lease, exits 0', async () => {
    const { child, lines, exited } = startChild();
    try {
      const port = await waitFor(() => lines.find((l) => l.event === 'health-port')?.port, {
        what: `the child's health port (log so far: ${JSON.stringify(lines.slice(-5))})`,
      });
      const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
      await waitFor(async () => (await get('/readyz')).status === 200, { what: 'readiness' });
      expect((await get('/healthz')).status).toBe(200);
      await waitFor(
        async () =>
          (await (await get('/metrics')).text()).includes(
            'leader_election_master_status{name="runtime-child"} 1',
          ),
        {
          what: 'the child to become leader',
          timeoutMs: 20_000,
        },
      );
      const metrics = await (await get('/metrics')).text();
      expect(metrics).toMatch(
        /rest_client_requests_total\{verb="list",resource="configmaps",code="200"\} \d+/,
      );

      await admin.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'work', namespace, labels: { child: 'yes' } },
      });
      await waitFor(() => lines.some((l) => l.event === 'reconcile-started'), {
        what: 'the reconcile to start',
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      const events = lines.map((l) => l.event ?? l.msg);
      const finished = events.indexOf('reconcile-finished');
      const released = events.indexOf('released lease');
      expect(finished, JSON.stringify(events)).toBeGreaterThanOrEqual(0);
      expect(released, JSON.stringify(events)).toBeGreaterThan(finished);
      const lease = await admin.get({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        namespace,
        name: 'runtime-child',
      });
      expect(lease, 'the Lease should still exist, released').toBeDefined();
      const spec = lease?.spec as { holderIdentity?: string | null } | undefined;
      expect(spec?.holderIdentity ?? null).toBeNull();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
