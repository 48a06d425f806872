// CloudNativePG's part for the pools of a Shared-tier bench run, which has no CloudNativePG operator and no
// node: as soon as the Territory operator has created a pool's Cluster, it reports healthy, and the pool's CA
// Secret exists, as CloudNativePG would make them. Nothing of the Territories' databases is played: their
// Database and role objects stay unapplied, which is what the Shared tier's convergence waits for
// (DatabaseReady reason DatabaseProvisioning, tracker.ts).
import type { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { sleep } from '../controlplane/processes.ts';

// A certificate's shape only: the operator copies certificates, it never parses them.
const FAKE_CA = '-----BEGIN CERTIFICATE-----\nTUlJQmJlbmNoQ0E=\n-----END CERTIFICATE-----\n';

export interface CnpgStandIn {
  /** Pools made ready so far. */
  ready(): number;
  stop(): Promise<void>;
}

export function standInForCnpg(
  client: KubeClient,
  pools: { name: string; namespace: string }[],
  say: (line: string) => void,
): CnpgStandIn {
  const done = new Set<string>();
  let stopping = false;
  const loop = (async () => {
    while (!stopping && done.size < pools.length) {
      for (const pool of pools.filter((p) => !done.has(p.name))) {
        const ref = {
          apiVersion: 'postgresql.cnpg.io/v1',
          kind: 'Cluster',
          namespace: pool.namespace,
          name: pool.name,
        };
        const cluster = await client.get(ref).catch(() => undefined);
        if (!cluster) continue;
        const instances = (cluster.spec as { instances?: number } | undefined)?.instances ?? 1;
        await client.patch(
          ref,
          { status: { phase: 'Cluster in healthy state', instances, readyInstances: instances } },
          'merge',
          { subresource: 'status' },
        );
        await client
          .create({
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: `${pool.name}-ca`, namespace: pool.namespace },
            stringData: { 'ca.crt': FAKE_CA },
          })
          .catch((e: { statusCode?: number }) => {
            if (e.statusCode !== 409) throw e;
          });
        done.add(pool.name);
        say(`CloudNativePG stand-in: pool ${pool.name} healthy, CA issued`);
      }
      // Once a second: its reads stay a small share of what the API server serves meanwhile.
      await sleep(1_000);
    }
  })();
  return {
    ready: () => done.size,
    stop: async () => {
      stopping = true;
      await loop;
    },
  };
}
