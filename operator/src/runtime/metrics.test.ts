import { describe, expect, it } from 'vitest';
import { RuntimeMetrics } from './metrics.ts';

describe('RuntimeMetrics', () => {
  it('counts API requests by verb and resource, and exposes them in the Prometheus format', async () => {
    const m = new RuntimeMetrics();
    const r = m.requestRecorder();
    r.record('get', 'configmaps', 200);
    r.record('patch', 'configmaps', 200);
    r.record('patch', 'leases', 409);
    r.record('watch', 'configmaps', 200);
    expect(m.requestsByVerb()).toEqual({ get: 1, patch: 2, watch: 1 });
    expect(m.writes()).toBe(2);
    expect(m.writes((res) => res !== 'leases')).toBe(1);
    const text = await m.registry.metrics();
    expect(text).toContain('rest_client_requests_total{verb="patch",resource="leases",code="409"} 1');
  });

  it('binds queue hooks and offers reusable application gauges', async () => {
    const m = new RuntimeMetrics();
    const hooks = m.queueHooks('territory');
    hooks.added?.();
    hooks.depth?.(3);
    hooks.retried?.();
    const g = m.gauge('territories_by_condition', 'Territories per condition status', ['type', 'status']);
    expect(m.gauge('territories_by_condition', 'again')).toBe(g);
    g.set({ type: 'Ready', status: 'True' }, 7);
    const text = await m.registry.metrics();
    expect(text).toContain('workqueue_depth{name="territory"} 3');
    expect(text).toContain('workqueue_adds_total{name="territory"} 1');
    expect(text).toContain('workqueue_retries_total{name="territory"} 1');
    expect(text).toContain('territories_by_condition{type="Ready",status="True"} 7');
  });
});
