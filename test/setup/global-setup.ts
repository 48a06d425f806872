// Vitest global set-up of the `integration` project: ONE real control plane (etcd +
// kube-apiserver + kube-controller-manager) per run, in a temporary folder, shared by all test
// files (they isolate themselves with unique names). Tests reach it through inject().
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  type ControlPlaneBinaries,
  readToolchainVersions,
  resolveBinaries,
} from '../controlplane/binaries.ts';
import {
  type ControlPlane,
  findOrphanedControlPlanes,
  startControlPlane,
} from '../controlplane/controlplane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig (O=system:masters) of the shared control plane. */
    kubeconfigPath: string;
    /** Plain-HTTP etcd client URL (e.g. for compaction through its gRPC gateway). */
    etcdEndpoint: string;
    /** kubectl matching the control plane's version. */
    kubectlPath: string;
    /** The version pinned in test/controlplane/toolchain/go.mod, e.g. v1.36.3. */
    pinnedKubernetesVersion: string;
  }
}

const DIR_PREFIX = 'territory-controlplane-';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  for (const orphan of await findOrphanedControlPlanes(tmpdir(), DIR_PREFIX)) {
    // Left by a SIGKILLed run; they eat the CPU all runs share. Reported, not killed: stopping
    // processes is left to whoever started them.
    console.warn(
      `warning: control plane of a killed test run still running (pids ${orphan.pids.join(', ')}); ` +
        `stop it with: TERRITORY_CLUSTER_DIR=${orphan.dir} npm run cluster:down`,
    );
  }
  let binaries: ControlPlaneBinaries;
  try {
    binaries = await resolveBinaries();
  } catch (error) {
    throw new Error(
      'The integration tests need a real Kubernetes control plane (etcd, kube-apiserver, ' +
        `kube-controller-manager) and its binaries are missing. ${(error as Error).message}`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  let controlPlane: ControlPlane;
  try {
    controlPlane = await startControlPlane({ dir, binaries });
  } catch (error) {
    throw new Error(
      `The integration control plane (binaries from ${binaries.origin}) did not start: ` +
        `${(error as Error).message}\nIts files and logs are kept in ${dir}.`,
    );
  }
  console.log(
    `kube-apiserver ${controlPlane.serverVersion} (real, pid ${controlPlane.pids.kubeApiServer}) ` +
      `at ${controlPlane.apiServerUrl}; binaries from ${controlPlane.binaries.origin}`,
  );
  project.provide('kubeconfigPath', controlPlane.kubeconfigPath);
  project.provide('etcdEndpoint', controlPlane.etcdEndpoint);
  project.provide('kubectlPath', controlPlane.binaries.kubectl);
  project.provide('pinnedKubernetesVersion', readToolchainVersions().kubernetes);

  return async () => {
    await controlPlane.stop();
    if (process.env.TERRITORY_KEEP_CONTROLPLANE_DIR) {
      console.log(`control plane files kept in ${dir} (TERRITORY_KEEP_CONTROLPLANE_DIR is set)`);
    } else {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
