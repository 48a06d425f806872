// Observing the operator process from outside, as Prometheus and the kernel see it: its /metrics
// (API requests by verb), and /proc/<pid> (peak RSS, CPU seconds). Parsing is pure.
import { readFileSync } from 'node:fs';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition → samples (comments and malformed lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split('\n')) {
    if (!raw || raw.startsWith('#')) continue;
    const m = line.exec(raw);
    if (!m?.[1] || m[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(label)) if (l[1] && l[2] !== undefined) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/**
 * The counter of API requests: the one `_total` counter whose samples carry a `verb` label (the
 * runtime's RequestRecorder). Named by the caller when known; found by shape otherwise.
 */
export function requestCounterName(samples: Sample[], preferred?: string): string {
  if (preferred && samples.some((s) => s.name === preferred)) return preferred;
  const names = new Set(
    samples
      .filter((s) => s.name.endsWith('_total') && 'verb' in s.labels && /request/.test(s.name))
      .map((s) => s.name),
  );
  const [only, ...others] = [...names];
  if (!only || others.length > 0) {
    throw new Error(
      `cannot tell the operator's API request counter in /metrics (candidates: ${[...names].join(', ') || 'none'}); ` +
        'pass --request-metric NAME',
    );
  }
  return only;
}

/** Requests by verb (summed over resources and codes), and by verb+resource. */
export interface RequestCounts {
  byVerb: Record<string, number>;
  byVerbResource: Record<string, number>;
}

export function requestCounts(samples: Sample[], metric: string): RequestCounts {
  const byVerb: Record<string, number> = {};
  const byVerbResource: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== metric) continue;
    const verb = s.labels.verb ?? 'unknown';
    const key = `${verb} ${s.labels.resource ?? '?'}`;
    byVerb[verb] = (byVerb[verb] ?? 0) + s.value;
    byVerbResource[key] = (byVerbResource[key] ?? 0) + s.value;
  }
  return { byVerb, byVerbResource };
}

export function diffCounts(after: RequestCounts, before: RequestCounts): RequestCounts {
  const sub = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(a)
        .map(([k, v]) => [k, v - (b[k] ?? 0)] as const)
        .filter(([, v]) => v !== 0),
    );
  return {
    byVerb: sub(after.byVerb, before.byVerb),
    byVerbResource: sub(after.byVerbResource, before.byVerbResource),
  };
}

/** Verbs that change the cluster. A steady operator sends none of them. */
export const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection', 'apply'];
/** Long-lived streams: counted apart from reads, since one watch is one request for minutes. */
export const STREAM_VERBS = ['watch'];

export function totals(c: RequestCounts): { reads: number; writes: number; watches: number; all: number } {
  let reads = 0;
  let writes = 0;
  let watches = 0;
  for (const [verb, n] of Object.entries(c.byVerb)) {
    if (WRITE_VERBS.includes(verb)) writes += n;
    else if (STREAM_VERBS.includes(verb)) watches += n;
    else reads += n;
  }
  return { reads, writes, watches, all: reads + writes + watches };
}

export async function scrapeMetrics(url: string): Promise<Sample[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return parsePrometheus(await res.text());
}

/** What the operator's runtime says about its own work (controller-runtime metric names). */
export interface OperatorWork {
  reconciles: number;
  reconcileErrors: number;
  /** Sum of reconcile durations, seconds (all workers). */
  reconcileSeconds: number;
  /** Sum of the time keys waited in the queue before a worker took them, and how many waits. */
  queueWaitSeconds: number;
  queueWaits: number;
  retries: number;
}

export function operatorWork(samples: Sample[]): OperatorWork {
  const sum = (name: string) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  return {
    reconciles: sum('controller_runtime_reconcile_total'),
    reconcileErrors: sum('controller_runtime_reconcile_errors_total'),
    reconcileSeconds: sum('controller_runtime_reconcile_time_seconds_sum'),
    queueWaitSeconds: sum('workqueue_queue_duration_seconds_sum'),
    queueWaits: sum('workqueue_queue_duration_seconds_count'),
    retries: sum('workqueue_retries_total'),
  };
}

export function diffWork(after: OperatorWork, before: OperatorWork): OperatorWork {
  return {
    reconciles: after.reconciles - before.reconciles,
    reconcileErrors: after.reconcileErrors - before.reconcileErrors,
    reconcileSeconds: after.reconcileSeconds - before.reconcileSeconds,
    queueWaitSeconds: after.queueWaitSeconds - before.queueWaitSeconds,
    queueWaits: after.queueWaits - before.queueWaits,
    retries: after.retries - before.retries,
  };
}

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ: 100 on every Linux ABI we run on). */
const USER_HZ = 100;

export interface ProcStats {
  /** Peak resident set size (VmHWM), bytes. */
  peakRssBytes: number;
  /** Current resident set size (VmRSS), bytes. */
  rssBytes: number;
  /** User + system CPU time, seconds. */
  cpuSeconds: number;
}

export function readProcStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m?.[1]) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  // Fields after the parenthesised command name (which may hold spaces): utime is field 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { peakRssBytes: kb('VmHWM'), rssBytes: kb('VmRSS'), cpuSeconds: (utime + stime) / USER_HZ };
}

/** Nearest-rank percentile of a list of numbers (p in 0..100); NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** CPU seconds used so far by the control plane's kube-apiserver and etcd. */
export function controlPlaneCpuSeconds(pids: { kubeApiServer: number; etcd: number }): number {
  return readProcStats(pids.kubeApiServer).cpuSeconds + readProcStats(pids.etcd).cpuSeconds;
}
