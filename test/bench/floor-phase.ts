// One floor measurement: the operator's objects for every Territory, written by the minimal SSA writer
// into `<prefix><name>` namespaces, timed, with the control plane's CPU over the same interval. Then
// waits for kube-controller-manager's per-namespace work (ServiceAccount, CA ConfigMap) to finish, so
// it does not spill into the next measurement.
import { lookupAuthority } from '../../operator/src/api/geography.ts';
import type { DatabasePool } from '../../operator/src/api/pool.ts';
import type { Territory } from '../../operator/src/api/territory.ts';
import { LABELS, type Owned } from '../../operator/src/builders/context.ts';
import type { OperatorConfig } from '../../operator/src/config/operator-config.ts';
import type { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { sleep } from '../controlplane/processes.ts';
import { FLOOR_MANAGER, floorObjects, floorPoolNamespace } from './floor-objects.ts';
import { type KubeconfigTls, runFloorWriter } from './floor-writer.ts';

export interface FloorMeasure {
  prefix: string;
  seconds: number;
  requests: number;
  retries: number;
  requestsPerSecond: number;
  controlPlaneCpuSeconds: number;
  objectsPerTerritory: number;
}

export async function measureFloor(opts: {
  client: KubeClient;
  tls: KubeconfigTls;
  territories: Territory[];
  config: OperatorConfig;
  concurrency: number;
  prefix: string;
  controlPlaneCpu: () => number;
  say: (line: string) => void;
  /** Shared tier: the run's pools, each Territory's objects going to its département's. */
  pools?: DatabasePool[];
}): Promise<FloorMeasure> {
  const now = new Date();
  const pools = opts.pools ?? [];
  const poolOf = (t: Territory) => {
    if (pools.length === 0) return undefined;
    const departement = lookupAuthority(t.spec.authority.kind, t.spec.authority.code);
    const d = departement.found ? departement.departement : undefined;
    const pool = pools.find((p) => d !== undefined && p.spec.serves.departements?.includes(d));
    if (!pool) throw new Error(`${t.metadata.name}: no pool of the run serves its département`);
    return pool;
  };
  // Built before the clock starts: the floor is the API server's cost, not the builders'. The pools'
  // namespaces come first, as one group each, written before the Territories' objects.
  const poolGroups = pools.map((p) => [floorNamespace(floorPoolNamespace(p, opts.prefix))]);
  const groups = opts.territories.map((t) => floorObjects(t, opts.config, now, opts.prefix, poolOf(t)));
  const objectsPerTerritory = groups[0]?.length ?? 0;
  const n = groups.length;
  opts.say(
    `floor (${opts.prefix}*): ${n * objectsPerTerritory} objects (${objectsPerTerritory} per Territory), concurrency ${opts.concurrency}`,
  );
  const cpuBefore = opts.controlPlaneCpu();
  const namespaces =
    poolGroups.length > 0
      ? await runFloorWriter({
          tls: opts.tls,
          groups: poolGroups,
          concurrency: opts.concurrency,
          fieldManager: FLOOR_MANAGER,
          onProgress: () => undefined,
        })
      : { seconds: 0, requests: 0, retries: 0 };
  const territoriesResult = await runFloorWriter({
    tls: opts.tls,
    groups,
    concurrency: opts.concurrency,
    fieldManager: FLOOR_MANAGER,
    onProgress: (done) => {
      if (done % 500 === 0) opts.say(`floor: ${done}/${n} Territories`);
    },
  });
  const result = {
    seconds: namespaces.seconds + territoriesResult.seconds,
    requests: namespaces.requests + territoriesResult.requests,
    retries: namespaces.retries + territoriesResult.retries,
  };
  const controlPlaneCpuSeconds = opts.controlPlaneCpu() - cpuBefore;
  opts.say(`floor: ${result.seconds.toFixed(1)} s, ${result.requests} requests (${result.retries} retried)`);
  await waitControllerManagerQuiet(opts.client, opts.say);
  return {
    prefix: opts.prefix,
    ...result,
    requestsPerSecond: result.requests / result.seconds,
    controlPlaneCpuSeconds,
    objectsPerTerritory,
  };
}

/** Every namespace gets a `default` ServiceAccount from kube-controller-manager: wait until all have one. */
async function waitControllerManagerQuiet(client: KubeClient, say: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const namespaces = (await client.list({ apiVersion: 'v1', kind: 'Namespace' })).items.length;
    const accounts = (
      await client.list({ apiVersion: 'v1', kind: 'ServiceAccount', fieldSelector: 'metadata.name=default' })
    ).items.length;
    if (accounts >= namespaces) return;
    if (Date.now() > deadline) {
      say(
        `kube-controller-manager still catching up (${accounts}/${namespaces} default ServiceAccounts); going on`,
      );
      return;
    }
    await sleep(1_000);
  }
}

/** A namespace of the floor's own (a pool's share of the Territories' objects goes there). */
function floorNamespace(name: string): Owned {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [LABELS.managedBy]: FLOOR_MANAGER } },
  };
}
