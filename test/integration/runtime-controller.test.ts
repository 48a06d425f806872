// The runtime's Controller against a real kube-apiserver: primary events, owned objects mapped back
// by controller ownerReference or by label, backoff after failures, requeueAfter and resync.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, mapByLabel } from '../../operator/src/runtime/controller.ts';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { silentLogger } from '../../operator/src/runtime/logger.ts';
import { RuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import type { KubeObject, ReconcileContext } from '../../operator/src/runtime/types.ts';
import { testKubeConfig, uniqueName, waitFor } from '../support/kube.ts';

const admin = new KubeClient(testKubeConfig());
const namespace = uniqueName('rt-ctrl');

beforeAll(async () => {
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
});
afterAll(async () => {
  await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  await admin.close();
});

function cm(
  name: string,
  labels: Record<string, string>,
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels, ...extra }, data: {} };
}

describe('Controller', () => {
  it('reconciles primaries, and owned objects wake their owner (ownerReference and label)', async () => {
    const suite = uniqueName('s');
    const calls: Array<{ key: string; exists: boolean }> = [];
    const controller = new Controller(
      {
        name: 'owner-test',
        primary: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          namespace,
          labelSelector: `role=primary,suite=${suite}`,
        },
        owned: [
          // default mapping: controller ownerReference to a ConfigMap
          { apiVersion: 'v1', kind: 'Secret', namespace, labelSelector: `suite=${suite}` },
          // label mapping
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            namespace,
            labelSelector: `role=child,suite=${suite}`,
            mapToPrimary: mapByLabel('owner', { namespaced: true }),
          },
        ],
        resyncPeriodMs: 0,
        reconcile: async (key: string, ctx: ReconcileContext) => {
          calls.push({ key, exists: ctx.object !== undefined });
        },
      },
      { client: admin, logger: silentLogger },
    );
    await controller.start();
    void controller.startWorkers();
    try {
      const owner = await admin.create(cm('owner', { role: 'primary', suite }));
      const key = `${namespace}/owner`;
      await waitFor(() => calls.some((c) => c.key === key), { what: 'the primary to be reconciled' });
      await waitFor(() => controller.queueStats().inFlight === 0, { what: 'the queue to settle' });

      calls.length = 0;
      await admin.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'owned-secret',
          namespace,
          labels: { suite },
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              name: 'owner',
              uid: owner.metadata.uid ?? '',
              controller: true,
            },
          ],
        },
        stringData: { x: 'y' },
      });
      await waitFor(() => calls.some((c) => c.key === key), { what: 'the owned Secret to wake its owner' });

      calls.length = 0;
      await admin.create(cm('child', { role: 'child', suite, owner: 'owner' }));
      await waitFor(() => calls.some((c) => c.key === key), { what: 'the labelled child to wake its owner' });

      expect(controller.cache('v1', 'Secret')?.get(`${namespace}/owned-secret`)).toBeDefined();

      calls.length = 0;
      await admin.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'owner' });
      await waitFor(() => calls.some((c) => c.key === key && !c.exists), {
        what: 'a reconcile of the deleted primary',
      });
    } finally {
      expect(await controller.stop(5_000)).toBe(true);
    }
  });

  it('retries failures with backoff, honours requeueAfter, and resyncs every primary', async () => {
    const suite = uniqueName('s');
    const metrics = new RuntimeMetrics();
    const attempts: number[] = [];
    let resyncing = false;
    const resyncs = new Set<string>();
    const controller = new Controller(
      {
        name: 'retry-test',
        primary: { apiVersion: 'v1', kind: 'ConfigMap', namespace, labelSelector: `suite=${suite}` },
        backoff: { baseMs: 100, maxMs: 400 },
        resyncPeriodMs: 1_500,
        reconcile: async (key, ctx) => {
          if (key.endsWith('/flaky')) {
            attempts.push(ctx.attempt);
            if (attempts.length <= 3) throw new Error('not yet');
            return { requeueAfterMs: 200 };
          }
          if (resyncing) resyncs.add(key);
        },
      },
      { client: admin, logger: silentLogger, metrics },
    );
    await controller.start();
    void controller.startWorkers();
    try {
      await admin.create(cm('flaky', { suite }));
      await waitFor(() => attempts.length >= 6, { what: 'three failures, then success, then two requeues' });
      expect(attempts.slice(0, 6)).toEqual([0, 1, 2, 3, 0, 0]);

      await admin.create(cm('quiet-a', { suite }));
      await admin.create(cm('quiet-b', { suite }));
      await waitFor(() => controller.queueStats().ready === 0, { what: 'the initial reconciles' });
      await new Promise((r) => setTimeout(r, 300));
      resyncing = true;
      await waitFor(() => resyncs.has(`${namespace}/quiet-a`) && resyncs.has(`${namespace}/quiet-b`), {
        what: 'a periodic resync to reconcile unchanged primaries',
        timeoutMs: 5_000,
      });
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/controller_runtime_reconcile_errors_total\{controller="retry-test"\} 3/);
      expect(text).toMatch(/workqueue_retries_total\{name="retry-test"\} 3/);
    } finally {
      await controller.stop(5_000);
    }
  });

  it('stop() lets an in-flight reconcile finish before resolving', async () => {
    const suite = uniqueName('s');
    let finished = false;
    let started = false;
    const controller = new Controller(
      {
        name: 'drain-test',
        primary: { apiVersion: 'v1', kind: 'ConfigMap', namespace, labelSelector: `suite=${suite}` },
        resyncPeriodMs: 0,
        reconcile: async () => {
          started = true;
          await new Promise((r) => setTimeout(r, 1_000));
          finished = true;
        },
      },
      { client: admin, logger: silentLogger },
    );
    await controller.start();
    void controller.startWorkers();
    await admin.create(cm('slow', { suite }));
    await waitFor(() => started, { what: 'the slow reconcile to start' });
    expect(await controller.stop(10_000)).toBe(true);
    expect(finished).toBe(true);
  });
});
