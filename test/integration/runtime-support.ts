// Support for the runtime's integration tests (not a test file itself): where the real kube-apiserver
// is, and a KubeConfig that reaches it through a FaultProxy (../support/fault-proxy.ts), so tests can
// break, freeze or refuse connections the way a flaky network or a load balancer does.
import { KubeConfig } from '@kubernetes/client-node';
import { testKubeConfig } from '../support/kube.ts';

/** The test control plane's API server address. */
export function apiServerAddress(kubeConfig: KubeConfig = testKubeConfig()): { host: string; port: number } {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error('test kubeconfig has no current cluster');
  const url = new URL(server);
  return { host: url.hostname, port: Number(url.port || 443) };
}

/** The admin KubeConfig, but reaching the API server through `proxy`. */
export function kubeConfigThrough(proxy: { port: number }): KubeConfig {
  const base = testKubeConfig();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: base.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${proxy.port}` })),
    users: base.users,
    contexts: base.contexts,
    currentContext: base.currentContext,
  });
  return kc;
}
