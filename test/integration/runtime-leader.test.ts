// Leader election with two managers in one process against a real kube-apiserver: exactly one leads
// (and only the leader reconciles); stopping the leader releases the Lease and the other takes over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { silentLogger } from '../../operator/src/runtime/logger.ts';
import { Manager } from '../../operator/src/runtime/manager.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { FaultProxy } from '../support/fault-proxy.ts';
import { testKubeConfig, uniqueName, waitFor } from '../support/kube.ts';
import { apiServerAddress, kubeConfigThrough } from './runtime-support.ts';

const admin = new KubeClient(testKubeConfig());
const namespace = uniqueName('rt-leader');

beforeAll(async () => {
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
});
afterAll(async () => {
  await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  await admin.close();
});

function candidate(
  identity: string,
  reconciledBy: string[],
  options: { kubeConfig?: ReturnType<typeof testKubeConfig>; leaseName?: string; fast?: boolean } = {},
): Manager {
  const manager = new Manager({
    kubeConfig: options.kubeConfig ?? testKubeConfig(),
    name: 'runtime-leader-test',
    logger: silentLogger,
    handleSignals: false,
    leaderElection: {
      namespace,
      leaseName: options.leaseName ?? 'runtime-test',
      identity,
      ...(options.fast ? { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 } : {}),
    },
  });
  manager.addController({
    name: 'configmaps',
    primary: { apiVersion: 'v1', kind: 'ConfigMap', namespace, labelSelector: 'leader-test=yes' },
    reconcile: async (key) => {
      reconciledBy.push(`${identity} ${key}`);
    },
  });
  return manager;
}

async function lease(
  name = 'runtime-test',
): Promise<KubeObject & { spec?: { holderIdentity?: string | null; leaseTransitions?: number } }> {
  const l = await admin.get({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    namespace,
    name,
  });
  if (!l) throw new Error('no lease yet');
  return l;
}

describe('leader election', () => {
  it('elects exactly one leader; only it reconciles; stopping it hands over within seconds', async () => {
    const reconciled: string[] = [];
    const a = candidate('candidate-a', reconciled);
    const b = candidate('candidate-b', reconciled);
    const runningA = a.start();
    const runningB = b.start();
    try {
      await waitFor(() => a.isLeader() || b.isLeader(), {
        what: 'a leader to be elected',
        timeoutMs: 20_000,
      });
      // Give the follower several retry periods to (wrongly) grab the lease too.
      await new Promise((r) => setTimeout(r, 5_000));
      expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
      const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
      expect((await lease()).spec?.holderIdentity).toBe(leader.identity);

      await admin.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'one', namespace, labels: { 'leader-test': 'yes' } },
      });
      await waitFor(() => reconciled.length > 0, { what: 'the leader to reconcile' });
      expect(reconciled.every((r) => r.startsWith(leader.identity))).toBe(true);

      const transitions = (await lease()).spec?.leaseTransitions ?? 0;
      const stoppedAt = Date.now();
      await leader.stop();
      await waitFor(() => follower.isLeader(), { what: 'the follower to take over', timeoutMs: 20_000 });
      const handoverMs = Date.now() - stoppedAt;
      // Released, not expired: the follower takes over at its next attempt, not after the 15 s lease.
      expect(handoverMs).toBeLessThan(8_000);
      const after = await lease();
      expect(after.spec?.holderIdentity).toBe(follower.identity);
      expect(after.spec?.leaseTransitions).toBe(transitions + 1);

      reconciled.length = 0;
      await admin.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'two', namespace, labels: { 'leader-test': 'yes' } },
      });
      await waitFor(() => reconciled.some((r) => r.endsWith('/two')), {
        what: 'the new leader to reconcile',
      });
      expect(reconciled.every((r) => r.startsWith(follower.identity))).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await Promise.all([runningA, runningB]);
    }
    expect((await lease()).spec?.holderIdentity ?? null).toBeNull();
  });

  it('a leader cut off from the API server steps down, and the other takes over once the lease expires', async () => {
    const proxy = await FaultProxy.start(apiServerAddress());
    const reconciled: string[] = [];
    // Fast timings (3 s lease, 2 s renew deadline) keep the test short; the algorithm is the same.
    const cutOff = candidate('cut-off', reconciled, {
      kubeConfig: kubeConfigThrough(proxy),
      leaseName: 'failover',
      fast: true,
    });
    const runningCutOff = cutOff.start();
    await waitFor(() => cutOff.isLeader(), { what: 'the first candidate to lead' });
    const other = candidate('survivor', reconciled, { leaseName: 'failover', fast: true });
    const runningOther = other.start();
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      expect(other.isLeader()).toBe(false);
      proxy.refuse(true);
      proxy.cut();
      const cutAt = Date.now();
      await waitFor(() => !cutOff.isLeader(), { what: 'the cut-off leader to step down', timeoutMs: 10_000 });
      const steppedDownMs = Date.now() - cutAt;
      await waitFor(() => other.isLeader(), { what: 'the survivor to take over', timeoutMs: 15_000 });
      const takeoverMs = Date.now() - cutAt;
      // Safety: the old leader stopped (renew deadline 2 s) before the lease (3 s) could be taken.
      expect(steppedDownMs).toBeLessThan(takeoverMs);
      expect(cutOff.stopReason()).toBe('leadership-lost');
      expect((await lease('failover')).spec?.holderIdentity).toBe('survivor');
    } finally {
      proxy.refuse(false);
      await Promise.all([cutOff.stop(), other.stop()]);
      await Promise.all([runningCutOff, runningOther]);
      await proxy.close();
    }
  });
});
