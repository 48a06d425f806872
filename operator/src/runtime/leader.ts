import { hostname } from 'node:os';
import { jittered } from './backoff.ts';
import { systemClock } from './clock.ts';
import { microTime } from './events.ts';
import { isConflict, type KubeClient } from './kube-client.ts';
import type { Clock, KubeObject, Logger, ObjectRef } from './types.ts';

export interface LeaderElectionOptions {
  namespace: string;
  leaseName: string;
  /** Unique per replica; default `hostname-pid`. */
  identity?: string;
  /** How long a lease is valid after its last renewal, as judged by the other candidates. Default 15 s. */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long (must be < leaseDuration). Default 10 s. */
  renewDeadlineMs?: number;
  /** Time between attempts (acquire or renew). Default 2 s. */
  retryPeriodMs?: number;
  onStartedLeading?(): void;
  onStoppedLeading?(): void;
  clock?: Clock;
  logger?: Logger;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
type Lease = KubeObject & { spec?: LeaseSpec };

type Attempt = 'leading' | 'held-by-other' | 'error';

export function defaultIdentity(): string {
  return `${hostname()}-${process.pid}`;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, client-go's algorithm: acquire when the lease is
 * free or its holder has not renewed for a lease duration (measured on OUR clock from when we last saw
 * the record change, so clock skew between nodes does not matter); renew every retry period with an
 * optimistic-concurrency update (resourceVersion); step down if renewal fails for the renew deadline or
 * someone else holds it. With 15/10/2 s a dead leader is replaced within ~15-17 s. On stop, the lease is
 * released (holderIdentity cleared) so a successor takes over at its next attempt, not after expiry.
 */
export class LeaderElector {
  readonly identity: string;
  readonly #client: KubeClient;
  readonly #ref: ObjectRef;
  readonly #opts: Required<
    Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>
  >;
  readonly #options: LeaderElectionOptions;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #stop = new AbortController();
  #leading = false;
  #lastRenew = 0;
  #known: Lease | undefined;
  #observedKey = '';
  #observedAt = 0;
  #loop: Promise<void> | undefined;

  constructor(client: KubeClient, options: LeaderElectionOptions) {
    this.#client = client;
    this.#options = options;
    this.identity = options.identity ?? defaultIdentity();
    this.#ref = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: options.namespace,
      name: options.leaseName,
    };
    this.#opts = {
      leaseDurationMs: options.leaseDurationMs ?? 15_000,
      renewDeadlineMs: options.renewDeadlineMs ?? 10_000,
      retryPeriodMs: options.retryPeriodMs ?? 2_000,
    };
    if (this.#opts.renewDeadlineMs >= this.#opts.leaseDurationMs) {
      throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
    }
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger?.child({
      lease: `${options.namespace}/${options.leaseName}`,
      identity: this.identity,
    });
  }

  /**
   * Leading AND renewed within the renew deadline, judged now: a process paused (GC, frozen VM, SIGSTOP)
   * past its lease still has `#leading` set when it wakes up, while a successor may already be writing.
   */
  isLeader(): boolean {
    return this.#leading && this.#clock.now() - this.#lastRenew < this.#opts.renewDeadlineMs;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops campaigning; if leading, releases the lease and calls onStoppedLeading. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    if (this.#leading) {
      await this.#release();
      this.#setLeading(false);
    }
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const result = await this.#attempt();
      if (this.#stop.signal.aborted) break;
      const now = this.#clock.now();
      if (result === 'leading') {
        this.#lastRenew = now;
        this.#setLeading(true);
      } else if (
        this.#leading &&
        (result === 'held-by-other' || now - this.#lastRenew >= this.#opts.renewDeadlineMs)
      ) {
        this.#logger?.warn({ result }, 'lost leadership');
        this.#setLeading(false);
      }
      // Candidates spread their attempts; the leader renews on a steady beat.
      await this.#sleep(
        this.#leading ? this.#opts.retryPeriodMs : jittered(this.#opts.retryPeriodMs * 1.6, 0.4),
      );
    }
  }

  #setLeading(on: boolean): void {
    if (this.#leading === on) return;
    this.#leading = on;
    this.#logger?.info({}, on ? 'became leader' : 'stopped leading');
    try {
      if (on) this.#options.onStartedLeading?.();
      else this.#options.onStoppedLeading?.();
    } catch (error) {
      this.#logger?.error(
        { err: error instanceof Error ? error.message : String(error) },
        'leadership callback threw',
      );
    }
  }

  async #attempt(): Promise<Attempt> {
    try {
      // While leading, renew straight from the last record we wrote: one request per beat, not two.
      let lease = this.#leading && this.#known ? this.#known : await this.#client.get<Lease>(this.#ref);
      if (!lease) {
        this.#known = await this.#client.create<Lease>(this.#leaseObject(undefined));
        return 'leading';
      }
      this.#observe(lease);
      const holder = lease.spec?.holderIdentity;
      if (holder && holder !== this.identity && !this.#expired(lease)) return 'held-by-other';
      try {
        this.#known = await this.#client.replace<Lease>(this.#leaseObject(lease));
        return 'leading';
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Someone wrote in between: re-read and judge again next beat.
        this.#known = undefined;
        lease = await this.#client.get<Lease>(this.#ref);
        if (lease) this.#observe(lease);
        const other = lease?.spec?.holderIdentity;
        return other && other !== this.identity ? 'held-by-other' : 'error';
      }
    } catch (error) {
      this.#known = undefined;
      this.#logger?.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'lease attempt failed',
      );
      return 'error';
    }
  }

  /** Records when (on our clock) the lease record last changed. */
  #observe(lease: Lease): void {
    const s = lease.spec ?? {};
    const key = `${s.holderIdentity ?? ''}|${s.renewTime ?? ''}|${lease.metadata.resourceVersion ?? ''}`;
    if (key !== this.#observedKey) {
      this.#observedKey = key;
      this.#observedAt = this.#clock.now();
    }
  }

  #expired(lease: Lease): boolean {
    const durationMs =
      (lease.spec?.leaseDurationSeconds ?? Math.ceil(this.#opts.leaseDurationMs / 1000)) * 1000;
    return this.#clock.now() - this.#observedAt >= durationMs;
  }

  #leaseObject(current: Lease | undefined): Lease {
    const now = microTime(this.#clock.now());
    const spec = current?.spec ?? {};
    const keep = spec.holderIdentity === this.identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.#ref.name,
        namespace: this.#ref.namespace,
        ...(current?.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.#opts.leaseDurationMs / 1000),
        acquireTime: keep && spec.acquireTime ? spec.acquireTime : now,
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (keep || !current ? 0 : 1),
      },
    };
  }

  async #release(): Promise<void> {
    try {
      const lease = this.#known ?? (await this.#client.get<Lease>(this.#ref));
      if (!lease || lease.spec?.holderIdentity !== this.identity) return;
      const now = microTime(this.#clock.now());
      await this.#client.replace({
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: null,
          leaseDurationSeconds: 1,
          renewTime: now,
          acquireTime: now,
        },
      });
      this.#known = undefined;
      this.#logger?.info({}, 'released lease');
    } catch (error) {
      // Not fatal: the lease simply expires after its duration.
      this.#logger?.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'could not release lease',
      );
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#stop.signal;
      if (signal.aborted) return resolve();
      const timer = this.#clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.#clock.clearTimeout(timer);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
