// Issue 4 acceptance: two operator processes with leader election; exactly one reconciles; killing it
// with SIGKILL (no chance to release its Lease), the other takes over and a Territory applied
// afterwards converges.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { ensureCrds, SHARD_LABEL } from '../support/operator.ts';

const MANAGER = resolve(import.meta.dirname, '..', '..', 'operator', 'src', 'cli', 'manager.ts');

interface Replica {
  identity: string;
  child: ChildProcess;
  lines: string[];
}

let client: KubeClient;
const shard = uniqueName('failover');
const leaseNamespace = uniqueName('operator-system');
const replicas: Replica[] = [];

function startReplica(identity: string, configPath: string): Replica {
  const child = spawn(
    process.execPath,
    [
      MANAGER,
      '--config',
      configPath,
      '--kubeconfig',
      inject('kubeconfigPath'),
      '--leader-elect',
      '--health-port',
      '0',
    ],
    {
      env: { ...process.env, POD_NAMESPACE: leaseNamespace, POD_NAME: identity },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const replica: Replica = { identity, child, lines: [] };
  const collect = (chunk: Buffer) => replica.lines.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  replicas.push(replica);
  return replica;
}

function territory(name: string): KubeObject {
  return {
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'Territory',
    metadata: { name, labels: { [SHARD_LABEL]: shard } },
    spec: {
      authority: { kind: 'commune', code: '29019' },
      controller: {
        contactEmail: 'rgpd@brest.example.fr',
        dpo: { email: 'dpo@brest.example.fr' },
        purposes: [
          { name: 'eau', dataCategories: ['meters'], dataSubjects: ['subscribers'], retentionDays: 365 },
        ],
      },
      backup: {
        destination: {
          endpoint: 'https://s3.gra.io.cloud.ovh.net',
          bucket: 'brest-backups',
          credentialsSecret: { name: 's3' },
        },
      },
    },
  };
}

async function holder(): Promise<string | undefined> {
  const lease = await client.get({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    name: 'territory-operator',
    namespace: leaseNamespace,
  });
  return (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity || undefined;
}

async function converged(name: string): Promise<boolean> {
  const t = await client.get({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
  const status = t?.status as
    | { observedGeneration?: number; conditions?: { type: string; status: string }[] }
    | undefined;
  return (
    status?.observedGeneration === t?.metadata.generation &&
    !!status?.conditions?.some((c) => c.type === 'NamespaceReady' && c.status === 'True')
  );
}

beforeAll(async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfigPath'));
  client = new KubeClient(kc);
  await ensureCrds(client);
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: leaseNamespace } });
  const dir = mkdtempSync(join(tmpdir(), 'failover-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    stringify({
      cluster: {
        provider: 'ovhcloud',
        regions: ['GRA7'],
        qualification: 'standard',
        nodeEvidence: 'attestation-only',
      },
      shardSelector: `${SHARD_LABEL}=${shard}`,
      resyncSeconds: 30,
    }),
  );
  startReplica('replica-a', configPath);
  startReplica('replica-b', configPath);
});

afterAll(() => {
  for (const r of replicas) r.child.kill('SIGKILL');
});

describe('leader election with two operator processes', () => {
  it('has exactly one leader that reconciles, and fails over after SIGKILL', async () => {
    const first = await waitFor(holder, { what: 'a leader to hold the Lease', timeoutMs: 30_000 });
    const leader = replicas.find((r) => r.identity === first) as Replica;
    const standby = replicas.find((r) => r.identity !== first) as Replica;
    expect(leader).toBeDefined();

    const before = uniqueName('before');
    await client.create(territory(before));
    await waitFor(() => converged(before), { what: `${before} reconciled by ${first}`, timeoutMs: 20_000 });
    // Only the leader reconciled: the standby logged no reconcile of it.
    expect(standby.lines.filter((l) => l.includes(before))).toEqual([]);
    expect(leader.lines.some((l) => l.includes(before))).toBe(true);

    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    const next = await waitFor(
      async () => ((await holder()) === standby.identity ? standby.identity : undefined),
      {
        what: `${standby.identity} to take the Lease`,
        timeoutMs: 40_000,
      },
    );
    const takeoverSeconds = (Date.now() - killedAt) / 1000;
    expect(next).toBe(standby.identity);

    const after = uniqueName('after');
    await client.create(territory(after));
    await waitFor(() => converged(after), {
      what: `${after} reconciled by the new leader`,
      timeoutMs: 20_000,
    });
    console.log(
      `failover: ${standby.identity} took over ${takeoverSeconds.toFixed(1)} s after SIGKILL of ${first}`,
    );
    expect(takeoverSeconds).toBeLessThan(30);
  });
});
