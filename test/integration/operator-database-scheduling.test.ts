// A Territory says why its database cannot start when the scheduler cannot place its Pods (typically no
// node in an allowed region): the real operator against a real API server with CloudNativePG's CRDs. No
// scheduler or kubelet runs here, so the test plays their parts where they would write: CloudNativePG's
// Cluster status, and the Pod's PodScheduled condition exactly as kube-scheduler sets it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { parse } from 'yaml';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

type Condition = { type: string; status: string; reason: string; message: string };
type Territory = KubeObject & { status?: { conditions?: Condition[] } };

const SCHEDULER_SAYS =
  "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. " +
  'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';

let op: TestOperator | undefined;
afterAll(async () => {
  await op?.stop();
});

const condition = (t: Territory | undefined, type: string) =>
  t?.status?.conditions?.find((c) => c.type === type);

describe('a database Pod the scheduler cannot place', () => {
  it('turns DatabaseReady into DatabaseUnschedulable, Stalled, until the database is healthy', async () => {
    onTestFailed(() => {
      console.log(`operator log (last 40 lines):\n${op?.logs.slice(-40).join('\n')}`);
    });
    op = await startTestOperator({
      kubeconfigPath: inject('kubeconfigPath'),
      shard: uniqueName('scheduling'),
      config: {
        cluster: {
          provider: 'ovhcloud',
          regions: ['GRA7'],
          qualification: 'standard',
          nodeEvidence: 'attestation-only',
        },
        backupEgress: [{ host: 's3.gra.io.cloud.ovh.net', cidrs: ['198.51.100.0/24'] }],
      },
    });
    const { client } = op;
    const example = parse(
      readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'commune-acigne.yaml'), 'utf8'),
    ) as Territory;
    const name = uniqueName('unschedulable');
    await client.create(op.label({ ...example, metadata: { ...example.metadata, name } }));
    const read = async () =>
      (await client.get({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name })) as
        | Territory
        | undefined;
    // The authority's backup credentials, so that only the database keeps the Territory from Ready.
    await waitFor(() => client.get({ apiVersion: 'v1', kind: 'Namespace', name }), {
      what: `namespace ${name}`,
      timeoutMs: 20_000,
    });
    await client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'backup-s3', namespace: name },
      stringData: { ACCESS_KEY_ID: 'AKIATEST', ACCESS_SECRET_KEY: randomBytes(20).toString('hex') },
    });
    const clusterRef = { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', name: 'db', namespace: name };
    await waitFor(() => client.get(clusterRef), { what: `Cluster ${name}/db`, timeoutMs: 20_000 });

    // CloudNativePG starts: its phase alone says the database is on its way.
    const cnpgReports = (phaseReason: string) =>
      client.patch(
        clusterRef,
        // Acigné is a small commune: its database has one instance (database-sizing.ts).
        { status: { phase: 'Setting up primary', phaseReason, instances: 1 } },
        'merge',
        {
          subresource: 'status',
        },
      );
    await cnpgReports('Creating primary instance db-1');
    await waitFor(async () => condition(await read(), 'DatabaseReady')?.reason === 'DatabaseProvisioning', {
      what: `${name} to report DatabaseProvisioning`,
      timeoutMs: 20_000,
    });

    // Its initdb Job Pod, Pending, with the scheduler's verdict (the ServiceAccount controller may not
    // have made the namespace's `default` ServiceAccount yet: retried).
    const podName = 'db-1-initdb-x7k2p';
    await waitFor(
      () =>
        client.create({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: podName,
            namespace: name,
            labels: { 'cnpg.io/cluster': 'db', 'cnpg.io/jobRole': 'initdb' },
          },
          spec: {
            automountServiceAccountToken: false,
            containers: [
              {
                name: 'initdb',
                image: 'ghcr.io/cloudnative-pg/postgresql:17',
                resources: {
                  requests: { cpu: '100m', memory: '64Mi' },
                  limits: { cpu: '200m', memory: '128Mi' },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
          },
        }),
      { what: `Pod ${name}/${podName} to be created`, timeoutMs: 20_000 },
    );
    await client.patch(
      { apiVersion: 'v1', kind: 'Pod', name: podName, namespace: name },
      {
        status: {
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: SCHEDULER_SAYS,
              lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
            },
          ],
        },
      },
      'merge',
      { subresource: 'status' },
    );
    // Pods are not watched: the next reconcile (here CloudNativePG's next status write) reads them.
    await cnpgReports('Waiting for the initdb Job');
    const stuck = await waitFor(
      async () => {
        const t = await read();
        return condition(t, 'DatabaseReady')?.reason === 'DatabaseUnschedulable' ? t : undefined;
      },
      { what: `${name} to report DatabaseUnschedulable`, timeoutMs: 20_000 },
    );
    const database = condition(stuck, 'DatabaseReady');
    expect(database?.status).toBe('False');
    expect(database?.message).toContain(`Pod ${name}/${podName} cannot be scheduled`);
    expect(database?.message).toContain(SCHEDULER_SAYS);
    expect(database?.message).toContain('spec.hosting.regions');
    expect(database?.message).toContain('GRA7');
    expect(condition(stuck, 'Ready')).toMatchObject({ status: 'False', reason: 'DatabaseUnschedulable' });
    expect(condition(stuck, 'Stalled')).toMatchObject({ status: 'True', reason: 'DatabaseUnschedulable' });
    expect(condition(stuck, 'Reconciling')?.status).toBe('False');

    // A healthy database ignores its Pods, even one still reported unschedulable.
    await client.patch(
      clusterRef,
      { status: { phase: 'Cluster in healthy state', phaseReason: '', instances: 1, readyInstances: 1 } },
      'merge',
      { subresource: 'status' },
    );
    const healthy = await waitFor(
      async () => {
        const t = await read();
        return condition(t, 'DatabaseReady')?.status === 'True' ? t : undefined;
      },
      { what: `${name} to report its database healthy`, timeoutMs: 20_000 },
    );
    expect(condition(healthy, 'DatabaseReady')?.reason).toBe('Healthy');
    await waitFor(async () => condition(await read(), 'Ready')?.status === 'True', {
      what: `${name} to be Ready`,
      timeoutMs: 20_000,
    });
    expect(condition(await read(), 'Stalled')?.status).toBe('False');
  });
});
