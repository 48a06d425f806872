// The operator configuration a platform team would write for the e2e cluster: the local cluster's
// (test/node/local-stack.ts: what it attests about the node's region, which PostgreSQL image to run),
// plus its own object storage, where the examples' backups go (provider entry and egress). The API
// server's addresses are not given: the operator finds them itself.
import { localNodeOperatorConfig } from '../node/local-stack.ts';
import { objectStoreOperatorConfig } from './object-store.ts';

export function testClusterOperatorConfig(opts: {
  region: string;
  postgresImage: string;
}): Record<string, unknown> {
  const objectStore = objectStoreOperatorConfig();
  return localNodeOperatorConfig({
    region: opts.region,
    postgresImage: opts.postgresImage,
    providers: objectStore.providers,
    backupEgress: objectStore.backupEgress,
  });
}
