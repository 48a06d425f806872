// What every chaos scenario shares: the control plane (its own, restarted and compacted at will), the
// fault proxy the operators talk through, the world of Territories, the secret tracker, the operator
// processes started so far (their lines are kept for the secrets grep) and a metrics sampler.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type OperatorConfig, parseOperatorConfig } from '../../../operator/src/config/operator-config.ts';
import type { ControlPlane } from '../../controlplane/controlplane.ts';
import type { FaultProxy } from '../../support/fault-proxy.ts';
import { KubeHttp } from './kube-http.ts';
import { type Metrics, OperatorProcess, requestCount, writeCount } from './operator-process.ts';
import type { SecretTracker } from './secret-tracker.ts';
import { CHAOS_OPERATOR_CONFIG, type World } from './world.ts';

export interface ChaosOptions {
  territories: number;
  kills: number;
  failovers: number;
  badInputs: number;
  collisionRaces: number;
  seed: number;
  phases: Set<string>;
  convergeTimeoutMs: number;
  /** Peak API requests per second allowed during recovery from a fault (a flood is far above). */
  floodLimitPerSecond: number;
  outDir: string;
}

export interface RateSample {
  at: number;
  identity: string;
  requests: number;
  writes: number;
  leader: number;
}

export class ChaosContext {
  readonly options: ChaosOptions;
  readonly cp: ControlPlane;
  readonly kube: KubeHttp;
  readonly proxy: FaultProxy;
  readonly world: World;
  readonly tracker: SecretTracker;
  readonly config: OperatorConfig;
  readonly configPath: string;
  /** The operators' kubeconfig: the admin's, pointing at the fault proxy. */
  readonly operatorKubeconfig: string;
  /** Every line any operator process printed, in order. */
  readonly lines: string[] = [];
  readonly operators: OperatorProcess[] = [];
  readonly samples: RateSample[] = [];
  /** The last /metrics text of each operator identity, for the secrets grep. */
  readonly metricsTexts = new Map<string, string>();
  readonly #started = Date.now();
  #sampler: NodeJS.Timeout | undefined;
  #provisioner: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(init: {
    options: ChaosOptions;
    cp: ControlPlane;
    proxy: FaultProxy;
    world: World;
    tracker: SecretTracker;
  }) {
    this.options = init.options;
    this.cp = init.cp;
    this.proxy = init.proxy;
    this.world = init.world;
    this.tracker = init.tracker;
    this.kube = KubeHttp.fromKubeconfig(init.cp.kubeconfigPath);
    mkdirSync(init.options.outDir, { recursive: true });
    this.configPath = join(init.options.outDir, 'operator-config.yaml');
    writeFileSync(this.configPath, stringify(CHAOS_OPERATOR_CONFIG));
    this.config = parseOperatorConfig(CHAOS_OPERATOR_CONFIG);
    this.operatorKubeconfig = join(init.cp.dir, 'operator-via-proxy.kubeconfig');
    const admin = readFileSync(init.cp.kubeconfigPath, 'utf8');
    writeFileSync(
      this.operatorKubeconfig,
      admin.replace(init.cp.apiServerUrl, `https://127.0.0.1:${init.proxy.port}`),
      {
        mode: 0o600,
      },
    );
  }

  log(message: string): void {
    const seconds = ((Date.now() - this.#started) / 1000).toFixed(1).padStart(7);
    console.log(`[chaos ${seconds}s] ${message}`);
  }

  async startOperator(identity: string, leaseNamespace?: string): Promise<OperatorProcess> {
    const op = await OperatorProcess.start({
      identity,
      kubeconfigPath: this.operatorKubeconfig,
      configPath: this.configPath,
      logPath: join(this.options.outDir, `operator-${identity}.log`),
      sink: this.lines,
      ...(leaseNamespace ? { leaseNamespace } : {}),
    });
    this.operators.push(op);
    return op;
  }

  running(): OperatorProcess[] {
    return this.operators.filter((op) => op.exit() === undefined);
  }

  /** Samples every running operator's request counters and leader gauge, every `everyMs`. */
  startSampler(everyMs = 500): void {
    this.#sampler = setInterval(() => void this.sampleOnce(), everyMs);
  }

  async sampleOnce(): Promise<void> {
    await Promise.all(
      this.running().map(async (op) => {
        const metrics = await op.metrics();
        if (!metrics) return;
        this.#record(op.identity, metrics);
      }),
    );
  }

  #record(identity: string, metrics: Metrics): void {
    this.metricsTexts.set(identity, metrics.text);
    this.samples.push({
      at: Date.now(),
      identity,
      requests: requestCount(metrics),
      writes: writeCount(metrics),
      leader: metrics.sum('leader_election_master_status'),
    });
  }

  /** The authorities create their Secrets as soon as their namespace shows up, every second. */
  startProvisioner(): void {
    const tick = async () => {
      try {
        await this.world.provisionSecrets(this.kube);
      } catch {
        // the API server may be down on purpose; the next tick tries again
      }
      if (!this.#stopped) this.#provisioner = setTimeout(() => void tick(), 1_000);
    };
    void tick();
  }

  /** Requests per second of one identity between two times (counter deltas over the samples). */
  requestRate(
    from: number,
    to: number,
  ): { total: number; peakPerSecond: number; sustainedPeakPerSecond: number; perSecond: number } {
    let total = 0;
    let peak = 0;
    const byIdentity = new Map<string, RateSample[]>();
    for (const s of this.samples) {
      if (s.at < from - 1_000 || s.at > to) continue;
      const list = byIdentity.get(s.identity) ?? [];
      list.push(s);
      byIdentity.set(s.identity, list);
    }
    // Peak: the largest 1-second window, summed over all processes.
    const buckets = new Map<number, number>();
    for (const list of byIdentity.values()) {
      for (let i = 1; i < list.length; i++) {
        const a = list[i - 1] as RateSample;
        const b = list[i] as RateSample;
        if (b.at < from) continue;
        const delta = Math.max(0, b.requests - a.requests); // a restarted process starts from 0
        total += delta;
        const bucket = Math.floor(b.at / 1_000);
        buckets.set(bucket, (buckets.get(bucket) ?? 0) + delta);
      }
    }
    for (const v of buckets.values()) peak = Math.max(peak, v);
    // Sustained peak: the busiest 5 seconds. A flood (a retry loop without backoff) is sustained; a
    // one-second burst of legitimate work released at once when the API server comes back is not.
    let sustained = 0;
    for (const start of buckets.keys()) {
      let sum = 0;
      for (let k = 0; k < 5; k++) sum += buckets.get(start + k) ?? 0;
      sustained = Math.max(sustained, sum / 5);
    }
    const seconds = Math.max(1, (to - from) / 1_000);
    return {
      total,
      peakPerSecond: peak,
      sustainedPeakPerSecond: Math.round(sustained),
      perSecond: total / seconds,
    };
  }

  async stopAll(): Promise<void> {
    this.#stopped = true;
    if (this.#sampler) clearInterval(this.#sampler);
    if (this.#provisioner) clearTimeout(this.#provisioner);
    for (const op of this.running()) await op.kill('SIGTERM');
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the world's invariants until every selected Territory converged (or the timeout). */
export async function waitConverged(
  ctx: ChaosContext,
  selector: string,
  timeoutMs: number,
  check: () => Promise<{
    territories: number;
    converged: number;
    notConverged: { name: string; why: string }[];
  }>,
): Promise<{ ms: number; converged: boolean; last: Awaited<ReturnType<typeof check>> }> {
  const started = Date.now();
  let lastLog = 0;
  for (;;) {
    let last: Awaited<ReturnType<typeof check>>;
    try {
      last = await check();
    } catch (error) {
      if (Date.now() - started > timeoutMs) throw error;
      await sleep(2_000);
      continue;
    }
    if (last.converged === last.territories) return { ms: Date.now() - started, converged: true, last };
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      const sample = last.notConverged[0];
      ctx.log(
        `  converged ${last.converged}/${last.territories} (${selector})` +
          (sample ? `; e.g. ${sample.name}: ${sample.why.slice(0, 160)}` : ''),
      );
    }
    if (Date.now() - started > timeoutMs) return { ms: Date.now() - started, converged: false, last };
    await sleep(3_000);
  }
}
