// The operator process exactly as the chart runs it (`node operator/src/cli/manager.ts` with the chart's
// args, its rendered ConfigMap as --config, POD_NAMESPACE/POD_NAME), authenticated as the chart's
// ServiceAccount with a real token and so holding exactly the chart's RBAC, reconciles an example
// Territory to Ready, holds its leader Lease, and never hits a 403. CloudNativePG's operator cannot run
// here (no kubelet), so the test reports the database healthy where CloudNativePG would (Cluster status).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import {
  findManifest,
  installCrdsAsAdmin,
  kubectl,
  type Manifest,
  renderChart,
  serviceAccountKubeconfig,
} from '../helm/chart.ts';
import { uniqueName, waitFor } from '../support/kube.ts';

const admin = inject('kubeconfigPath');
const kubectlPath = inject('kubectlPath');
const ROOT = resolve(import.meta.dirname, '..', '..');
const SHARD_LABEL = 'test.sovereign.dev/shard';

const release = uniqueName('chart-op');
const namespace = release;
const podName = `${release}-pod-0`;
const name = uniqueName('acigne').slice(0, 40);
let clusterScoped: Manifest[] = [];
let manager: ChildProcess | undefined;
let exited: Promise<number | null> | undefined;
const logs: string[] = [];
let healthPort = 0;

