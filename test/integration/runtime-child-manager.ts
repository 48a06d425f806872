// A real operator process for runtime-manager.test.ts (not a test file): a Manager with leader
// election, health server and one slow controller, so the test can SIGTERM it mid-reconcile.
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../operator/src/runtime/logger.ts';
import { Manager } from '../../operator/src/runtime/manager.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(env('CHILD_KUBECONFIG'));
const namespace = env('CHILD_NAMESPACE');
const logger = createLogger({ level: 'info' });
const manager = new Manager({
  kubeConfig,
  name: 'runtime-child',
  logger,
  healthPort: 0,
  healthHost: '127.0.0.1',
  leaderElection: { namespace, leaseName: 'runtime-child', identity: 'child-1' },
  // Far above the 2 s reconcile: on a loaded machine its timer can fire seconds late, and the test is
  // about the order of the shutdown (finish, then release), not about the bound.
  shutdownTimeoutMs: 60_000,
});
manager.addController({
  name: 'slow',
  primary: { apiVersion: 'v1', kind: 'ConfigMap', namespace, labelSelector: 'child=yes' },
  reconcile: async (key, ctx) => {
    ctx.logger.info({ event: 'reconcile-started', key }, 'reconcile started');
    await new Promise((r) => setTimeout(r, Number(process.env.CHILD_RECONCILE_MS ?? 2000)));
    ctx.logger.info({ event: 'reconcile-finished', key }, 'reconcile finished');
  },
});
const running = manager.start();
const announce = setInterval(() => {
  const port = manager.healthPort();
  if (port === undefined) return;
  logger.info({ event: 'health-port', port }, 'health server up');
  clearInterval(announce);
}, 50);
await running;
