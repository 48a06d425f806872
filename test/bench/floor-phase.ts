// One floor measurement: the operator's objects for every Territory, written by the minimal SSA writer
// into `<prefix><name>` namespaces, timed, with the control plane's CPU over the same interval. Then
// waits for kube-controller-manager's per-namespace work (ServiceAccount, CA ConfigMap) to finish, so
// it does not spill into the next measurement.
import type { Territory } from '../../operator/src/api/territory.ts';
import type { OperatorConfig } from '../../operator/src/config/operator-config.ts';
import type { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { sleep } from '../controlplane/processes.ts';
import { FLOOR_MANAGER, floorObjects } from './floor-objects.ts';
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
}): Promise<FloorMeasure> {
  const now = new Date();
  // Built before the clock starts: the floor is the API server's cost, not the builders'.
  const groups = opts.territories.map((t) => floorObjects(t, opts.config, now, opts.prefix));
  const objectsPerTerritory = groups[0]?.length ?? 0;
  const n = groups.length;
  opts.say(
    `floor (${opts.prefix}*): ${n * objectsPerTerritory} objects (${objectsPerTerritory} per Territory), concurrency ${opts.concurrency}`,
  );
  const cpuBefore = opts.controlPlaneCpu();
  const result = await runFloorWriter({
    tls: opts.tls,
    groups,
    concurrency: opts.concurrency,
    fieldManager: FLOOR_MANAGER,
    onProgress: (done) => {
      if (done % 500 === 0) opts.say(`floor: ${done}/${n} Territories`);
    },
  });
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