async function asAdmin(args: string[], input?: string): Promise<string> {
  const r = await kubectl(kubectlPath, admin, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} (admin) failed:\n${r.stderr}`);
  return r.stdout;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  await new Promise((ok) => server.close(ok));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

type Condition = { type: string; status: string; reason: string };
async function territory(): Promise<{
  status?: { conditions?: Condition[] };
  metadata: { generation: number };
}> {
  return JSON.parse(await asAdmin(['get', 'territory', name, '-o', 'json']));
}

beforeAll(async () => {
  await installCrdsAsAdmin(kubectlPath, admin);
  await asAdmin(['create', 'namespace', namespace]);
  // What the platform team attests for the example's cluster (OVHcloud GRA7); no nodes here, so attestation only.
  const { manifests } = await renderChart({
    release,
    namespace,
    values: {
      config: {
        cluster: {
          provider: 'ovhcloud',
          regions: ['GRA7'],
          qualification: 'standard',
          nodeEvidence: 'attestation-only',
        },
        // The example commune's backup endpoint (a documentation range: nothing is sent).
        backupEgress: [{ host: 's3.gra.io.cloud.ovh.net', cidrs: ['198.51.100.0/24'] }],
        shardSelector: `${SHARD_LABEL}=${release}`,
        resyncSeconds: 30,
      },
    },
  });
  // Everything but the pods (no kubelet here): the process runs on this machine instead.
  const installed = manifests.filter((m) => m.kind !== 'Deployment');
  clusterScoped = installed.filter((m) => m.kind.startsWith('Cluster'));
  await asAdmin(['apply', '--server-side', '-f', '-'], installed.map((m) => stringify(m)).join('---\n'));

  const deployment = findManifest(manifests, 'Deployment');
  const pod = (
    deployment.spec as {
      template: {
        spec: {
          serviceAccountName: string;
          containers: { args: string[]; env: { name: string; value?: string }[] }[];
        };
      };
    }
  ).template.spec;
  const kubeconfig = await serviceAccountKubeconfig({
    kubectlPath,
    adminKubeconfig: admin,
    namespace,
    serviceAccount: pod.serviceAccountName,
  });
  const configMap = findManifest(manifests, 'ConfigMap');
  const dir = mkdtempSync(join(tmpdir(), 'territory-chart-operator-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, (configMap.data as Record<string, string>)['config.yaml'] ?? '');

  // The chart's own args, with the config path and health port of this machine.
  healthPort = await freePort();
  const args = (pod.containers[0]?.args ?? []).map((a) =>
    a.startsWith('--config=')
      ? `--config=${configFile}`
      : a.startsWith('--health-port=')
        ? `--health-port=${healthPort}`
        : a,
  );
  expect(args).toContain('--leader-elect');
  manager = spawn(
    process.execPath,
    [join(ROOT, 'operator/src/cli/manager.ts'), ...args, `--kubeconfig=${kubeconfig}`],
    {
      env: {
        ...process.env,
        POD_NAMESPACE: namespace,
        POD_NAME: podName,
        KUBECONFIG: '',
        // The chart's heap bounds: the operator must run within them.
        NODE_OPTIONS: pod.containers[0]?.env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '',
        GLIBC_TUNABLES: pod.containers[0]?.env.find((e) => e.name === 'GLIBC_TUNABLES')?.value ?? '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  exited = new Promise((ok) => manager?.once('exit', ok));
  for (const stream of [manager.stdout, manager.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => logs.push(...chunk.split('\n').filter(Boolean)));
  }
}, 600_000);

afterAll(async () => {
  if (manager && manager.exitCode === null) manager.kill('SIGKILL');
  await kubectl(kubectlPath, admin, [
    'delete',
    'namespace',
    namespace,
    name,
    '--ignore-not-found',
    '--wait=false',
  ]);
  for (const m of clusterScoped)
    await kubectl(kubectlPath, admin, ['delete', m.kind, m.metadata.name, '--ignore-not-found']);
});

describe("the operator under exactly the chart's RBAC", () => {
  it('leads, reconciles the example commune to Ready, and is never refused by the API server', async () => {
    const lease = await waitFor(
      async () => {
        const r = await kubectl(kubectlPath, admin, [
          'get',
          'lease',
          'territory-operator',
          '-n',
          namespace,
          '-o',
          'json',
        ]);
        const holder =
          r.code === 0
            ? (JSON.parse(r.stdout) as { spec: { holderIdentity?: string } }).spec.holderIdentity
            : undefined;
        return holder === podName ? holder : undefined;
      },
      {
        what: `the operator to hold its Lease in ${namespace} (logs: ${logs.slice(-5).join('\n')})`,
        timeoutMs: 60_000,
      },
    );
    expect(lease).toBe(podName);

    const example = parseYaml(
      readFileSync(join(ROOT, 'examples', 'commune-acigne.yaml'), 'utf8'),
    ) as Manifest & {
      spec: { backup: { destination: { credentialsSecret: { name: string } } } };
    };
    await asAdmin(
      ['create', '-f', '-'],
      JSON.stringify({ ...example, metadata: { name, labels: { [SHARD_LABEL]: release } } }),
    );
    await waitFor(async () => (await kubectl(kubectlPath, admin, ['get', 'namespace', name])).code === 0, {
      what: `namespace ${name}`,
      timeoutMs: 30_000,
    });
    // What the authority provides: its backup credentials.
    await asAdmin(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: example.spec.backup.destination.credentialsSecret.name, namespace: name },
        stringData: { ACCESS_KEY_ID: 'AKIATEST', ACCESS_SECRET_KEY: randomBytes(20).toString('hex') },
      }),
    );
    await waitFor(
      async () =>
        (await kubectl(kubectlPath, admin, ['get', 'clusters.postgresql.cnpg.io', 'db', '-n', name])).code ===
        0,
      {
        what: `the CloudNativePG Cluster in ${name}`,
        timeoutMs: 30_000,
      },
    );
    await asAdmin([
      'patch',
      'clusters.postgresql.cnpg.io',
      'db',
      '-n',
      name,
      '--subresource=status',
      '--type=merge',
      '-p',
      // Acigné is a small commune: its database has one instance (database-sizing.ts).
      JSON.stringify({ status: { phase: 'Cluster in healthy state', instances: 1, readyInstances: 1 } }),
    ]);
    const ready = await waitFor(
      async () => {
        const t = await territory();
        const c = t.status?.conditions?.find((x) => x.type === 'Ready');
        return c?.status === 'True' ? t : undefined;
      },
      { what: `${name} to become Ready (conditions: see the Territory)`, timeoutMs: 60_000 },
    );
    expect(ready.status?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('False');

    const health = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    expect(health.status).toBe(200);
    // Not one request refused: the chart's RBAC is sufficient.
    const refused = logs.filter((l) => /forbidden|"statusCode":403|\b403\b/i.test(l));
    expect(refused).toEqual([]);
  });

  it('releases the Territory on delete (Retain), then stops on SIGTERM, exiting 0 and releasing its Lease', async () => {
    await asAdmin(['delete', 'territory', name, '--timeout=60s']);
    // deletionPolicy Retain: the namespace (the authority's data) stays.
    expect((await kubectl(kubectlPath, admin, ['get', 'namespace', name])).code).toBe(0);
    manager?.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lease = JSON.parse(
      await asAdmin(['get', 'lease', 'territory-operator', '-n', namespace, '-o', 'json']),
    ) as {
      spec: { holderIdentity?: string };
    };
    expect(lease.spec.holderIdentity ?? '').toBe('');
    expect(logs.filter((l) => /forbidden|"statusCode":403/i.test(l))).toEqual([]);
  });
});
