// Issue 4 acceptance, part 1: each example Territory, reconciled by the real operator against a real
// kube-apiserver (+ etcd + kube-controller-manager) with CloudNativePG's real CRDs, yields its
// namespace and every owned object, with labels and owner references, and honest conditions.
// CloudNativePG's operator cannot run here (no kubelet), so the test reports the database healthy the
// way CloudNativePG would (its Cluster status) and checks that the Territory then becomes Ready.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { parse } from 'yaml';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const run = promisify(execFile);
const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

/** The cluster each example is meant for: what the platform team would attest. */
const CLUSTERS: Record<string, Record<string, unknown>> = {
  'commune-acigne.yaml': { provider: 'ovhcloud', regions: ['GRA7'], qualification: 'standard' },
  'departement-ille-et-vilaine.yaml': {
    provider: 'scaleway',
    regions: ['fr-par'],
    qualification: 'standard',
  },
  'epci-rennes-metropole.yaml': {
    provider: 'outscale',
    regions: ['cloudgouv-eu-west-1'],
    qualification: 'secnumcloud',
  },
  'region-bretagne.yaml': { provider: 'ovhcloud', regions: ['EU-WEST-PAR'], qualification: 'standard' },
};

type Territory = KubeObject & {
  spec: {
    backup: {
      physical?: { enabled?: boolean };
      destination: {
        endpoint: string;
        credentialsSecret: { name: string; accessKeyIdKey?: string; secretAccessKeyKey?: string };
      };
    };
    encryption?: { customerKey?: { secretName: string; key?: string } };
  };
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
};

const operators: TestOperator[] = [];
afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
});

const condition = (t: Territory | undefined, type: string) =>
  t?.status?.conditions?.find((c) => c.type === type);

