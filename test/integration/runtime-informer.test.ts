// The runtime's Informer against a real kube-apiserver: it must see every add/update/delete, and
// recover on its own when its watch breaks, goes silent, or its resourceVersion expires (410 Gone).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer } from '../../operator/src/runtime/informer.ts';
import { isGone, KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { FaultProxy } from '../support/fault-proxy.ts';
import { testKubeConfig, uniqueName, waitFor } from '../support/kube.ts';
import { apiServerAddress, kubeConfigThrough } from './runtime-support.ts';

const admin = new KubeClient(testKubeConfig());
const namespace = uniqueName('rt-informer');

function configMap(name: string, data: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels: { suite: 'informer' } },
    data,
  };
}

beforeAll(async () => {
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
});

afterAll(async () => {
  await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  await admin.close();
});

describe('Informer', () => {
  it('metadata only: sees Secrets come and change without ever receiving their data', async () => {
    const informer = new Informer(admin, {
      apiVersion: 'v1',
      kind: 'Secret',
      namespace,
      metadataOnly: true,
    });
    const updates: string[] = [];
    informer.on({ update: (_old, o) => updates.push(o.metadata.resourceVersion ?? '') });
    informer.start();
    try {
      await informer.waitForSync();
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'authority-s3', namespace },
        stringData: { AWS_SECRET_ACCESS_KEY: 'never-cached' },
      } as KubeObject;
      await admin.create(secret);
      const key = `${namespace}/authority-s3`;
      const seen = await waitFor(() => informer.get(key), { what: 'the Secret’s metadata' });
      expect(seen.kind).toBe('Secret');
      expect(JSON.stringify(seen)).not.toContain('never-cached');
      expect(seen).not.toHaveProperty('data');
      const changed = await admin.mergePatch(
        { apiVersion: 'v1', kind: 'Secret', namespace, name: 'authority-s3' },
        { stringData: { AWS_SECRET_ACCESS_KEY: 'rotated' } },
      );
      await waitFor(() => (updates.includes(changed.metadata.resourceVersion ?? '-') ? true : undefined), {
        what: 'the update of the rotated Secret',
      });
    } finally {
      await informer.stop();
    }
  });

  it('with a transform, caches the reduced object and stays quiet about changes only to what it drops', async () => {
    const informer = new Informer(admin, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace,
      labelSelector: 'suite=informer-transform',
      // Keep `data.kept`, drop everything else under data, and managedFields: their `time` moves with
      // any write that lands in another second, which would make the noise visible now and then.
      transform: (o) => ({
        ...o,
        metadata: { ...o.metadata, managedFields: undefined },
        data: { kept: (o.data as Record<string, string>)?.kept ?? '' },
      }),
      quietWhenUnchanged: true,
    });
    const updates: string[] = [];
    informer.on({ update: (_old, o) => updates.push(String((o.data as Record<string, string>).kept)) });
    informer.start();
    try {
      await informer.waitForSync();
      const cm = configMap('shaped', { kept: 'a', noise: '1' });
      cm.metadata.labels = { suite: 'informer-transform' };
      const created = await admin.create(cm);
      const key = `${namespace}/shaped`;
      await waitFor(() => informer.get(key), { what: 'shaped in the cache' });
      expect(informer.get(key)?.data).toEqual({ kept: 'a' });
      const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'shaped' };
      const noisy = await admin.mergePatch(ref, { data: { noise: '2' } });
      expect(noisy.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
      await admin.mergePatch(ref, { data: { kept: 'b' } });
      await waitFor(() => (updates.length > 0 ? updates : undefined), { what: 'the visible update' });
      // The noise-only change came first and was not reported; the kept one was, once.
      expect(updates).toEqual(['b']);
      // Every read is a fresh copy: mutating it does not touch the cache.
      const copy = informer.get(key) as KubeObject;
      (copy.data as Record<string, string>).kept = 'mutated';
      expect(informer.get(key)?.data).toEqual({ kept: 'b' });
      expect(informer.listInNamespace(namespace).map((o) => o.metadata.name)).toEqual(['shaped']);
    } finally {
      await informer.stop();
    }
  });

  it('lists, then sees add, update and delete through its watch', async () => {
    await admin.create(configMap('before-start', { a: '1' }));
    const informer = new Informer(admin, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace,
      labelSelector: 'suite=informer',
    });
    const seen: string[] = [];
    informer.on({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (_old, o) => seen.push(`update ${o.metadata.name} ${JSON.stringify(o.data)}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    informer.start();
    try {
      await informer.waitForSync();
      expect(informer.hasSynced()).toBe(true);
      expect(informer.get(`${namespace}/before-start`)?.kind).toBe('ConfigMap');

      await admin.create(configMap('cm1', { v: '1' }));
      await waitFor(() => informer.get(`${namespace}/cm1`), { what: 'cm1 in the cache' });
      await admin.mergePatch(
        { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'cm1' },
        { data: { v: '2' } },
      );
      await waitFor(
        () =>
          informer.get(`${namespace}/cm1`)?.data?.toString() !== undefined &&
          seen.some((s) => s.includes('"v":"2"')),
        {
          what: 'the update of cm1',
        },
      );
      // The per-namespace index follows adds, updates and deletes.
      const inNamespace = () =>
        informer
          .listInNamespace(namespace)
          .map((o) => `${o.metadata.name} ${JSON.stringify(o.data)}`)
          .sort();
      expect(inNamespace()).toEqual(['before-start {"a":"1"}', 'cm1 {"v":"2"}']);
      expect(informer.listInNamespace('no-such-namespace')).toEqual([]);
      await admin.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'cm1' });
      await waitFor(() => informer.get(`${namespace}/cm1`) === undefined, { what: 'cm1 to leave the cache' });
      expect(inNamespace()).toEqual(['before-start {"a":"1"}']);
      expect(seen).toEqual(['add before-start', 'add cm1', 'update cm1 {"v":"2"}', 'delete cm1']);
      expect(informer.stats.lists).toBe(1);
    } finally {
      await informer.stop();
    }
  });

  it('recovers after its connection is reset, catching up on what changed meanwhile', async () => {
    const proxy = await FaultProxy.start(apiServerAddress());
    const client = new KubeClient(kubeConfigThrough(proxy));
    const informer = new Informer(client, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace,
      labelSelector: 'suite=informer',
      backoff: { baseMs: 100, maxMs: 1000 },
    });
    informer.start();
    try {
      await informer.waitForSync();
      await admin.create(configMap('reset-1'));
      await waitFor(() => informer.get(`${namespace}/reset-1`), { what: 'reset-1 in the cache' });

      proxy.refuse(true);
      proxy.cut();
      await admin.create(configMap('reset-2'));
      await admin.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'reset-1' });
      await waitFor(() => informer.stats.restarts >= 2, { what: 'the informer to retry while refused' });
      proxy.refuse(false);

      await waitFor(() => informer.get(`${namespace}/reset-2`) && !informer.get(`${namespace}/reset-1`), {
        what: 'the cache to catch up after the outage',
      });
      expect(informer.stats.watches).toBeGreaterThanOrEqual(2);
    } finally {
      await informer.stop();
      await client.close();
      await proxy.close();
    }
  });

  it('restarts a watch that goes silent (connection open, nothing delivered) after its deadline', async () => {
    const proxy = await FaultProxy.start(apiServerAddress());
    const client = new KubeClient(kubeConfigThrough(proxy));
    const informer = new Informer(client, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace,
      labelSelector: 'suite=informer',
      watchTimeoutSeconds: 300,
      silenceDeadlineMs: 1500,
    });
    informer.start();
    try {
      await informer.waitForSync();
      // Prove the watch is live (an event arrives through it), then make every open connection mute.
      await admin.create(configMap('before-freeze'));
      await waitFor(() => informer.get(`${namespace}/before-freeze`), {
        what: 'before-freeze through the watch',
      });
      proxy.freeze();
      await admin.create(configMap('after-freeze'));
      await waitFor(() => informer.get(`${namespace}/after-freeze`), {
        what: 'the informer to notice the silence, re-watch, and see the new object',
        timeoutMs: 15_000,
      });
      expect(informer.stats.silent).toBeGreaterThanOrEqual(1);
    } finally {
      await informer.stop();
      await client.close();
      await proxy.close();
    }
  });

  it('re-lists after 410 Gone when its resourceVersion is older than the server can serve', async () => {
    // Deleting and re-creating a CRD gives its resource a fresh watch cache that starts after our
    // resourceVersion: the informer's next watch is answered 410 and it must re-list.
    const group = `${uniqueName('rt410')}.territory.test`;
    const crd: KubeObject = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: 'Cluster',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    const apiVersion = `${group}/v1`;
    const establish = async () => {
      await admin.create(crd);
      await waitFor(
        async () => {
          const live = await admin.get({
            apiVersion: crd.apiVersion,
            kind: crd.kind,
            name: crd.metadata.name ?? '',
          });
          const conditions = (live?.status as { conditions?: Array<{ type: string; status: string }> })
            ?.conditions;
          return (
            conditions?.some((c) => c.type === 'Established' && c.status === 'True') &&
            (await admin.serves(apiVersion, 'Widget'))
          );
        },
        { what: 'the Widget CRD to be established' },
      );
    };
    await establish();
    const proxy = await FaultProxy.start(apiServerAddress());
    const client = new KubeClient(kubeConfigThrough(proxy));
    const informer = new Informer(client, {
      apiVersion,
      kind: 'Widget',
      backoff: { baseMs: 200, maxMs: 1000 },
    });
    informer.start();
    try {
      await admin.create({ apiVersion, kind: 'Widget', metadata: { name: 'w1' } });
      await waitFor(() => informer.get('w1'), { what: 'w1 in the cache' });
      proxy.refuse(true);
      proxy.cut();
      await admin.delete({ apiVersion: crd.apiVersion, kind: crd.kind, name: crd.metadata.name ?? '' });
      await waitFor(
        async () =>
          !(await admin.get({ apiVersion: crd.apiVersion, kind: crd.kind, name: crd.metadata.name ?? '' })),
        {
          what: 'the CRD to be deleted',
        },
      );
      // Churn the global revision so the new watch cache starts well after the informer's resourceVersion.
      for (let i = 0; i < 5; i++) await admin.create(configMap(`churn-${i}`));
      await establish();
      await admin.create({ apiVersion, kind: 'Widget', metadata: { name: 'w2' } });
      // The server really answers 410 for the informer's resourceVersion now:
      const direct = await admin
        .watch(
          { apiVersion, kind: 'Widget' },
          { resourceVersion: informer.resourceVersion(), timeoutSeconds: 5 },
          () => {},
          new AbortController().signal,
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isGone(direct), String(direct)).toBe(true);
      proxy.refuse(false);
      await waitFor(() => informer.get('w2') && !informer.get('w1'), {
        what: 'the informer to re-list: w2 present, w1 gone with the old CRD',
        timeoutMs: 30_000,
      });
      expect(informer.stats.gone).toBeGreaterThanOrEqual(1);
      expect(informer.stats.lists).toBeGreaterThanOrEqual(2);
    } finally {
      await informer.stop();
      await client.close();
      await proxy.close();
      await admin.delete({ apiVersion: crd.apiVersion, kind: crd.kind, name: crd.metadata.name ?? '' });
    }
  });
});
