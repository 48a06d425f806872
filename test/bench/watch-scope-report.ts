// Figures of `npm run bench:watch-scope` and the table they print as. Pure: results in, text out.

import type { LatencyFigures } from './report.ts';
import type { ClientSnapshot, Scope, WatchSet } from './watch-scope-client.ts';

export interface ScopeResult {
  size: string;
  namespaces: number;
  scope: Scope;
  watches: WatchSet;
  /** Informers the client ran: 1 or 2 cluster-wide, N or 2N per namespace. */
  informers: number;
  objects: {
    /** Secrets in the cluster the operator labels as its own / everyone else's (managed and other namespaces). */
    labelledSecrets: number;
    unlabelledSecrets: number;
    otherNamespaces: number;
    roleBindings: number;
    populateSeconds: number;
  };
  /** Whether the operator's token may list Secrets of all namespaces (the RBAC this scope needs). */
  clusterWideListAllowed: boolean;
  /** `ok`, or why the watches could not all be held (the limit hit). */
  outcome: string;
  sync: {
    /** From start to every informer's first list done. */
    listsDoneSeconds: number | null;
    /** From start to the API server counting every watch (its long-running WATCH requests on secrets). */
    watchesEstablishedSeconds: number | null;
    /** Client requests by `verb code` during the start (429 = throttled by the API server). */
    requests: Record<string, number>;
    warnings: Record<string, number>;
    restarts: number;
    /** CPU seconds from the start to the end of the sync (or of the wait for it). */
    clientCpuSeconds: number;
    apiServerCpuSeconds: number;
    etcdCpuSeconds: number;
  };
  client: {
    /** RSS of the idle process (modules loaded, nothing watched), after sync, peak over the run (VmHWM). */
    idleRssMB: number;
    rssAfterSyncMB: number;
    peakRssMB: number;
    heapAfterGcMB: number;
    peakHeapUsedMB: number;
    cachedObjects: number;
    /** TCP connections to the API server held with the watches open, and the peak seen during the start. */
    apiConnections: number;
    peakApiConnections: number;
    peakOpenFds: number;
    /** The process's soft limit on open files (RLIMIT_NOFILE). */
    maxOpenFiles: number;
    nodeFlags: string;
  };
  apiServer: {
    /** Secret watches the API server counts beyond the control plane's own. */
    secretWatches: number;
    rssBeforeMB: number;
    rssWithWatchesMB: number;
    rssAfterIdleMB: number;
    peakRssMB: number;
    /** Requests the API server refused with 429 (APF) during the start. */
    throttled: number;
    maxOpenFiles: number;
  };
  change: LatencyFigures & { missed: number; byKind: Record<string, LatencyFigures> };
  idle: {
    seconds: number;
    /** Watches re-opened (each a new TLS connection) and lists, per minute. */
    rewatchesPerMinute: number;
    relistsPerMinute: number;
    clientCpuSecondsPerMinute: number;
    apiServerCpuSecondsPerMinute: number;
    etcdCpuSecondsPerMinute: number;
  };
  snapshots: { synced?: ClientSnapshot; end?: ClientSnapshot };
}

export interface WatchScopeResult {
  startedAt: string;
  machine: { cpus: number; loadAverageStart: number[]; loadAverageEnd: number[]; node: string };
  serverVersion: string;
  definitions: Record<string, string>;
  results: ScopeResult[];
  failures: { size: string; scope: string; error: string }[];
}

