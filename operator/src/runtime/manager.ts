import type { KubeConfig } from '@kubernetes/client-node';
import { ServerSideApplier } from './apply.ts';
import type { ClusterAccess } from './cluster-access.ts';
import { Controller } from './controller.ts';
import { KubeEventRecorder } from './events.ts';
import { HealthServer } from './health.ts';
import { KubeClient } from './kube-client.ts';
import { defaultIdentity, LeaderElector } from './leader.ts';
import { createLogger } from './logger.ts';
import { RuntimeMetrics } from './metrics.ts';
import type { ControllerOptions, Logger } from './types.ts';

export interface ManagerOptions {
  /** A ClusterAccess (light, see cluster-access.ts) or a client-node KubeConfig. */
  kubeConfig: ClusterAccess | KubeConfig;
  /** Field manager for server-side apply, Events' reportingController, log field. */
  name: string;
  logger?: Logger;
  /** Port for /healthz, /readyz, /metrics; unset = no server; 0 = any free port (see healthPort()). */
  healthPort?: number;
  healthHost?: string;
  /** Several replicas, one active. Unset = this process always reconciles. */
  leaderElection?: {
    namespace: string;
    leaseName: string;
    identity?: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
  };
  /** Bounded wait for in-flight reconciles on shutdown. Default 30 s (kubelet's grace period). */
  shutdownTimeoutMs?: number;
  /** Install SIGTERM/SIGINT handlers that stop gracefully then exit 0. Default true. */
  handleSignals?: boolean;
  /** Default `force` for applies (the applier's option overrides per call). Default false. */
  forceApply?: boolean;
  metrics?: RuntimeMetrics;
  /** Informer tuning for every controller (tests shorten deadlines). */
  informer?: { watchTimeoutSeconds?: number; silenceDeadlineMs?: number };
}

/** Why the manager stopped. */
export type StopReason = 'stopped' | 'signal' | 'leadership-lost';

/**
 * Runs controllers the way a production operator should: caches warm on every replica, reconciling
 * only on the leader, /healthz + /readyz + /metrics, and a graceful stop (SIGTERM): stop taking work,
 * let in-flight reconciles finish (bounded), flush events, release the lease, close servers.
 */
export class Manager {
  readonly name: string;
  readonly identity: string;
  readonly logger: Logger;
  readonly metrics: RuntimeMetrics;
  readonly client: KubeClient;
  readonly applier: ServerSideApplier;
  readonly events: KubeEventRecorder;
  readonly #options: ManagerOptions;
  readonly #controllers: Controller[] = [];
  readonly #elector: LeaderElector | undefined;
  readonly #health: HealthServer;
  #healthPort: number | undefined;
  #stopping: Promise<void> | undefined;
  #stopReason: StopReason | undefined;
  #resolveDone: (() => void) | undefined;
  readonly #done: Promise<void>;
  readonly #signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  constructor(options: ManagerOptions) {
    this.#options = options;
    this.name = options.name;
    this.identity = options.leaderElection?.identity ?? defaultIdentity();
    this.logger = (options.logger ?? createLogger()).child({ manager: options.name });
    this.metrics = options.metrics ?? new RuntimeMetrics();
    this.client = new KubeClient(options.kubeConfig, {
      recorder: this.metrics.requestRecorder(),
      userAgent: options.name,
    });
    this.applier = new ServerSideApplier(this.client, {
      fieldManager: options.name,
      force: options.forceApply ?? false,
    });
    this.events = new KubeEventRecorder(this.client, {
      reportingController: options.name,
      reportingInstance: this.identity,
      logger: this.logger,
    });
    this.#health = new HealthServer({ registry: this.metrics.registry });
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    const le = options.leaderElection;
    if (le) {
      // Writes go out only while this replica knows it leads (checked at each write, so a replica
      // resumed after a long pause cannot write next to its successor before it notices).
      this.client.setWriteFence(() => this.#elector?.isLeader() ?? false);
      this.#elector = new LeaderElector(this.client, {
        ...le,
        identity: this.identity,
        logger: this.logger,
        onStartedLeading: () => {
          this.metrics.leader.set({ name: le.leaseName }, 1);
          for (const c of this.#controllers) void c.startWorkers();
        },
        onStoppedLeading: () => {
          this.metrics.leader.set({ name: le.leaseName }, 0);
          // Another replica may be reconciling already: stop at once rather than risk two writers.
          // (Restarting from scratch is simpler and safer than pausing workers; the pod restarts.)
          if (!this.#stopping) void this.stop('leadership-lost');
        },
      });
    }
  }

