// The watching side of `npm run bench:watch-scope`, in a process of its own so that its memory and
// sockets are its own: the operator's two Secret informers (operator/src/territory/operator.ts: our
// labelled Secrets in full, everyone else's by metadata only), with the operator's runtime
// (Informer, KubeClient, cache transforms), either cluster-wide (one informer each) or one informer
// each per managed namespace. Driven by its parent over IPC (watch-scope.ts); not run by hand.
import { loadClusterAccess } from '../../operator/src/runtime/cluster-access.ts';
import { Informer } from '../../operator/src/runtime/informer.ts';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject, Logger } from '../../operator/src/runtime/types.ts';
import { identityForCache, slimForCache } from '../../operator/src/territory/cache-shape.ts';
import { OWNED_SELECTOR } from '../../operator/src/territory/owned-kinds.ts';

/** The operator's Secret watches: `owned` only, or also the authority's (metadata only), as it runs today. */
export type WatchSet = 'owned' | 'both';
export type Scope = 'cluster' | 'namespaced';

export type ToClient =
  | {
      type: 'start';
      scope: Scope;
      namespaces: string[];
      watches: WatchSet;
      kubeconfig: string;
      /** Informers started at once (the next starts when one has listed); 0: all at once, as the manager does. */
      startConcurrency: number;
    }
  | { type: 'snapshot' }
  | { type: 'stop' };

export interface ClientMemory {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
}

export interface ClientSnapshot {
  type: 'snapshot';
  informers: number;
  synced: number;
  /** Heap and RSS right after a full GC: what the informers retain. */
  memory: ClientMemory;
  peakHeapUsedBytes: number;
  cachedObjects: number;
  stats: { lists: number; watches: number; restarts: number; gone: number; silent: number; events: number };
  /** Requests by `verb code` (the runtime's recorder), and the informers' warnings by cause. */
  requests: Record<string, number>;
  warnings: Record<string, number>;
}

export type FromClient =
  | { type: 'ready'; memory: ClientMemory }
  | { type: 'progress'; synced: number; informers: number }
  | { type: 'synced'; ms: number }
  | { type: 'seen'; key: string; resourceVersion: string }
  | ClientSnapshot
  | { type: 'failed'; error: string };

const send = (message: FromClient) => process.send?.(message);

function memory(): ClientMemory {
  const m = process.memoryUsage();
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    heapTotalBytes: m.heapTotal,
    externalBytes: m.external,
  };
}

/** Groups a warning's error message into a cause: the exact text varies with names and addresses. */
function cause(message: string): string {
  const known: [RegExp, string][] = [
    [/EMFILE|ENFILE/, 'out of file descriptors'],
    [/EADDRNOTAVAIL/, 'out of local ports'],
    [/[Tt]oo many requests/, '429 too many requests'],
    [/before secure TLS connection was established/, 'closed during TLS handshake'],
    [/socket hang up/, 'socket hang up'],
    [/ECONNRESET/, 'connection reset'],
    [/ECONNREFUSED/, 'connection refused'],
    [/timed out|ETIMEDOUT/, 'request timed out'],
    [/forbidden/i, '403 forbidden'],
    [/watch ended without delivering anything/, 'watch ended at once'],
  ];
  for (const [re, label] of known) if (re.test(message)) return label;
  return message.slice(0, 80);
}

const warnings: Record<string, number> = {};
const requests: Record<string, number> = {};
const logger: Logger = {
  child: () => logger,
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (obj) => {
    const err = (obj as { err?: unknown } | undefined)?.err;
    const key = typeof err === 'string' ? cause(err) : 'warning';
    warnings[key] = (warnings[key] ?? 0) + 1;
  },
  error: (obj) => {
    const err = (obj as { err?: unknown } | undefined)?.err;
    const key = `error: ${typeof err === 'string' ? cause(err) : 'unknown'}`;
    warnings[key] = (warnings[key] ?? 0) + 1;
  },
};

let informers: Informer[] = [];
let peakHeapUsed = 0;
const sampler = setInterval(() => {
  peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed);
}, 250);
sampler.unref();

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function snapshot(): ClientSnapshot {
  gc();
  const stats = { lists: 0, watches: 0, restarts: 0, gone: 0, silent: 0, events: 0 };
  let cachedObjects = 0;
  let synced = 0;
  for (const informer of informers) {
    for (const k of Object.keys(stats) as (keyof typeof stats)[]) stats[k] += informer.stats[k];
    cachedObjects += informer.keys().length;
    if (informer.hasSynced()) synced++;
  }
  return {
    type: 'snapshot',
    informers: informers.length,
    synced,
    memory: memory(),
    peakHeapUsedBytes: peakHeapUsed,
    cachedObjects,
    stats,
    requests: { ...requests },
    warnings: { ...warnings },
  };
}

async function start(message: Extract<ToClient, { type: 'start' }>): Promise<void> {
  const client = new KubeClient(await loadClusterAccess(message.kubeconfig), {
    userAgent: 'territory-operator',
    recorder: {
      record: (verb, _resource, code) => {
        const key = `${verb} ${code}`;
        requests[key] = (requests[key] ?? 0) + 1;
      },
    },
  });
  // The two Secret watches exactly as createOperator() declares them (operator/src/territory/operator.ts).
  const owned = {
    apiVersion: 'v1',
    kind: 'Secret',
    labelSelector: OWNED_SELECTOR,
    transform: slimForCache('territory-operator', false),
    quietWhenUnchanged: true,
  };
  const authority = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadataOnly: true,
    labelSelector: OWNED_SELECTOR.replace('=', '!='),
    transform: identityForCache,
  };
  const kinds = message.watches === 'both' ? [owned, authority] : [owned];
  const scopes: (string | undefined)[] = message.scope === 'cluster' ? [undefined] : message.namespaces;
  informers = scopes.flatMap((namespace) =>
    kinds.map((k) => new Informer<KubeObject>(client, { ...k, ...(namespace ? { namespace } : {}), logger })),
  );
  let listed = false;
  for (const informer of informers) {
    const tell = (obj: KubeObject) => {
      if (!listed) return;
      const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
      send({ type: 'seen', key, resourceVersion: obj.metadata.resourceVersion ?? '' });
    };
    informer.on({ add: tell, update: (_old, obj) => tell(obj) });
  }

  const started = performance.now();
  let synced = 0;
  const progress = setInterval(() => send({ type: 'progress', synced, informers: informers.length }), 2_000);
  const startOne = async (informer: Informer) => {
    informer.start();
    await informer.waitForSync();
    synced++;
  };
  if (message.startConcurrency <= 0) {
    await Promise.all(informers.map(startOne));
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(message.startConcurrency, informers.length) }, async () => {
        for (let i = next++; i < informers.length; i = next++) await startOne(informers[i] as Informer);
      }),
    );
  }
  clearInterval(progress);
  listed = true;
  send({ type: 'progress', synced, informers: informers.length });
  send({ type: 'synced', ms: performance.now() - started });
}

process.on('message', (message: ToClient) => {
  switch (message.type) {
    case 'start':
      start(message).catch((error: unknown) =>
        send({ type: 'failed', error: error instanceof Error ? error.message : String(error) }),
      );
      return;
    case 'snapshot':
      send(snapshot());
      return;
    case 'stop':
      Promise.all(informers.map((i) => i.stop())).finally(() => process.exit(0));
      return;
  }
});
process.on('disconnect', () => process.exit(0));
gc();
send({ type: 'ready', memory: memory() });
