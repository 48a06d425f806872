// Leader failover: two replicas with leader election on a Lease. The leader is SIGKILLed repeatedly
// while Territories converge; the standby must take over (time reported), there must never be two
// leaders at once, and a standby must never write (its write counters, read from /metrics every
// 250 ms, stay flat while it is not leading). Then the harder case: a leader PAUSED (SIGSTOP, a long
// GC pause or a frozen VM) past its lease, resumed after its successor took over, must not write.
import { type ChaosContext, type RateSample, sleep, waitConverged } from '../lib/context.ts';
import { checkWorld } from '../lib/invariants.ts';
import { objectPath } from '../lib/kube-http.ts';
import { Metrics, type OperatorProcess, writeCount } from '../lib/operator-process.ts';

const LEASE_NAMESPACE = 'territory-system';
const LEASE = objectPath({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  namespace: LEASE_NAMESPACE,
  name: 'territory-operator',
});

async function holder(ctx: ChaosContext): Promise<string | undefined> {
  const lease = await ctx.kube.get(LEASE).catch(() => undefined);
  return (
    (lease?.body as { spec?: { holderIdentity?: string } } | undefined)?.spec?.holderIdentity ?? undefined
  );
}

async function leaderGauge(op: OperatorProcess): Promise<number | undefined> {
  return (await op.metrics())?.sum('leader_election_master_status');
}

/** Waits until `op` holds the Lease and says so on /metrics; returns when that was first seen. */
async function waitLeading(
  ctx: ChaosContext,
  op: OperatorProcess,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await holder(ctx)) === op.identity && (await leaderGauge(op)) === 1) return Date.now();
    await sleep(100);
  }
  return undefined;
}

