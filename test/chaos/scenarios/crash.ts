// Crash anywhere: Territories are created in waves and edited while the operator is SIGKILLed at
// random moments and restarted each time, so kills land in every step of a reconcile (between the
// namespace and its roles, between a keyring's creation and the status that records it, mid status
// write...). Afterwards every Territory must converge with nothing lost, duplicated or left behind.
import { type ChaosContext, sleep, waitConverged } from '../lib/context.ts';
import { checkWorld, type WorldCheck } from '../lib/invariants.ts';
import { Metrics, writeCount } from '../lib/operator-process.ts';

export interface CrashResult {
  territories: number;
  kills: {
    at: string;
    afterMs: number;
    pid: number;
    queueDepth: number | undefined;
    convergedBefore: number;
  }[];
  edits: number;
  convergedAfterLastKillMs: number;
  idleWrites: number;
  /** API requests during the phase: the normal-work reference for the fault scenarios' rates. */
  requests: { total: number; peakPerSecond: number; sustainedPeakPerSecond: number; perSecond: number };
  idleReconciles: number;
  converged: boolean;
  check: WorldCheck;
}

export async function crashAnywhere(ctx: ChaosContext, runLabel: string): Promise<CrashResult> {
  const { options, world, kube } = ctx;
  const selector = `chaos.sovereign.dev/run=${runLabel}`;
  const waves = Math.max(1, Math.min(options.kills, 10));
  const perWave = Math.ceil(options.territories / waves);
  const killsPerWave = Math.ceil(options.kills / waves);
  const kills: CrashResult['kills'] = [];
  let edits = 0;
  let created = 0;
  let generation = 0;

  const phaseStarted = Date.now();
  let op = await ctx.startOperator(`crash-${generation++}`);
  ctx.log(
    `crash: operator pid ${op.pid}; ${options.territories} Territories in ${waves} waves, ${options.kills} SIGKILLs`,
  );
  for (
    let wave = 0;
    wave < waves && (created < options.territories || kills.length < options.kills);
    wave++
  ) {
    const count = Math.min(perWave, options.territories - created);
    for (let i = 0; i < count; i++) await world.create(kube, world.next());
    created += count;
    // Edits of Territories created earlier: work for the operator while it is being killed.
    const names = [...world.territories.keys()];
    for (let i = 0; i < Math.min(5, names.length); i++) {
      const name = names[Math.floor(world.random() * names.length)] as string;
      await world.edit(kube, name).catch(() => undefined);
      edits++;
    }
    for (let k = 0; k < killsPerWave && kills.length < options.kills; k++) {
      // Random moments: from right after a (re)start, in the middle of list+watch, to deep in reconciles.
      await sleep(500 + Math.floor(world.random() * 7_500));
      const metrics = await op.metrics();
      const depth = metrics?.sum('workqueue_depth');
      const before = await countConverged(ctx, selector);
      await op.kill('SIGKILL');
      kills.push({
        at: new Date().toISOString(),
        afterMs: Date.now() - op.startedAt,
        pid: op.pid,
        queueDepth: depth,
        convergedBefore: before,
      });
      ctx.log(
        `crash: kill ${kills.length}/${options.kills} pid ${op.pid} after ${Date.now() - op.startedAt} ms ` +
          `(queue depth ${depth ?? '?'}, converged ${before}/${created})`,
      );
      op = await ctx.startOperator(`crash-${generation++}`);
    }
  }
  ctx.log(`crash: ${kills.length} kills done; waiting for ${created} Territories to converge`);
  const wait = await waitConverged(ctx, selector, options.convergeTimeoutMs, () =>
    checkWorld(kube, ctx.config, ctx.tracker, selector),
  );
  // Idle: once converged, a full resync period must cost no write (level-based, idempotent reconciles).
  const idleFrom = (await op.metrics()) ?? new Metrics([], '');
  await sleep((ctx.config.resyncSeconds + 5) * 1000);
  const idleTo = (await op.metrics()) ?? new Metrics([], '');
  const idleWrites = writeCount(idleTo) - writeCount(idleFrom);
  const idleReconciles =
    idleTo.sum('controller_runtime_reconcile_total') - idleFrom.sum('controller_runtime_reconcile_total');
  ctx.log(`crash: idle for one resync period: ${idleReconciles} reconciles, ${idleWrites} writes`);
  // Final check after that quiet period: nothing may change once converged (no late duplicate, no flapping).
  const check = await checkWorld(kube, ctx.config, ctx.tracker, selector);
  ctx.log(
    `crash: converged ${check.converged}/${check.territories} in ${(wait.ms / 1000).toFixed(1)} s after the last kill; ` +
      `${check.violations.length} violation(s)`,
  );
  return {
    territories: created,
    kills,
    edits,
    convergedAfterLastKillMs: wait.ms,
    requests: ctx.requestRate(phaseStarted, Date.now()),
    idleWrites,
    idleReconciles,
    converged: wait.converged && check.converged === check.territories,
    check,
  };
}

async function countConverged(ctx: ChaosContext, selector: string): Promise<number> {
  try {
    const list = await ctx.kube.list<{
      metadata: { generation?: number };
      status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
    }>(`/apis/sovereign.dev/v1alpha1/territories?labelSelector=${encodeURIComponent(selector)}`);
    return list.items.filter(
      (t) =>
        t.status?.observedGeneration === t.metadata.generation &&
        t.status?.conditions?.find((c) => c.type === 'KeysReady')?.status === 'True',
    ).length;
  } catch {
    return -1;
  }
}
