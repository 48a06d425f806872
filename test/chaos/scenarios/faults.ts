// Control-plane and network faults while Territories converge. For each: inject, give the operator
// work (a wave of new Territories, a spec edit, an owned object deleted behind its back), then require
// that it recovers WITHOUT a restart of its own and WITHOUT a request flood (request rate read from
// its /metrics, rest_client_requests_total, sampled every 500 ms).
import { API_VERSION, KIND } from '../../../operator/src/api/territory.ts';
import { type ChaosContext, sleep, waitConverged } from '../lib/context.ts';
import { compactNow } from '../lib/etcd.ts';
import { checkWorld } from '../lib/invariants.ts';
import { objectPath } from '../lib/kube-http.ts';
import type { OperatorProcess } from '../lib/operator-process.ts';

export interface FaultResult {
  name: string;
  recovered: boolean;
  recoveryMs: number;
  operatorRestarted: boolean;
  driftRepaired: boolean;
  peakRequestsPerSecond: number;
  sustainedPeakPerSecond: number;
  requestsPerSecond: number;
  baselinePerSecond: number;
  totalRequests: number;
  evidence: string;
}

const WAVE = 10;

export async function controlPlaneFaults(
  ctx: ChaosContext,
  runLabel: string,
): Promise<{ faults: FaultResult[]; failures: string[] }> {
  const selector = `chaos.sovereign.dev/run=${runLabel}`;
  let op = ctx.running()[0];
  if (!op) op = await ctx.startOperator('faults');
  await waitReady(op);
  await waitConverged(ctx, selector, ctx.options.convergeTimeoutMs, () =>
    checkWorld(ctx.kube, ctx.config, ctx.tracker, selector),
  );
  const faults: FaultResult[] = [];
  const failures: string[] = [];

  const run = async (
    name: string,
    inject: () => Promise<void>,
    heal: () => Promise<void>,
    evidence: (linesSince: string[]) => string,
  ) => {
    const current = op as OperatorProcess;
    const pid = current.pid;
    const baselineFrom = Date.now() - 10_000;
    const baseline = ctx.requestRate(baselineFrom, Date.now());
    const mark = ctx.lines.length;
    const started = Date.now();
    ctx.log(`faults: ${name}`);
    // Work for the operator while the fault is on: new Territories, a spec edit, drift.
    const drift = await pickDrift(ctx, selector);
    for (let i = 0; i < WAVE; i++) await ctx.world.create(ctx.kube, ctx.world.next()).catch(() => undefined);
    await inject();
    await driftWhileFaulty(ctx, drift);
    await heal();
    const wait = await waitConverged(ctx, selector, ctx.options.convergeTimeoutMs, () =>
      checkWorld(ctx.kube, ctx.config, ctx.tracker, selector),
    );
    const driftRepaired = drift ? await isRepaired(ctx, drift) : true;
    const recoveryMs = Date.now() - started;
    await sleep(2_000);
    const rate = ctx.requestRate(started, Date.now());
    const restarted = current.exit() !== undefined || current.pid !== pid;
    const result: FaultResult = {
      name,
      recovered: wait.converged && driftRepaired,
      recoveryMs,
      operatorRestarted: restarted,
      driftRepaired,
      peakRequestsPerSecond: rate.peakPerSecond,
      sustainedPeakPerSecond: rate.sustainedPeakPerSecond,
      requestsPerSecond: rate.perSecond,
      baselinePerSecond: baseline.perSecond,
      totalRequests: rate.total,
      evidence: evidence(ctx.lines.slice(mark)),
    };
    faults.push(result);
    ctx.log(
      `faults: ${name}: ${result.recovered ? 'recovered' : 'NOT recovered'} in ${(recoveryMs / 1000).toFixed(1)} s, ` +
        `peak ${rate.peakPerSecond} req/s (5 s: ${rate.sustainedPeakPerSecond}), mean ${rate.perSecond.toFixed(1)} req/s; ${result.evidence}`,
    );
    if (!result.recovered)
      failures.push(
        `${name}: not recovered (${JSON.stringify(wait.last.notConverged.slice(0, 3))}; drift repaired: ${driftRepaired})`,
      );
    if (restarted) failures.push(`${name}: the operator restarted (exit ${JSON.stringify(current.exit())})`);
    if (rate.sustainedPeakPerSecond > ctx.options.floodLimitPerSecond) {
      failures.push(
        `${name}: request flood, ${rate.sustainedPeakPerSecond}/s for 5 s > ${ctx.options.floodLimitPerSecond}/s`,
      );
    }
  };

  const count = (lines: string[], pattern: RegExp) => lines.filter((l) => pattern.test(l)).length;

  await run(
    'kube-apiserver restarted during convergence',
    async () => {
      await sleep(1_000);
      await ctx.cp.restartApiServer();
    },
    async () => undefined,
    (lines) => `${count(lines, /"level":"(warn|error)"/)} warn/error lines while it was down`,
  );

  await run(
    'etcd compacted while the operator was cut off: watches resume with 410 Gone',
    async () => {
      // Cut the operator off, change the world behind its back, compact etcd at the current revision,
      // and restart the API server so its watch cache cannot serve the old resourceVersions either.
      ctx.proxy.refuse(true);
      ctx.proxy.cut();
      await sleep(3_000);
    },
    async () => {
      const revision = await compactNow(ctx.cp.etcdEndpoint);
      ctx.log(`faults: etcd compacted at revision ${revision}`);
      await ctx.cp.restartApiServer();
      ctx.proxy.refuse(false);
    },
    (lines) => `${count(lines, /410|expired|too old/i)} log lines about expired resourceVersions (410)`,
  );

  await run(
    'API server 300 ms slower per round trip for 45 s (latency injected in front of it)',
    async () => {
      ctx.proxy.setLatency(150); // each way
      ctx.proxy.cut(); // new connections carry the latency from their first byte
    },
    async () => {
      await sleep(45_000);
      ctx.proxy.setLatency(0);
    },
    (lines) => `${count(lines, /timed out|timeout/i)} timeout lines`,
  );

  await run(
    'half-dead connections: every open connection, watches included, goes silent',
    async () => {
      ctx.proxy.freeze();
    },
    async () => undefined,
    (lines) => `${count(lines, /silent|no event|restart/i)} log lines about silent or restarted watches`,
  );

  await run(
    'API server unreachable for 20 s (connections refused and reset)',
    async () => {
      ctx.proxy.refuse(true);
      ctx.proxy.cut();
    },
    async () => {
      await sleep(20_000);
      ctx.proxy.refuse(false);
    },
    (lines) => `${count(lines, /ECONNRESET|ECONNREFUSED|socket hang up|closed/i)} connection error lines`,
  );

  return { faults, failures };
}

