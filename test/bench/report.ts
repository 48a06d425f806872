// Figures of a bench run and how they read: the JSON shape, the targets of issue 7, and the Markdown
// table printed at the end. Pure: results in, text out. Ratios and counts first; absolute times
// are noisy on a shared machine.

export interface LatencyFigures {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface SizeResult {
  size: string;
  kind: 'commune' | 'epci';
  territories: number;
  /** Objects each Territory owns on this cluster (namespace, tenancy, Secrets). */
  objectsPerTerritory: number;
  concurrency: number;
  createTerritoriesSeconds: number;
  /** `seconds` is the mean of the runs (before the operator, and after it when run). */
  floor: {
    seconds: number;
    requests: number;
    runs: {
      prefix: string;
      seconds: number;
      requests: number;
      retries: number;
      requestsPerSecond: number;
      controlPlaneCpuSeconds: number;
    }[];
  };
  converge: {
    /** From spawning the operator process to the last Territory converged. */
    seconds: number;
    /** From spawn to /metrics answering (process start, module loading). */
    startupSeconds: number;
    requestsByVerb: Record<string, number>;
    requestsByVerbResource: Record<string, number>;
    reads: number;
    writes: number;
    watches: number;
    requestsPerTerritory: number;
    writesPerTerritory: number;
    readsPerTerritory: number;
    cpuSeconds: number;
    cpuMsPerTerritory: number;
    peakRssMB: number;
    rssAtStartMB: number;
    reconcilesPerTerritory: number;
    reconcileErrors: number;
    meanReconcileMs: number;
    /** Sum of reconcile durations / (workers × converge time after start): 1 = workers never idle. */
    workerUtilization: number;
    meanQueueWaitMs: number;
    ready: Record<string, number>;
  };
  /**
   * CPU seconds kube-apiserver + etcd spent while the floor wrote, and while the operator converged: the
   * work each put on the control plane, much less sensitive than wall time to other load on the machine.
   */
  controlPlaneCpu: { floorSeconds: number; operatorSeconds: number; operatorOverFloor: number };
  /** operator converge time / floor time; also without the operator's process start. */
  ratio: { operatorOverFloor: number; operatorAfterStartOverFloor: number; requestsOverFloor: number };
  steady: {
    periods: number;
    resyncSeconds: number;
    windowSeconds: number;
    requestsByVerb: Record<string, number>;
    reads: number;
    writes: number;
    readsPerMinute: number;
    writesPerMinute: number;
    cpuSecondsPerMinute: number;
    reconcilesPerMinute: number;
  };
  reaction: {
    specChange: LatencyFigures & { observedGeneration: LatencyFigures; applied: boolean };
    drift: LatencyFigures & { kind: string };
  };
  end: { peakRssMB: number; cpuSeconds: number; requestsByVerb: Record<string, number> };
}

export interface BenchResult {
  startedAt: string;
  machine: { cpus: number; loadAverage: number[]; node: string; operatorNodeFlags: string };
  definitions: Record<string, string>;
  sizes: SizeResult[];
  failures: { size: string; error: string }[];
  growth: GrowthFigures | undefined;
  targets: Target[];
}

export interface GrowthFigures {
  from: string;
  to: string;
  /** Marginal cost per added Territory between the two sizes. */
  rssMBPerTerritory: number;
  cpuMsPerTerritory: number;
  requestsPerTerritory: number;
  convergeMsPerTerritory: number;
  /** Peak RSS at 5,000 Territories extrapolated linearly from the two sizes (when 5,000 was not run). */
  estimatedPeakRssMBAt5000: number;
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  /** true met, false missed, undefined not measured in this run. */
  met: boolean | undefined;
}

const round = (x: number, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

export function growthOf(sizes: SizeResult[]): GrowthFigures | undefined {
  const sorted = [...sizes].sort((a, b) => a.territories - b.territories);
  const small = sorted[0];
  const large = sorted.at(-1);
  if (!small || !large || large.territories === small.territories) return undefined;
  const dn = large.territories - small.territories;
  const per = (f: (s: SizeResult) => number) => (f(large) - f(small)) / dn;
  const rss = per((s) => s.end.peakRssMB);
  return {
    from: small.size,
    to: large.size,
    rssMBPerTerritory: round(rss, 4),
    cpuMsPerTerritory: round(
      per((s) => s.converge.cpuSeconds * 1000),
      2,
    ),
    requestsPerTerritory: round(
      per((s) => s.converge.reads + s.converge.writes + s.converge.watches),
      2,
    ),
    convergeMsPerTerritory: round(
      per((s) => s.converge.seconds * 1000),
      2,
    ),
    estimatedPeakRssMBAt5000: round(large.end.peakRssMB + rss * (5000 - large.territories), 0),
  };
}

export function evaluateTargets(sizes: SizeResult[], growth: GrowthFigures | undefined): Target[] {
  const at = (n: number, kind?: string) =>
    sizes.find((s) => s.territories === n && (!kind || s.kind === kind));
  const epci = sizes.find((s) => s.kind === 'epci' && s.territories >= 1255) ?? at(1255);
  const s5000 = sizes.find((s) => s.territories >= 5000);
  const targets: Target[] = [];
  targets.push({
    name: 'operator / floor time at 1,255',
    goal: '≤ 1.5',
    measured: epci
      ? `${round(epci.ratio.operatorOverFloor)} (${round(epci.ratio.operatorAfterStartOverFloor)} without process start)`
      : 'size epci not run',
    met: epci ? epci.ratio.operatorOverFloor <= 1.5 : undefined,
  });
  const writes = sizes.map((s) => `${s.size}: ${s.steady.writes}`).join(', ');
  targets.push({
    name: 'writes at steady state',
    goal: '0',
    measured: writes || 'no size run',
    met: sizes.length > 0 ? sizes.every((s) => s.steady.writes === 0) : undefined,
  });
  targets.push({
    name: 'peak RSS at 5,000',
    goal: '≤ 250 MB',
    measured: s5000
      ? `${round(s5000.end.peakRssMB, 0)} MB`
      : growth
        ? `not run; ~${growth.estimatedPeakRssMBAt5000} MB extrapolated from ${growth.from}→${growth.to}`
        : 'not run',
    met: s5000 ? s5000.end.peakRssMB <= 250 : undefined,
  });
  targets.push({
    name: 'p99 spec change → converged at 1,255',
    goal: '≤ 2 s',
    measured: epci
      ? `${round(epci.reaction.specChange.p99Ms / 1000)} s (n=${epci.reaction.specChange.count})`
      : 'size epci not run',
    met: epci ? epci.reaction.specChange.p99Ms <= 2000 && epci.reaction.specChange.applied : undefined,
  });
  return targets;
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const verbs = (byVerb: Record<string, number>) =>
  Object.entries(byVerb)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, n]) => `${v} ${n}`)
    .join(', ') || '—';

