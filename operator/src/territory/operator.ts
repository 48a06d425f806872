// The composition root: the generic runtime (manager, informers, queue, applier, events, leader
// election, health, metrics) wired to the Territory reconciler. `cli/manager.ts` (in a cluster) and
// `cli/start.ts` (npm start) both call it.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { Gauge } from 'prom-client';
import { API_VERSION, KIND } from '../api/territory.ts';
import type { OperatorConfig } from '../config/operator-config.ts';
import { Manager } from '../runtime/manager.ts';
import type { KubeObject, Logger, OwnedResource } from '../runtime/types.ts';
import { OWNED_KINDS, OWNED_SELECTOR, territoryOf } from './owned-kinds.ts';
import type { TerritoryPorts } from './ports.ts';
import { TerritoryReconciler } from './reconciler.ts';

export const OPERATOR_NAME = 'territory-operator';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  config: OperatorConfig;
  logger: Logger;
  healthPort?: number;
  /** Run several replicas, one active: a Lease in this namespace. */
  leaderElection?: { namespace: string; identity?: string };
}

export interface RunningOperator {
  manager: Manager;
  /** Resolves when the operator has stopped (signal or stop()). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createOperator(opts: OperatorOptions): RunningOperator {
  const { config } = opts;
  const manager = new Manager({
    kubeConfig: opts.kubeConfig,
    name: OPERATOR_NAME,
    logger: opts.logger,
    ...(opts.healthPort !== undefined ? { healthPort: opts.healthPort } : {}),
    ...(opts.leaderElection
      ? {
          leaderElection: {
            namespace: opts.leaderElection.namespace,
            leaseName: OPERATOR_NAME,
            ...(opts.leaderElection.identity ? { identity: opts.leaderElection.identity } : {}),
          },
        }
      : {}),
  });

  // Owned objects map back to their Territory by label: it survives orphaning, unlike owner references.
  const byLabel = (obj: KubeObject) => {
    const name = territoryOf(obj);
    return name ? [name] : [];
  };
  const owned: OwnedResource[] = OWNED_KINDS.map((k) => ({
    apiVersion: k.apiVersion,
    kind: k.kind,
    labelSelector: OWNED_SELECTOR,
    mapToPrimary: byLabel,
  }));
  // A node joining, leaving or changing region re-evaluates every Territory's sovereignty.
  owned.push({ apiVersion: 'v1', kind: 'Node', mapToPrimary: () => controller.primaryKeys() });

  let reconciler: TerritoryReconciler | undefined;
  const controller = manager.addController({
    name: 'territory',
    primary: {
      apiVersion: API_VERSION,
      kind: KIND,
      ...(config.shardSelector ? { labelSelector: config.shardSelector } : {}),
    },
    owned,
    concurrency: config.concurrency,
    resyncPeriodMs: config.resyncSeconds * 1000,
    reconcile: (_key, ctx) => (reconciler as TerritoryReconciler).reconcile(ctx.name, ctx.object, ctx.logger),
  });

  const ports: TerritoryPorts = {
    config,
    applier: manager.applier,
    events: manager.events,
    kube: manager.client,
    cache: (apiVersion, kind) => controller.cache(apiVersion, kind),
    now: () => new Date(),
    randomBytes: (size) => randomBytes(size),
  };
  reconciler = new TerritoryReconciler(ports);

  // Territories by condition, counted from the informer cache when Prometheus scrapes: no extra
  // work per reconcile, and always consistent with what the API server holds.
  new Gauge({
    name: 'territory_conditions',
    help: 'Territories by condition type (Ready, each part, Reconciling, Stalled) and status',
    labelNames: ['type', 'status'],
    registers: [manager.metrics.registry],
    collect() {
      this.reset();
      for (const t of controller.cache(API_VERSION, KIND)?.list() ?? []) {
        const conditions =
          (t.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
        for (const c of conditions) this.inc({ type: c.type, status: c.status });
      }
    },
  });

  return { manager, start: () => manager.start(), stop: () => manager.stop() };
}
