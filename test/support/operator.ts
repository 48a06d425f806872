// Runs the real operator in the test process against the test control plane. Test files share one API
// server, so each operator reconciles only its own shard (a label on the Territories it is given) and
// keeps its log lines in memory (tests grep them, e.g. for secrets).
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { createLogger } from '../../operator/src/runtime/logger.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { installCustomResourceDefinitions } from '../../operator/src/territory/install.ts';
import { createOperator, type RunningOperator } from '../../operator/src/territory/operator.ts';

export const SHARD_LABEL = 'test.sovereign.dev/shard';

export interface TestOperator {
  operator: RunningOperator;
  shard: string;
  logs: string[];
  client: KubeClient;
  /** Adds the shard label so this operator (and no other test's) reconciles the Territory. */
  label<T extends KubeObject>(t: T): T;
  stop(): Promise<void>;
}

let crdsInstalled: Promise<unknown> | undefined;

/** Installs our CRD and CloudNativePG's once per test process. */
export function ensureCrds(client: KubeClient): Promise<unknown> {
  crdsInstalled ??= installCustomResourceDefinitions(client, { cnpg: 'required' });
  return crdsInstalled;
}

export async function startTestOperator(opts: {
  kubeconfigPath: string;
  shard: string;
  config?: Record<string, unknown>;
  healthPort?: number;
}): Promise<TestOperator> {
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfigPath);
  const client = new KubeClient(kc);
  await ensureCrds(client);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const config = parseOperatorConfig({
    resyncSeconds: 30,
    ...opts.config,
    shardSelector: `${SHARD_LABEL}=${opts.shard}`,
  });
  const operator = createOperator({
    kubeConfig: kc,
    config,
    logger: createLogger({ level: 'debug', destination: sink }),
    healthPort: opts.healthPort ?? 0,
  });
  const running = operator.start();
  running.catch(() => undefined);
  return {
    operator,
    shard: opts.shard,
    logs,
    client,
    label: (t) => ({
      ...t,
      metadata: { ...t.metadata, labels: { ...t.metadata.labels, [SHARD_LABEL]: opts.shard } },
    }),
    stop: async () => {
      await operator.stop();
      await running.catch(() => undefined);
    },
  };
}
