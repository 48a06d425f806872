import { describe, expect, it } from 'vitest';
import { poolCaSecretName } from '../builders/database-names.ts';
import type { KubeObject } from '../runtime/types.ts';
import {
  clusterInstancesReady,
  POOL_READY_REASONS,
  type PoolOutcome,
  poolConditions,
  servingOutcome,
} from './status.ts';

const cluster = (status?: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'postgresql.cnpg.io/v1',
  kind: 'Cluster',
  metadata: { name: 'pool-35', namespace: 'db-pool-35', ...meta },
  ...(status ? { status } : {}),
});
const facts = (c: KubeObject | undefined, caIssued = true) => ({
  pool: 'pool-35',
  namespace: 'db-pool-35',
  cluster: c,
  instances: 2,
  caIssued,
});

describe('servingOutcome', () => {
  it('serves once every instance is ready and the CA Secret is issued', () => {
    expect(servingOutcome(facts(cluster({ readyInstances: 2, phase: 'Cluster in healthy state' })))).toEqual({
      ready: true,
      reason: 'Serving',
      message: '2/2 instances ready, CA Secret db-pool-35/pool-35-ca issued: the pool takes tenants',
    });
  });

  it('waits, progressing, for the Cluster, its instances and its CA', () => {
    const waiting = [
      servingOutcome(facts(undefined)),
      servingOutcome(facts(cluster())),
      servingOutcome(facts(cluster({ phase: 'Setting up primary', readyInstances: 1 }))),
      servingOutcome(facts(cluster({ readyInstances: 2 }), false)),
      servingOutcome(facts(cluster({ readyInstances: 2 }, { deletionTimestamp: '2026-01-01T00:00:00Z' }))),
    ];
    for (const outcome of waiting) {
      expect(outcome).toMatchObject({ ready: false, reason: 'ClusterNotReady', progressing: true });
    }
    expect(waiting.map((o) => o.message)).toEqual([
      'the PostgreSQL cluster db-pool-35/pool-35 is being created',
      'CloudNativePG has not reported on the cluster db-pool-35/pool-35 yet (is its operator running?)',
      'CloudNativePG: Setting up primary (1/2 instances ready)',
      '2/2 instances ready, but CloudNativePG has not issued the CA Secret db-pool-35/pool-35-ca yet: Territories could not verify the pool',
      'the PostgreSQL cluster db-pool-35/pool-35 is being deleted; it is created again once gone',
    ]);
  });

  it('counts more ready instances than asked (a scale-down under way) as serving', () => {
    expect(clusterInstancesReady(cluster({ readyInstances: 3 }), 2)).toBe(true);
    expect(clusterInstancesReady(cluster({ readyInstances: 1 }), 2)).toBe(false);
    expect(clusterInstancesReady(undefined, 1)).toBe(false);
  });

  it('names the CA Secret after the Cluster, as CloudNativePG does', () => {
    expect(poolCaSecretName({ name: 'pool-35' })).toBe('pool-35-ca');
  });
});

describe('poolConditions', () => {
  const now = '2026-03-01T10:00:00Z';
  const later = '2026-03-01T11:00:00Z';
  const byType = (conditions: { type: string }[]) => conditions.map((c) => c.type);
  const serving: PoolOutcome = { ready: true, reason: 'Serving', message: 'ok' };
  const creating: PoolOutcome = {
    ready: false,
    reason: 'ClusterNotReady',
    message: 'wait',
    progressing: true,
  };
  const refused: PoolOutcome = { ready: false, reason: POOL_READY_REASONS.namespaceConflict, message: 'no' };

  it('writes Ready, Reconciling and Stalled, in that order, with the generation', () => {
    const conditions = poolConditions([], serving, now, 3);
    expect(byType(conditions)).toEqual(['Ready', 'Reconciling', 'Stalled']);
    expect(conditions.map((c) => [c.status, c.reason, c.observedGeneration])).toEqual([
      ['True', 'Serving', 3],
      ['False', 'Ready', 3],
      ['False', 'Ready', 3],
    ]);
  });

  it('says converging (Reconciling) or stuck (Stalled) with the outcome’s reason', () => {
    const converging = poolConditions([], creating, now, 1);
    expect(converging.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'ClusterNotReady'],
      ['Reconciling', 'True', 'ClusterNotReady'],
      ['Stalled', 'False', 'Progressing'],
    ]);
    const stuck = poolConditions([], refused, now, 1);
    expect(stuck.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'NamespaceConflict'],
      ['Reconciling', 'False', 'Stalled'],
      ['Stalled', 'True', 'NamespaceConflict'],
    ]);
  });

  it('keeps transition times while a status holds, so an idle reconcile writes the same conditions', () => {
    const first = poolConditions([], creating, now, 1);
    expect(poolConditions(first, creating, later, 1)).toEqual(first);
    const ready = poolConditions(first, serving, later, 1);
    expect(ready.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(later);
    // Stalled stays False: its time is kept even though its reason changed.
    expect(ready.find((c) => c.type === 'Stalled')?.lastTransitionTime).toBe(now);
  });

  it('drops conditions that are not the pool’s', () => {
    const stale = [
      { type: 'DatabaseReady', status: 'True' as const, reason: 'X', message: '', lastTransitionTime: now },
    ];
    expect(byType(poolConditions(stale, serving, now, 1))).toEqual(['Ready', 'Reconciling', 'Stalled']);
  });
});