export function renderMarkdown(r: BenchResult): string {
  const cols = r.sizes.map((s) => `${s.size} (${s.territories})`);
  const row = (label: string, f: (s: SizeResult) => string | number) => [label, ...r.sizes.map(f)];
  const out: string[] = [];
  out.push(`# Territory operator bench, ${r.startedAt}`);
  out.push('');
  out.push(
    `${r.machine.cpus} CPUs, load average ${r.machine.loadAverage.map((x) => x.toFixed(1)).join(' ')} at start, ` +
      `Node ${r.machine.node}, operator node flags: ${r.machine.operatorNodeFlags || 'none'}.`,
  );
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(
    table(
      ['target', 'goal', 'measured', 'met'],
      r.targets.map((t) => [
        t.name,
        t.goal,
        t.measured,
        t.met === undefined ? 'not measured' : t.met ? 'yes' : 'NO',
      ]),
    ),
  );
  out.push('');
  out.push('## Figures');
  out.push('');
  out.push(
    table(
      ['', ...cols],
      [
        row('**operator / floor time**', (s) => `**${round(s.ratio.operatorOverFloor)}**`),
        row('operator / floor time, without process start', (s) =>
          round(s.ratio.operatorAfterStartOverFloor),
        ),
        row('operator / floor requests', (s) => round(s.ratio.requestsOverFloor)),
        row(
          'operator / floor control-plane CPU s',
          (s) =>
            `${round(s.controlPlaneCpu.operatorOverFloor)} (${round(s.controlPlaneCpu.operatorSeconds, 0)} / ${round(s.controlPlaneCpu.floorSeconds, 0)})`,
        ),
        row('objects per Territory', (s) => s.objectsPerTerritory),
        row('reconciles per Territory (converge)', (s) => round(s.converge.reconcilesPerTerritory)),
        row(
          'worker utilization / mean reconcile / mean queue wait',
          (s) =>
            `${round(s.converge.workerUtilization)} / ${round(s.converge.meanReconcileMs, 0)} ms / ${round(s.converge.meanQueueWaitMs, 0)} ms`,
        ),
        row('reconcile errors (converge)', (s) => s.converge.reconcileErrors),
        row('operator requests per Territory', (s) => round(s.converge.requestsPerTerritory)),
        row(
          '… writes / reads per Territory',
          (s) => `${round(s.converge.writesPerTerritory)} / ${round(s.converge.readsPerTerritory)}`,
        ),
        row('operator requests by verb', (s) => verbs(s.converge.requestsByVerb)),
        row('steady: writes (must be 0)', (s) => s.steady.writes),
        row('steady: reads / idle minute', (s) => round(s.steady.readsPerMinute, 1)),
        row('steady: CPU s / idle minute', (s) => round(s.steady.cpuSecondsPerMinute, 2)),
        row('steady: reconciles / idle minute', (s) => round(s.steady.reconcilesPerMinute, 0)),
        row('steady: window', (s) => `${s.steady.periods} × ${s.steady.resyncSeconds} s resync`),
        row(
          'spec change → converged p50 / p99',
          (s) =>
            `${round(s.reaction.specChange.p50Ms, 0)} / ${round(s.reaction.specChange.p99Ms, 0)} ms (n=${s.reaction.specChange.count})`,
        ),
        row(
          'spec change → observedGeneration p50 / p99',
          (s) =>
            `${round(s.reaction.specChange.observedGeneration.p50Ms, 0)} / ${round(s.reaction.specChange.observedGeneration.p99Ms, 0)} ms`,
        ),
        row('spec change applied to owned objects', (s) => (s.reaction.specChange.applied ? 'yes' : 'NO')),
        row(
          'drift (deleted object) repaired p50 / p99',
          (s) =>
            `${round(s.reaction.drift.p50Ms, 0)} / ${round(s.reaction.drift.p99Ms, 0)} ms (n=${s.reaction.drift.count}, ${s.reaction.drift.kind})`,
        ),
        row('peak RSS (whole run)', (s) => `${round(s.end.peakRssMB, 0)} MB`),
        row('RSS at start', (s) => `${round(s.converge.rssAtStartMB, 0)} MB`),
        row('CPU ms per Territory (converge)', (s) => round(s.converge.cpuMsPerTerritory, 1)),
        row(
          'converge time',
          (s) => `${round(s.converge.seconds, 1)} s (start ${round(s.converge.startupSeconds, 1)} s)`,
        ),
        row(
          'floor time (mean of runs)',
          (s) =>
            `${round(s.floor.seconds, 1)} s (${s.floor.runs.map((f) => `${f.prefix}* ${round(f.seconds, 1)} s, ${round(f.requestsPerSecond, 0)} req/s`).join('; ')})`,
        ),
        row('concurrency (operator = floor)', (s) => s.concurrency),
        row('Ready after converge', (s) =>
          Object.entries(s.converge.ready)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', '),
        ),
      ],
    ),
  );
  if (r.failures.length > 0) {
    out.push('');
    out.push('## Failed sizes');
    out.push('');
    for (const f of r.failures) out.push(`- **${f.size}**: ${f.error}`);
  }
  if (r.growth) {
    const g = r.growth;
    out.push('');
    out.push(`## Growth, ${g.from} → ${g.to} (marginal cost per added Territory)`);
    out.push('');
    out.push(
      table(
        ['RSS', 'CPU', 'requests', 'converge time', 'peak RSS at 5,000 (linear estimate)'],
        [
          [
            `${g.rssMBPerTerritory} MB`,
            `${g.cpuMsPerTerritory} ms`,
            g.requestsPerTerritory,
            `${g.convergeMsPerTerritory} ms`,
            `${g.estimatedPeakRssMBAt5000} MB`,
          ],
        ],
      ),
    );
  }
  out.push('');
  out.push('## Definitions');
  out.push('');
  for (const [k, v] of Object.entries(r.definitions)) out.push(`- **${k}**: ${v}`);
  return `${out.join('\n')}\n`;
}