export async function leaderFailover(
  ctx: ChaosContext,
  runLabel: string,
): Promise<{ failures: string[] } & Record<string, unknown>> {
  const selector = `chaos.sovereign.dev/run=${runLabel}`;
  const failures: string[] = [];
  for (const op of ctx.running()) await op.kill('SIGTERM');
  let generation = 0;
  const start = () => ctx.startOperator(`replica-${generation++}`, LEASE_NAMESPACE);
  let replicas = [await start(), await start()];

  // Dense sampling of both replicas: leader gauges and write counters.
  const samples: RateSample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await Promise.all(
        replicas.map(async (op) => {
          const m = await op.metrics();
          if (m)
            samples.push({
              at: Date.now(),
              identity: op.identity,
              requests: 0,
              writes: writeCount(m),
              leader: m.sum('leader_election_master_status'),
            });
        }),
      );
      await sleep(250);
    }
  })();

  const takeovers: { killed: string; successor: string; takeoverMs: number }[] = [];
  let leader: OperatorProcess | undefined;
  for (let round = 0; round < ctx.options.failovers; round++) {
    // Whoever leads now (the first round: whoever won the initial election).
    const deadline = Date.now() + 60_000;
    while (!leader && Date.now() < deadline) {
      const id = await holder(ctx);
      leader = replicas.find((op) => op.identity === id && op.exit() === undefined);
      if (!leader) await sleep(200);
    }
    if (!leader) {
      failures.push(`round ${round}: no leader within 60 s`);
      break;
    }
    await waitLeading(ctx, leader, 30_000);
    for (let i = 0; i < 5; i++) await ctx.world.create(ctx.kube, ctx.world.next());
    await sleep(500 + Math.floor(ctx.world.random() * 3_000));
    const survivor = replicas.find((op) => op !== leader) as OperatorProcess;
    const killedAt = Date.now();
    await leader.kill('SIGKILL');
    const tookOverAt = await waitLeading(ctx, survivor, 60_000);
    if (tookOverAt === undefined) {
      failures.push(`round ${round}: ${survivor.identity} did not take over within 60 s`);
      break;
    }
    takeovers.push({
      killed: leader.identity,
      successor: survivor.identity,
      takeoverMs: tookOverAt - killedAt,
    });
    ctx.log(
      `failover: round ${round + 1}/${ctx.options.failovers}: ${leader.identity} killed, ${survivor.identity} leads after ${((tookOverAt - killedAt) / 1000).toFixed(1)} s`,
    );
    const fresh = await start();
    replicas = [survivor, fresh];
    leader = survivor;
  }

  // The paused leader: SIGSTOP past the lease while new work arrives, successor takes over, SIGCONT.
  // Paused while idle (its write counter steady), so every write counted after it resumes was SENT
  // after it resumed: a second writer next to the successor.
  let pause: Record<string, unknown> | undefined;
  let pausedIdentity = '';
  let resumedAtMs = 0;
  if (leader && failures.length === 0) {
    const paused = leader;
    const survivor = replicas.find((op) => op !== paused) as OperatorProcess;
    await waitConverged(ctx, selector, ctx.options.convergeTimeoutMs, () =>
      checkWorld(ctx.kube, ctx.config, ctx.tracker, selector),
    );
    let writesBefore = -1;
    for (let i = 0; i < 60; i++) {
      const first = writeCount((await paused.metrics()) ?? new Metrics([], ''));
      await sleep(3_000);
      const second = writeCount((await paused.metrics()) ?? new Metrics([], ''));
      if (first === second) {
        writesBefore = second;
        break;
      }
    }
    const pausedAt = Date.now();
    paused.signal('SIGSTOP');
    for (let i = 0; i < 10; i++) await ctx.world.create(ctx.kube, ctx.world.next());
    const tookOverAt = await waitLeading(ctx, survivor, 60_000);
    // The successor works on the new Territories on its own for a moment, then the old leader wakes up.
    await sleep(2_000);
    paused.signal('SIGCONT');
    const resumedAt = Date.now();
    pausedIdentity = paused.identity;
    resumedAtMs = resumedAt;
    let writesAfter = writesBefore;
    for (let i = 0; i < 40 && paused.exit() === undefined; i++) {
      const m = await paused.metrics();
      if (m) writesAfter = writeCount(m);
      await sleep(250);
    }
    pause = {
      idleBeforePause: writesBefore >= 0,
      takeoverMs: tookOverAt === undefined ? undefined : tookOverAt - pausedAt,
      writesAfterTakeover: Math.max(0, writesAfter - writesBefore),
      exited: paused.exit() !== undefined,
      exit: paused.exit(),
      resumedAfterMs: resumedAt - pausedAt,
    };
    ctx.log(
      `failover: paused leader ${paused.identity}: successor after ${((Number(pause.takeoverMs) || 0) / 1000).toFixed(1)} s; ` +
        `${pause.writesAfterTakeover} write(s) after resuming; exited: ${pause.exited}`,
    );
    if (writesBefore < 0) failures.push('paused leader: never idle before the pause, test inconclusive');
    if (tookOverAt === undefined) failures.push('paused leader: the standby never took over');
    if (Number(pause.writesAfterTakeover) > 0) {
      failures.push(
        `paused leader: ${pause.writesAfterTakeover} write(s) by the old leader after its successor took over (two writers)`,
      );
    }
    if (paused.exit() === undefined) {
      await paused.kill('SIGKILL');
      failures.push('paused leader: still running 10 s after resuming without its Lease');
    }
    replicas = [survivor, await start()];
  }

  sampling = false;
  await sampler;

  // Never two leaders, never a standby writing. Samples are per process; compare the same instants.
  let doubleLeaderSamples = 0;
  let standbyWrites = 0;
  const byIdentity = new Map<string, RateSample[]>();
  for (const s of samples) byIdentity.set(s.identity, [...(byIdentity.get(s.identity) ?? []), s]);
  const leading = (identity: string, at: number) => {
    const list = byIdentity.get(identity) ?? [];
    const before = [...list].reverse().find((s) => s.at <= at);
    return before?.leader === 1;
  };
  // A scrape sent while a replica was paused is answered the instant it resumes, before its elector has
  // run: that gauge reading is stale, not a claim (its writes, counted below, are what matters).
  const stale = (x: RateSample) =>
    x.identity === pausedIdentity && x.at >= resumedAtMs && x.at - resumedAtMs < 3_000;
  for (const s of samples) {
    if (s.leader !== 1 || stale(s)) continue;
    for (const other of byIdentity.keys()) {
      if (other !== s.identity && leading(other, s.at)) {
        const otherSample = [...(byIdentity.get(other) ?? [])].reverse().find((x) => x.at <= s.at);
        // Same instant (within one sampling period) both claiming the lease.
        if (otherSample && !stale(otherSample) && s.at - otherSample.at < 300) doubleLeaderSamples++;
      }
    }
  }
  for (const list of byIdentity.values()) {
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1] as RateSample;
      const b = list[i] as RateSample;
      // Writes between two samples in which the process said it was NOT leading.
      if (a.leader === 0 && b.leader === 0 && b.writes > a.writes) standbyWrites += b.writes - a.writes;
    }
  }
  if (doubleLeaderSamples > 0) failures.push(`${doubleLeaderSamples} samples with two leaders`);
  if (standbyWrites > 0) failures.push(`${standbyWrites} writes from a replica that was not leading`);

  ctx.log('failover: waiting for convergence under the last leader');
  const wait = await waitConverged(ctx, selector, ctx.options.convergeTimeoutMs, () =>
    checkWorld(ctx.kube, ctx.config, ctx.tracker, selector),
  );
  const check = await checkWorld(ctx.kube, ctx.config, ctx.tracker, selector);
  failures.push(...check.violations);
  if (!wait.converged)
    failures.push(`${check.territories - check.converged} Territories did not converge after failovers`);
  // Leave one plain replica for the next phases.
  for (const op of ctx.running()) await op.kill('SIGTERM');
  await ctx.startOperator('after-failover');
  return {
    takeovers,
    pause,
    doubleLeaderSamples,
    standbyWrites,
    samples: samples.length,
    converged: check.converged,
    territories: check.territories,
    failures,
  };
}
