// Reaction times of a running operator: a spec change (the operator must see it, apply it to the owned
// objects and report the new generation), and drift (an owned object deleted by hand must come back).
// Changes are spread over the data set and paced (one every `paceMs`), as edits arrive in real life.
import type { Territory } from '../../operator/src/api/territory.ts';
import { READER_BINDING } from '../../operator/src/builders/rbac.ts';
import type { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { sleep } from '../controlplane/processes.ts';
import { percentile } from './observe.ts';
import type { LatencyFigures } from './report.ts';
import { converged, observedCurrent, Tracker } from './tracker.ts';

export function latency(ms: number[]): LatencyFigures {
  return { count: ms.length, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99), maxMs: Math.max(...ms) };
}

/** `count` items spread evenly over the list, starting at `offset`, so no region of the data is favoured. */
export function spread<T>(items: T[], count: number, offset: number): T[] {
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step + offset) % items.length] as T);
}

/**
 * Each chosen Territory gains a reader group. Times: PATCH sent → observedGeneration caught up, and →
 * converged at the new generation. Then the RoleBinding is read: the change must really be applied.
 */
export async function measureSpecChange(opts: {
  client: KubeClient;
  territories: Tracker;
  chosen: Territory[];
  paceMs: number;
}): Promise<LatencyFigures & { observedGeneration: LatencyFigures; applied: boolean }> {
  const runs = await Promise.all(
    opts.chosen.map(async (t, i) => {
      await sleep(i * opts.paceMs);
      const name = t.metadata.name;
      const group = `${name}:bench-reader`;
      const live = opts.territories.informer.get(name);
      const readers = ((live?.spec as Territory['spec'] | undefined)?.access.readerGroups ?? []).filter(
        (g) => g !== group,
      );
      const sentAt = performance.now();
      const patched = await opts.client.mergePatch(
        { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name },
        { spec: { access: { readerGroups: [...readers, group] } } },
      );
      const generation = patched.metadata.generation ?? 0;
      const atGeneration = (o: { metadata: { generation?: number } }) =>
        (o.metadata.generation ?? 0) >= generation;
      const [observedAt, convergedAt] = await Promise.all([
        opts.territories.until(name, (o) => atGeneration(o) && observedCurrent(o)),
        opts.territories.until(name, (o) => atGeneration(o) && converged(o)),
      ]);
      const binding = await opts.client.get({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        namespace: name,
        name: READER_BINDING,
      });
      const subjects = (binding?.subjects as { name: string }[] | undefined) ?? [];
      return {
        observedMs: observedAt - sentAt,
        convergedMs: convergedAt - sentAt,
        applied: subjects.some((s) => s.name === group),
      };
    }),
  );
  return {
    ...latency(runs.map((r) => r.convergedMs)),
    observedGeneration: latency(runs.map((r) => r.observedMs)),
    applied: runs.every((r) => r.applied),
  };
}

/** NetworkPolicy `default-deny` deleted in each chosen namespace; time until a new one (new uid) exists. */
export async function measureDrift(opts: {
  client: KubeClient;
  chosen: Territory[];
  paceMs: number;
}): Promise<LatencyFigures & { kind: string }> {
  const policies = new Tracker(opts.client, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    fieldSelector: 'metadata.name=default-deny',
  });
  await policies.start();
  try {
    const ms = await Promise.all(
      opts.chosen.map(async (t, i) => {
        await sleep(i * opts.paceMs);
        const namespace = t.metadata.name;
        const key = `${namespace}/default-deny`;
        const before = policies.informer.get(key);
        if (!before) throw new Error(`NetworkPolicy ${key} does not exist before the drift test`);
        const deletedAt = performance.now();
        await opts.client.delete({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          namespace,
          name: 'default-deny',
        });
        const repairedAt = await policies.until(key, (o) => o.metadata.uid !== before.metadata.uid);
        return repairedAt - deletedAt;
      }),
    );
    return { ...latency(ms), kind: 'NetworkPolicy' };
  } finally {
    await policies.stop();
  }
}
