import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestRecorder } from './types.ts';
import type { QueueMetricsHooks } from './workqueue.ts';

// Metric names follow controller-runtime / client-go, so existing dashboards and alerts for Go
// operators (reconcile errors, queue depth, API request rates) work unchanged.

export class RuntimeMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly queueDepth: Gauge<'name'>;
  readonly queueAdds: Counter<'name'>;
  readonly queueLatency: Histogram<'name'>;
  readonly queueWorkDuration: Histogram<'name'>;
  readonly queueRetries: Counter<'name'>;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly leader: Gauge<'name'>;
  readonly #gauges = new Map<string, Gauge<string>>();
  /** Same counts as `apiRequests`, readable without parsing the exposition format (benchmarks). */
  readonly #requestCounts = new Map<string, number>();

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    // process_resident_memory_bytes, nodejs_heap_size_used_bytes, event-loop lag...: what an operator's
    // memory limit and CPU request are sized from.
    collectDefaultMetrics({ register: registry });
    const registers = [registry];
    const seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Reconciliations per controller and result (success, error, requeue, requeue_after).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Reconciliations that failed, per controller.',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Time per reconciliation.',
      labelNames: ['controller'],
      buckets: seconds,
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Keys waiting in the work queue.',
      labelNames: ['name'],
      registers,
    });
    this.queueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Keys added to the work queue.',
      labelNames: ['name'],
      registers,
    });
    this.queueLatency = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'Time a key waits in the queue before a worker takes it.',
      labelNames: ['name'],
      buckets: seconds,
      registers,
    });
    this.queueWorkDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'Time a worker spends on a key.',
      labelNames: ['name'],
      buckets: seconds,
      registers,
    });
    this.queueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Keys re-queued with backoff after a failure.',
      labelNames: ['name'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Kubernetes API requests by verb (get, list, watch, create, update, patch, delete), resource and HTTP code.',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    this.leader = new Gauge({
      name: 'leader_election_master_status',
      help: '1 while this replica holds the lease.',
      labelNames: ['name'],
      registers,
    });
  }

  /** Hooks binding a WorkQueue to the workqueue_* metrics. */
  queueHooks(name: string): QueueMetricsHooks {
    return {
      depth: (n) => this.queueDepth.set({ name }, n),
      added: () => this.queueAdds.inc({ name }),
      queueLatency: (ms) => this.queueLatency.observe({ name }, ms / 1000),
      workDuration: (ms) => this.queueWorkDuration.observe({ name }, ms / 1000),
      retried: () => this.queueRetries.inc({ name }),
    };
  }

  /** A RequestRecorder for KubeClient feeding rest_client_requests_total. */
  requestRecorder(): RequestRecorder {
    return {
      record: (verb, resource, code) => {
        this.apiRequests.inc({ verb, resource, code: String(code) });
        const key = `${verb}\u0000${resource}`;
        this.#requestCounts.set(key, (this.#requestCounts.get(key) ?? 0) + 1);
      },
    };
  }

  /** API requests so far, by verb (optionally only for some resources). */
  requestsByVerb(filter?: (resource: string) => boolean): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, n] of this.#requestCounts) {
      const [verb = '', resource = ''] = key.split('\u0000');
      if (filter && !filter(resource)) continue;
      out[verb] = (out[verb] ?? 0) + n;
    }
    return out;
  }

  /** Mutating API requests so far (create, update, patch, delete), optionally for some resources. */
  writes(filter?: (resource: string) => boolean): number {
    const byVerb = this.requestsByVerb(filter);
    return ['create', 'update', 'patch', 'delete'].reduce((sum, v) => sum + (byVerb[v] ?? 0), 0);
  }

  /** A gauge the application owns (e.g. territories by condition); created once, then reused. */
  gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
    let g = this.#gauges.get(name);
    if (!g) {
      g = new Gauge({ name, help, labelNames, registers: [this.registry] });
      this.#gauges.set(name, g);
    }
    return g;
  }
}
