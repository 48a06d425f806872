// Vitest global set-up of the `integration` project: ONE real control plane (etcd +
// kube-apiserver + kube-controller-manager) per run, in a temporary folder, shared by all test
// files (they isolate themselves with unique names). Tests reach it through inject().
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { readToolchainVersions } from '../controlplane/binaries.ts';
import { type ControlPlane, startControlPlane } from '../controlplane/controlplane.ts';

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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'territory-controlplane-'));
  let controlPlane: ControlPlane;
  try {
    controlPlane = await startControlPlane({ dir });
  } catch (error) {
    throw new Error(
      'The integration tests need a real Kubernetes control plane (etcd, kube-apiserver, ' +
        `kube-controller-manager) and could not start one:\n${(error as Error).message}\n\n` +
        'To supply the binaries, either set KUBEBUILDER_ASSETS to a folder holding etcd, kube-apiserver and ' +
        'kubectl (plus kube-controller-manager, or Go to build it), or install Go so that ' +
        '`npm run cluster:binaries` can build the pinned versions once into the cache. ' +
        `Files of this attempt are kept in ${dir}.`,
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
