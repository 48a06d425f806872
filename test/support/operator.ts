// Runs the real operator in the test process against the test control plane. Test files share one API
// server, so each operator reconciles only its own shard (a label on the Territories it is given) and
// keeps its log lines in memory (tests grep them, e.g. for secrets).
//
// A crash of the operator (its start() rejecting, or it stopping without being asked) fails the test that
// is running, with the crash's error: every waitFor throws it at its next poll, the test's afterEach
// throws it if nothing has yet, and stop() rejects with it. Without this, a dead operator is seen only as
// a timeout waiting for what it would have done.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach } from 'vitest';
import { parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { createLogger } from '../../operator/src/runtime/logger.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { installCustomResourceDefinitions } from '../../operator/src/territory/install.ts';
import { createOperator, type RunningOperator } from '../../operator/src/territory/operator.ts';
import { failWaitsWhen, waitFor } from './kube.ts';

export const SHARD_LABEL = 'test.sovereign.dev/shard';

export interface TestOperator {
  operator: RunningOperator;
  shard: string;
  logs: string[];
  client: KubeClient;
  /** Adds the shard label so this operator (and no other test's) reconciles the Territory. */
  label<T extends KubeObject>(t: T): T;
  /** The error the operator crashed with, once it has (undefined while it runs or after a clean stop). */
  crash(): Error | undefined;
  /** Stops the operator; rejects with its crash, if it crashed (so a crash is never lost). */
  stop(): Promise<void>;
}

/** The crashes of this file's operators that no test has been failed with yet. */
const unreported = new Set<{ error: Error; reported: boolean }>();

// The test during which an operator crashed fails, even when it waited for nothing (a fixed sleep, a
// direct read): its afterEach throws the crash.
afterEach(() => {
  const crash = [...unreported].find((c) => !c.reported);
  for (const c of unreported) c.reported = true;
  unreported.clear();
  if (crash) throw crash.error;
});

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
  let stopping = false;
  let crashed: { error: Error; reported: boolean } | undefined;
  const crashWith = (error: Error) => {
    crashed = { error, reported: false };
    unreported.add(crashed);
  };
  const running = operator.start().then(
    () => {
      if (!stopping)
        crashWith(
          new Error(
            `the test operator (shard ${opts.shard}) stopped on its own (${operator.manager.stopReason() ?? 'no reason'})`,
          ),
        );
    },
    (error: unknown) => {
      const cause = error instanceof Error ? error : new Error(String(error));
      crashWith(
        new Error(`the test operator (shard ${opts.shard}) crashed: ${cause.message}`, { cause: error }),
      );
    },
  );
  const unregister = failWaitsWhen(() => {
    if (!crashed) return undefined;
    crashed.reported = true;
    return crashed.error;
  });
  return {
    operator,
    shard: opts.shard,
    logs,
    client,
    label: (t) => ({
      ...t,
      metadata: { ...t.metadata, labels: { ...t.metadata.labels, [SHARD_LABEL]: opts.shard } },
    }),
    crash: () => crashed?.error,
    stop: async () => {
      stopping = true;
      unregister();
      await operator.stop();
      await running;
      if (crashed) {
        crashed.reported = true;
        throw crashed.error;
      }
    },
  };
}

/** The Events about one Territory (cluster-scoped: its Events land in `default`) with this reason. */
export async function territoryEvents(
  client: KubeClient,
  name: string,
  reason: string,
): Promise<{ type?: string; note?: string }[]> {
  const list = (await client.list({
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    namespace: 'default',
  })) as {
    items: { reason?: string; note?: string; type?: string; regarding?: { name?: string } }[];
  };
  return list.items.filter((e) => e.regarding?.name === name && e.reason === reason);
}

/**
 * Creates the Territory for `op`'s shard and, once the operator has made its namespace, the object storage
 * credentials the authority provides there (Secret `oos`, as rennesTerritory names it). Returns its name.
 */
export async function createWithBackupCredentials(op: TestOperator, t: KubeObject): Promise<string> {
  const name = t.metadata.name ?? '';
  await op.client.create(op.label(t));
  await waitFor(() => op.client.get({ apiVersion: 'v1', kind: 'Namespace', name }), {
    what: `namespace ${name}`,
    timeoutMs: 10_000,
  });
  await op.client.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'oos', namespace: name },
    stringData: { ACCESS_KEY_ID: 'AKIA', ACCESS_SECRET_KEY: randomBytes(16).toString('hex') },
  });
  return name;
}