describe.each(Object.keys(CLUSTERS))('example %s', (file) => {
  it('converges to its whole stack, then Ready once the database reports healthy', async () => {
    let op: TestOperator | undefined;
    onTestFailed(() => {
      console.log(`operator log (last 40 lines):\n${op?.logs.slice(-40).join('\n')}`);
    });
    const shard = uniqueName('examples');
    const example = parse(readFileSync(join(EXAMPLES, file), 'utf8')) as Territory;
    // What the platform team configures with the example's endpoint: the CIDRs its host answers on.
    const backupHost = new URL(example.spec.backup.destination.endpoint).hostname;
    op = await startTestOperator({
      kubeconfigPath: inject('kubeconfigPath'),
      shard,
      config: {
        cluster: { ...CLUSTERS[file], nodeEvidence: 'attestation-only' },
        backupEgress: [{ host: backupHost, cidrs: ['198.51.100.0/24'] }],
      },
    });
    operators.push(op);
    const { client } = op;
    const name = uniqueName(example.metadata.name ?? 'example').slice(0, 40);
    // Unique names so runs never collide; an explicit spec.namespace gets the same unique name.
    const spec = example.spec as Territory['spec'] & { namespace?: string };
    const territory = op.label({
      ...example,
      metadata: { ...example.metadata, name },
      spec: spec.namespace ? { ...spec, namespace: name } : spec,
    }) as Territory;
    const ref = { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name };
    const read = async () => (await client.get(ref)) as Territory | undefined;

    const applied = Date.now();
    await client.create(territory);

    // Namespace and guardrails come first, before any credential exists.
    const ns = await waitFor(() => client.get({ apiVersion: 'v1', kind: 'Namespace', name }), {
      what: `namespace ${name}`,
      timeoutMs: 10_000,
    });
    expect(ns.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'sovereign.dev/territory': name,
      'app.kubernetes.io/managed-by': 'territory-operator',
    });
    const nsSeconds = (Date.now() - applied) / 1000;

    // What the authority provides: backup credentials, and its own key when it holds one.
    const creds = territory.spec.backup.destination.credentialsSecret;
    await client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: creds.name, namespace: name },
      stringData: {
        [creds.accessKeyIdKey ?? 'ACCESS_KEY_ID']: 'AKIATEST',
        [creds.secretAccessKeyKey ?? 'ACCESS_SECRET_KEY']: randomBytes(20).toString('hex'),
      },
    });
    const ck = territory.spec.encryption?.customerKey;
    if (ck) {
      await client.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: ck.secretName, namespace: name },
        data: { [ck.key ?? 'kek']: randomBytes(32).toString('base64') },
      });
    }
    const provided = Date.now();

    // Physical backups (readable by the storage provider) only where the example opts in.
    const physical = territory.spec.backup.physical?.enabled === true;
    const scheduledBackup: [string, string, string] = [
      'postgresql.cnpg.io/v1',
      'ScheduledBackup',
      'physical-backup',
    ];
    const expected: [string, string, string][] = [
      ['v1', 'ResourceQuota', 'territory-quota'],
      ['v1', 'LimitRange', 'territory-limits'],
      ['networking.k8s.io/v1', 'NetworkPolicy', 'default-deny'],
      ['v1', 'Secret', 'territory-keyring'],
      ['v1', 'Secret', 'db-owner'],
      ['postgresql.cnpg.io/v1', 'Cluster', 'db'],
      ...(physical ? [scheduledBackup] : []),
      ['batch/v1', 'CronJob', 'logical-backup'],
    ];
    for (const [apiVersion, kind, objectName] of expected) {
      const o = await waitFor(() => client.get({ apiVersion, kind, name: objectName, namespace: name }), {
        what: `${kind} ${name}/${objectName}`,
        timeoutMs: 10_000,
      });
      expect(o.metadata.labels?.['sovereign.dev/territory'], `${kind} label`).toBe(name);
      expect(o.metadata.ownerReferences?.[0], `${kind} owner`).toMatchObject({
        kind: 'Territory',
        name,
        controller: true,
      });
    }
    const stackSeconds = (Date.now() - provided) / 1000;
    if (!physical) {
      const [apiVersion, kind, objectName] = scheduledBackup;
      expect(await client.get({ apiVersion, kind, name: objectName, namespace: name })).toBeUndefined();
      const cluster = await client.get({ apiVersion, kind: 'Cluster', name: 'db', namespace: name });
      expect(
        (cluster?.spec as { backup?: unknown } | undefined)?.backup,
        'no barmanObjectStore',
      ).toBeUndefined();
    }

    // Honest health: everything but the database is ready; the database waits for CloudNativePG.
    const waiting = await waitFor(
      async () => {
        const t = await read();
        return condition(t, 'DatabaseReady')?.reason === 'WaitingForCloudNativePG' &&
          condition(t, 'BackupReady')?.status === 'True'
          ? t
          : undefined;
      },
      { what: `${name} to report its parts`, timeoutMs: 10_000 },
    );
    for (const part of [
      'AuthorityVerified',
      'SovereigntyCompliant',
      'NamespaceReady',
      'KeysReady',
      'BackupReady',
    ]) {
      expect(condition(waiting, part)?.status, part).toBe('True');
    }
    expect(condition(waiting, 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForCloudNativePG' });
    expect(condition(waiting, 'Reconciling')?.status).toBe('True');
    expect(condition(waiting, 'Stalled')?.status).toBe('False');

    // Report the database healthy exactly where CloudNativePG would: every instance the Cluster asks for
    // (the example's, or its profile's: the operator sizes the database, database-sizing.ts).
    const cluster = await client.get({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      name: 'db',
      namespace: name,
    });
    const instances = (cluster?.spec as { instances?: number } | undefined)?.instances;
    expect(instances, 'the Cluster always names its instances').toBeGreaterThanOrEqual(1);
    await client.patch(
      { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', name: 'db', namespace: name },
      { status: { phase: 'Cluster in healthy state', instances, readyInstances: instances } },
      'merge',
      { subresource: 'status' },
    );
    const { kubectl } = await resolveBinaries();
    await run(kubectl, [
      '--kubeconfig',
      inject('kubeconfigPath'),
      'wait',
      '--for=condition=Ready',
      `territory/${name}`,
      '--timeout=30s',
    ]);
    const ready = await read();
    expect(ready?.status?.observedGeneration).toBe(ready?.metadata.generation);
    expect(condition(ready, 'Reconciling')?.status).toBe('False');
    console.log(
      `${file}: namespace in ${nsSeconds.toFixed(1)} s, whole stack ${stackSeconds.toFixed(1)} s after the authority's Secrets`,
    );
  });
});
