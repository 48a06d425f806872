import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../runtime/types.ts';
import { apiServerAddresses, withoutApiServerEgress } from './api-server.ts';

const slice = (endpoints: unknown[]): KubeObject =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes' },
    endpoints,
  }) as KubeObject;

describe('API server discovery', () => {
  it('takes the ready addresses of every slice, sorted and unique', () => {
    const slices = [
      slice([
        { addresses: ['10.0.0.3'], conditions: { ready: true } },
        { addresses: ['10.0.0.9'], conditions: { ready: false } },
      ]),
      slice([{ addresses: ['10.0.0.2', '10.0.0.3'] }]),
    ];
    expect(apiServerAddresses(slices)).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(apiServerAddresses([])).toEqual([]);
  });

  it('says in a not-ready database condition that no egress to the API server is allowed', () => {
    const waiting = {
      type: 'DatabaseReady' as const,
      status: 'False' as const,
      reason: 'DatabaseProvisioning',
      message: 'CloudNativePG: Setting up primary',
    };
    expect(withoutApiServerEgress(waiting, []).message).toMatch(
      /no NetworkPolicy lets the database Pods reach the API server/,
    );
    expect(withoutApiServerEgress(waiting, ['10.0.0.1/32'])).toBe(waiting);
    const healthy = { ...waiting, status: 'True' as const };
    expect(withoutApiServerEgress(healthy, [])).toBe(healthy);
  });
});
