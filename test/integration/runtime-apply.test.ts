// Server-side apply through the runtime against a real kube-apiserver: idempotent, and the second
// apply of the same object makes no write at all (counted from the client's own request metrics).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerSideApplier } from '../../operator/src/runtime/apply.ts';
import { KubeEventRecorder } from '../../operator/src/runtime/events.ts';
import { Informer } from '../../operator/src/runtime/informer.ts';
import { isConflict, KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { RuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { testKubeConfig, uniqueName, waitFor } from '../support/kube.ts';

const metrics = new RuntimeMetrics();
const client = new KubeClient(testKubeConfig(), { recorder: metrics.requestRecorder() });
const applier = new ServerSideApplier(client, { fieldManager: 'runtime-test' });
const namespace = uniqueName('rt-apply');

/** Requests made while running `fn`, by verb. */
async function requestsDuring(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = metrics.requestsByVerb();
  await fn();
  const after = metrics.requestsByVerb();
  const diff: Record<string, number> = {};
  for (const [verb, n] of Object.entries(after))
    if (n !== (before[verb] ?? 0)) diff[verb] = n - (before[verb] ?? 0);
  return diff;
}

beforeAll(async () => {
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
});
afterAll(async () => {
  await client.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  await client.close();
});

describe('ServerSideApplier', () => {
  it('creates with SSA, then a second identical apply makes no write (one GET, zero PATCH)', async () => {
    const desired: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'idem',
        namespace,
        labels: { 'app.kubernetes.io/name': 'x' },
        annotations: { note: 'a' },
      },
      data: { a: '1', b: '2' },
    };
    const first = await applier.apply(desired);
    expect(first.written).toBe(true);
    expect(
      first.object.metadata.managedFields?.some(
        (m) => m.manager === 'runtime-test' && m.operation === 'Apply',
      ),
    ).toBe(true);

    let second: Awaited<ReturnType<typeof applier.apply>> | undefined;
    expect(await requestsDuring(async () => (second = await applier.apply(desired)))).toEqual({ get: 1 });
    expect(second?.written).toBe(false);
    expect(second?.object.metadata.resourceVersion).toBe(first.object.metadata.resourceVersion);
  });

  it('makes zero requests when the caller passes the live object from an informer cache', async () => {
    const desired: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cached', namespace },
      data: { k: 'v' },
    };
    await applier.apply(desired);
    const informer = new Informer(client, { apiVersion: 'v1', kind: 'ConfigMap', namespace });
    informer.start();
    try {
      await informer.waitForSync();
      const live = informer.get(`${namespace}/cached`);
      expect(live).toBeDefined();
      expect(await requestsDuring(() => applier.apply(desired, { live: live ?? null }))).toEqual({});
    } finally {
      await informer.stop();
    }
  });

  it('writes when desired changes, and prunes a field dropped from desired', async () => {
    const base: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'prune', namespace },
      data: { keep: '1', drop: '2' },
    };
    await applier.apply(base);
    const changed = await applier.apply({ ...base, data: { keep: '1' } });
    expect(changed.written).toBe(true);
    expect(changed.object.data).toEqual({ keep: '1' }); // SSA removed the field we no longer apply
    expect((await applier.apply({ ...base, data: { keep: '1' } })).written).toBe(false);
  });

  it('treats canonicalised quantities as equal (1024Mi is stored as 1Gi) and empty maps as owned', async () => {
    const quota: KubeObject = {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'q', namespace },
      spec: { hard: { 'requests.storage': '1024Mi', 'limits.cpu': '0.5', pods: '10' } },
    };
    const first = await applier.apply(quota);
    expect((first.object.spec as { hard: Record<string, string> }).hard['requests.storage']).toBe('1Gi');
    expect((await applier.apply(quota)).written).toBe(false);

    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace },
      spec: {
        containers: [
          {
            name: 'c',
            image: 'registry.invalid/none:1',
            resources: { requests: { memory: '64Mi' }, limits: { cpu: '100m' } },
          },
        ],
        volumes: [{ name: 'scratch', emptyDir: {} }],
      },
    };
    expect((await applier.apply(pod)).written).toBe(true);
    // Defaulted fields (terminationMessagePath, dnsPolicy, ...) do not make the live Pod "different".
    expect((await applier.apply(pod)).written).toBe(false);
  });

  it('repairs drift made by another writer; without force a conflicting apply is refused', async () => {
    const desired: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'drift', namespace },
      data: { mode: 'safe' },
    };
    await applier.apply(desired);
    await client.patch(
      { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'drift' },
      { data: { mode: 'unsafe' } },
      'merge',
      {
        fieldManager: 'someone-else',
      },
    );
    const refused = await applier.apply(desired).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConflict(refused)).toBe(true);
    const repaired = await applier.apply(desired, { force: true });
    expect(repaired.written).toBe(true);
    expect(repaired.object.data).toEqual({ mode: 'safe' });
    expect((await applier.apply(desired)).written).toBe(false);
  });

  it('applies status through the /status subresource, idempotently', async () => {
    const group = `${uniqueName('rtapply')}.territory.test`;
    const crd: KubeObject = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `gizmos.${group}` },
      spec: {
        group,
        scope: 'Cluster',
        names: { plural: 'gizmos', singular: 'gizmo', kind: 'Gizmo', listKind: 'GizmoList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    await client.create(crd);
    try {
      const apiVersion = `${group}/v1`;
      await waitFor(() => client.serves(apiVersion, 'Gizmo'), { what: 'the Gizmo CRD to be served' });
      const name = uniqueName('g');
      await waitFor(
        () => applier.apply({ apiVersion, kind: 'Gizmo', metadata: { name }, spec: { size: 1 } }),
        {
          what: 'the first Gizmo apply',
        },
      );
      const status = {
        apiVersion,
        kind: 'Gizmo',
        metadata: { name },
        status: {
          observedGeneration: 1,
          conditions: [{ type: 'Ready', status: 'True', reason: 'Fine', message: '' }],
        },
      };
      const first = await applier.applyStatus(status);
      expect(first.written).toBe(true);
      expect(first.object.status).toMatchObject({ observedGeneration: 1 });
      expect(
        await requestsDuring(async () => expect((await applier.applyStatus(status)).written).toBe(false)),
      ).toEqual({
        get: 1,
      });
      // Spec applies do not touch status, and vice versa.
      expect(
        (await applier.apply({ apiVersion, kind: 'Gizmo', metadata: { name }, spec: { size: 1 } })).written,
      ).toBe(false);
      expect(await applier.deleteIfExists({ apiVersion, kind: 'Gizmo', name })).toBe(true);
      expect(await applier.deleteIfExists({ apiVersion, kind: 'Gizmo', name })).toBe(false);
    } finally {
      await client.delete({ apiVersion: crd.apiVersion, kind: crd.kind, name: crd.metadata.name ?? '' });
    }
  });
});

describe('KubeEventRecorder', () => {
  it('writes an events.k8s.io Event once for repeats inside the window', async () => {
    const recorder = new KubeEventRecorder(client, {
      reportingController: 'territory.test/runtime',
      reportingInstance: 'test-1',
    });
    const cm = (
      await applier.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'evented', namespace },
        data: {},
      })
    ).object;
    await client.serves('events.k8s.io/v1', 'Event'); // discovery is cached from here on
    const counts = await requestsDuring(async () => {
      for (let i = 0; i < 5; i++)
        recorder.record(cm, { type: 'Warning', reason: 'Flapping', message: 'same thing again' });
      await recorder.flush();
    });
    expect(counts).toEqual({ create: 1 });
    const list = (await client.request('GET', `/apis/events.k8s.io/v1/namespaces/${namespace}/events`)) as {
      items: Array<{ reason: string; note: string; regarding: { name: string; uid: string }; type: string }>;
    };
    const mine = list.items.filter((e) => e.regarding.name === 'evented');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ reason: 'Flapping', note: 'same thing again', type: 'Warning' });
    expect(mine[0]?.regarding.uid).toBe(cm.metadata.uid);
  });
});
