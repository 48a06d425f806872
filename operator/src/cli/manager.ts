// The operator process, as the Helm chart runs it:
//   node operator/src/cli/manager.ts --config /etc/territory/config.yaml --leader-elect
// Kubeconfig: --kubeconfig, else $KUBECONFIG, else in-cluster. JSON logs on stdout. SIGTERM: finish
// in-flight reconciles, release the leader Lease, exit 0.
import { hostname } from 'node:os';
import { Command } from 'commander';
import { loadOperatorConfig, withOperatorNamespace } from '../config/operator-config.ts';
import { loadClusterAccess } from '../runtime/cluster-access.ts';
import { createLogger } from '../runtime/logger.ts';
import { createOperator, OPERATOR_NAME } from '../territory/operator.ts';

const program = new Command('territory-operator')
  .description('Reconciles Territories into sovereign data stacks for French local authorities')
  .option('--config <file>', 'operator configuration (YAML); default $TERRITORY_CONFIG')
  .option('--kubeconfig <file>', 'kubeconfig; default $KUBECONFIG, else in-cluster')
  .option('--leader-elect', 'run as one of several replicas, one active (Lease in $POD_NAMESPACE)', false)
  .option('--lease-namespace <ns>', 'namespace of the leader Lease; default $POD_NAMESPACE')
  .option('--health-port <port>', '/healthz, /readyz and /metrics', '8081')
  .option('--shard-selector <selector>', 'reconcile only the Territories matching this label selector')
  .option('--log-level <level>', 'trace, debug, info, warn, error', process.env.LOG_LEVEL ?? 'info');

program.parse();
const opts = program.opts<{
  config?: string;
  kubeconfig?: string;
  leaderElect: boolean;
  leaseNamespace?: string;
  healthPort: string;
  shardSelector?: string;
  logLevel: string;
}>();

const logger = createLogger({ level: opts.logLevel, bindings: { component: OPERATOR_NAME } });

try {
  // Its own namespace, which no Territory may claim: from the configuration, else the Pod's.
  const config = withOperatorNamespace(loadOperatorConfig(opts.config ?? process.env.TERRITORY_CONFIG));
  if (opts.shardSelector) config.shardSelector = opts.shardSelector;
  const leaseNamespace = opts.leaseNamespace ?? process.env.POD_NAMESPACE;
  if (opts.leaderElect && !leaseNamespace) {
    throw new Error('--leader-elect needs the Lease namespace: set POD_NAMESPACE or --lease-namespace');
  }
  const operator = createOperator({
    // --kubeconfig, $KUBECONFIG, ~/.kube/config, or the in-cluster service account
    kubeConfig: await loadClusterAccess(opts.kubeconfig),
    config,
    logger,
    healthPort: Number(opts.healthPort),
    ...(opts.leaderElect && leaseNamespace
      ? {
          leaderElection: {
            namespace: leaseNamespace,
            identity: process.env.POD_NAME ?? `${hostname()}-${process.pid}`,
          },
        }
      : {}),
  });
  logger.info(
    {
      provider: config.cluster.provider,
      regions: config.cluster.regions,
      shard: config.shardSelector ?? 'all',
    },
    'territory operator starting',
  );
  await operator.start();
  const reason = operator.manager.stopReason();
  logger.info({ reason }, 'territory operator stopped');
  // A replica that lost its Lease exits non-zero so that its pod restarts and campaigns again.
  if (reason === 'leadership-lost') process.exitCode = 1;
} catch (err) {
  logger.error({ err }, 'territory operator failed');
  process.exitCode = 1;
}
