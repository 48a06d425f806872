// What the e2e suite installs on a cluster with a node, as users install the product: the product's
// images into the node, CloudNativePG from its manifests, its Barman Cloud plugin, the object storage's
// name in the cluster's DNS, then the operator with `helm install`. The suite's cluster gets it in the
// global set-up; the disaster-recovery test gets it again on the second cluster it starts.
import { join } from 'node:path';
import { installBarmanCloudPlugin } from '../node/barman-cloud-install.ts';
import type { ClusterWithNode } from '../node/cluster.ts';
import type { ProductImages } from '../node/node-images.ts';
import { importProductImages, installCloudNativePg, installOperatorChart } from '../node/stack.ts';
import { registerObjectStore } from './object-store.ts';
import { testClusterOperatorConfig } from './stack-config.ts';

/** Runs one step and records its duration (the global set-up's report), or just runs it. */
export type Timed = <T>(what: string, step: () => Promise<T>) => Promise<T>;

/** Installs the stack; returns the PostgreSQL image repository the operator runs. */
export async function installStack(
  cluster: ClusterWithNode,
  opts: {
    images: ProductImages;
    helm: string;
    region: string;
    dir: string;
    timed: Timed;
    log: (line: string) => void;
  },
): Promise<string> {
  const { images, timed } = opts;
  const k = cluster.node.kubectl;
  await timed('object storage registered', () => registerObjectStore(k));
  const postgresImage = await timed('images imported', () =>
    importProductImages(cluster.node.state, images, opts.log),
  );
  await timed('CloudNativePG installed', () => installCloudNativePg(k, images.cnpg.ref));
  await timed('Barman Cloud plugin installed', () =>
    installBarmanCloudPlugin(k, {
      plugin: images.barmanCloudPlugin.ref,
      sidecar: images.barmanCloudSidecar.ref,
    }),
  );
  await timed('operator installed (helm)', () =>
    installOperatorChart(
      k,
      {
        helm: opts.helm,
        image: images.operator.ref,
        config: testClusterOperatorConfig({ region: opts.region, postgresImage }),
      },
      join(opts.dir, 'operator-values.yaml'),
    ),
  );
  return postgresImage;
}