const fixed = (digits: number) => (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
const f0 = fixed(0);
const f1 = fixed(1);
const f2 = fixed(2);
const n0 = (x: number) => (Number.isFinite(x) ? x.toLocaleString('en-US') : '–');

/** `cause: count, …`, most frequent first. */
function causes(counts: Record<string, number>): string {
  const sorted = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return sorted.map(([k, v]) => `${k}: ${n0(v)}`).join(', ') || 'none';
}

export function renderMarkdown(r: WatchScopeResult): string {
  const cols = r.results;
  const head = cols.map(
    (c) => `${n0(c.namespaces)} ns, ${c.scope === 'cluster' ? 'cluster-wide' : 'per namespace'}`,
  );
  const row = (label: string, cell: (c: ScopeResult) => string) =>
    `| ${label} | ${cols.map(cell).join(' | ')} |`;
  const lines = [
    `# Secret watches: cluster-wide vs per namespace`,
    '',
    `${r.startedAt}, ${r.machine.cpus} CPUs, load average ${r.machine.loadAverageStart.map((x) => x.toFixed(2)).join(' ')} at start, ` +
      `${r.machine.loadAverageEnd.map((x) => x.toFixed(2)).join(' ')} at end; Node ${r.machine.node}, Kubernetes ${r.serverVersion}.`,
    '',
    `| | ${head.join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
    row('outcome', (c) => c.outcome),
    row('informers (watches asked)', (c) => n0(c.informers)),
    row('Secret watches held by the API server', (c) => n0(c.apiServer.secretWatches)),
    row('objects cached', (c) => n0(c.client.cachedObjects)),
    row(
      'time to sync: lists / watches (s)',
      (c) => `${f1(c.sync.listsDoneSeconds)} / ${f1(c.sync.watchesEstablishedSeconds)}`,
    ),
    row(
      'CPU s to sync: client / API server / etcd',
      (c) =>
        `${f1(c.sync.clientCpuSeconds)} / ${f1(c.sync.apiServerCpuSeconds)} / ${f1(c.sync.etcdCpuSeconds)}`,
    ),
    row('client errors at start', (c) => causes(c.sync.warnings)),
    row(
      'throttled at start (429) / informer retries',
      (c) => `${n0(c.apiServer.throttled)} / ${n0(c.sync.restarts)}`,
    ),
    row(
      'client RSS: idle → synced, peak (MiB)',
      (c) => `${f0(c.client.idleRssMB)} → ${f0(c.client.rssAfterSyncMB)}, ${f0(c.client.peakRssMB)}`,
    ),
    row(
      'client heap after GC / peak used (MiB)',
      (c) => `${f1(c.client.heapAfterGcMB)} / ${f1(c.client.peakHeapUsedMB)}`,
    ),
    row(
      'client TCP connections to API server (peak)',
      (c) => `${n0(c.client.apiConnections)} (${n0(c.client.peakApiConnections)})`,
    ),
    row('client open fds, peak (limit)', (c) => `${n0(c.client.peakOpenFds)} (${n0(c.client.maxOpenFiles)})`),
    row(
      'API server RSS: before → with watches, peak (MiB)',
      (c) =>
        `${f0(c.apiServer.rssBeforeMB)} → ${f0(c.apiServer.rssWithWatchesMB)}, ${f0(c.apiServer.peakRssMB)}`,
    ),
    row(
      'change seen p50 / p99 / max (ms)',
      (c) =>
        `${f0(c.change.p50Ms)} / ${f0(c.change.p99Ms)} / ${f0(c.change.maxMs)}${c.change.missed ? ` (${c.change.missed} missed)` : ''}`,
    ),
    row(
      'idle: re-watches / re-lists per min',
      (c) => `${f0(c.idle.rewatchesPerMinute)} / ${f0(c.idle.relistsPerMinute)}`,
    ),
    row(
      'idle CPU s/min: client / API server / etcd',
      (c) =>
        `${f2(c.idle.clientCpuSecondsPerMinute)} / ${f2(c.idle.apiServerCpuSecondsPerMinute)} / ${f2(c.idle.etcdCpuSecondsPerMinute)}`,
    ),
    row('token may list Secrets cluster-wide', (c) => (c.clusterWideListAllowed ? 'yes' : 'no (403)')),
    '',
  ];
  for (const f of r.failures) lines.push(`- **${f.size}, ${f.scope}: failed**: ${f.error}`);
  if (r.failures.length > 0) lines.push('');
  for (const [k, v] of Object.entries(r.definitions)) lines.push(`- *${k}*: ${v}`);
  return `${lines.join('\n')}\n`;
}