async function waitReady(op: OperatorProcess): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (await op.ready()) return;
    await sleep(500);
  }
  throw new Error(`operator ${op.identity} never became ready`);
}

interface Drift {
  namespace: string;
  policyUid: string;
  edited: string;
  generation: number;
}

/** A converged Territory to tamper with: its default-deny NetworkPolicy will vanish, its spec will change. */
async function pickDrift(ctx: ChaosContext, selector: string): Promise<Drift | undefined> {
  const list = await ctx.kube.list<{ metadata: { name: string; generation: number } }>(
    `${objectPath({ apiVersion: API_VERSION, kind: KIND })}?labelSelector=${encodeURIComponent(selector)}`,
  );
  const t = list.items[Math.floor(ctx.world.random() * list.items.length)];
  if (!t) return undefined;
  const policy = await ctx.kube.get(
    objectPath({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      namespace: t.metadata.name,
      name: 'default-deny',
    }),
  );
  const uid = (policy.body as { metadata?: { uid?: string } }).metadata?.uid ?? '';
  return {
    namespace: t.metadata.name,
    policyUid: uid,
    edited: t.metadata.name,
    generation: t.metadata.generation,
  };
}

/** Deletes the policy and edits the spec while the fault is on (retried: the API may be down). */
async function driftWhileFaulty(ctx: ChaosContext, drift: Drift | undefined): Promise<void> {
  if (!drift) return;
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const deleted = await ctx.kube.request(
        'DELETE',
        objectPath({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          namespace: drift.namespace,
          name: 'default-deny',
        }),
      );
      if (deleted.status !== 200 && deleted.status !== 404) throw new Error(String(deleted.status));
      await ctx.world.edit(ctx.kube, drift.edited);
      return;
    } catch {
      await sleep(500);
    }
  }
}

async function isRepaired(ctx: ChaosContext, drift: Drift): Promise<boolean> {
  for (let i = 0; i < 60; i++) {
    const policy = await ctx.kube
      .get(
        objectPath({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          namespace: drift.namespace,
          name: 'default-deny',
        }),
      )
      .catch(() => undefined);
    const uid = (policy?.body as { metadata?: { uid?: string } } | undefined)?.metadata?.uid;
    if (policy?.status === 200 && uid !== drift.policyUid) return true;
    await sleep(500);
  }
  return false;
}