  addController(options: ControllerOptions): Controller {
    const controller = new Controller(options, {
      client: this.client,
      logger: this.logger,
      metrics: this.metrics,
      ...(this.#options.informer ? { informer: this.#options.informer } : {}),
    });
    this.#controllers.push(controller);
    return controller;
  }

  isLeader(): boolean {
    return this.#elector ? this.#elector.isLeader() : true;
  }

  /** The bound health port once started (useful with healthPort 0). */
  healthPort(): number | undefined {
    return this.#healthPort;
  }

  stopReason(): StopReason | undefined {
    return this.#stopReason;
  }

  /** Starts everything; resolves when the manager has stopped (signal, stop(), or lost leadership). */
  async start(): Promise<void> {
    this.#installHealthChecks();
    if (this.#options.healthPort !== undefined) {
      this.#healthPort = await this.#health.listen(this.#options.healthPort, this.#options.healthHost);
      this.logger.info({ port: this.#healthPort }, 'serving /healthz /readyz /metrics');
    }
    if (this.#options.handleSignals ?? true) this.#installSignalHandlers();
    for (const c of this.#controllers) await c.start();
    if (this.#elector) this.#elector.start();
    else for (const c of this.#controllers) void c.startWorkers();
    await this.#done;
  }

  /** Graceful stop; idempotent (concurrent callers share one shutdown). */
  stop(reason: StopReason = 'stopped'): Promise<void> {
    this.#stopping ??= this.#shutdown(reason);
    return this.#stopping;
  }

  async #shutdown(reason: StopReason): Promise<void> {
    this.#stopReason = reason;
    this.logger.info({ reason }, 'stopping');
    for (const [signal, handler] of this.#signalHandlers) process.off(signal, handler);
    const timeoutMs = this.#options.shutdownTimeoutMs ?? 30_000;
    const drained = await Promise.all(this.#controllers.map((c) => c.stop(timeoutMs)));
    if (drained.some((d) => !d)) this.logger.warn({ timeoutMs }, 'some reconciles did not finish in time');
    await Promise.race([this.events.flush(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    // Release the lease only after our writers are done, so a successor never overlaps with us.
    await this.#elector?.stop();
    await this.#health.close();
    await this.client.close();
    this.logger.info({ reason }, 'stopped');
    this.#resolveDone?.();
  }

  #installSignalHandlers(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as NodeJS.Signals[]) {
      const handler = () => {
        this.logger.info({ signal }, 'signal received, shutting down gracefully');
        void this.stop('signal').then(() => process.exit(0));
      };
      process.once(signal, handler);
      this.#signalHandlers.push([signal, handler]);
    }
  }

  #installHealthChecks(): void {
    this.#health.addLivenessCheck('ping', () => true);
    // An informer loop that has done nothing (no attempt, event or failure) for two silence deadlines
    // plus the backoff cap is wedged; a restart is the only cure.
    this.#health.addLivenessCheck('informers', () => {
      const now = Date.now();
      for (const c of this.#controllers) {
        for (const i of c.informers()) {
          const limit = 2 * i.silenceDeadlineMs() + 30_000;
          if (now - i.lastActivity() > limit)
            return `${i.selector.kind} informer inactive for ${now - i.lastActivity()} ms`;
        }
      }
      return true;
    });
    // Non-leaders are ready too: they are warm standbys, and readiness gates only traffic (metrics).
    this.#health.addReadinessCheck('informers-synced', () => {
      const pending = this.#controllers.filter((c) => !c.hasSynced()).map((c) => c.name);
      return pending.length === 0 ? true : `caches not synced: ${pending.join(', ')}`;
    });
    this.#health.addReadinessCheck('not-stopping', () => (this.#stopping ? 'shutting down' : true));
  }
}
