import { describe, expect, it } from 'vitest';
import { LABELS } from '../builders/context.ts';
import type { KubeObject } from '../runtime/types.ts';
import { deletionBlocked, tenantForCache, tenantsOf } from './tenants.ts';

const database = (name: string, labels: Record<string, string>): KubeObject => ({
  apiVersion: 'postgresql.cnpg.io/v1',
  kind: 'Database',
  metadata: { name, namespace: 'db-pool-35', labels },
  spec: { cluster: { name: 'pool-35' }, name: `t_${name}`, owner: `t_${name}__owner` },
});
const tenant = (territory: string, pool = 'pool-35') =>
  database(territory, { [LABELS.pool]: pool, [LABELS.territory]: territory });

describe('tenantsOf', () => {
  it("counts the pool's Database objects and names their Territories, sorted", () => {
    const databases = [tenant('vitre'), tenant('acigne'), tenant('brest', 'pool-29')];
    expect(tenantsOf(databases, 'pool-35')).toEqual({ count: 2, territories: ['acigne', 'vitre'] });
  });

  it('names a Database without a Territory label by its own name', () => {
    expect(tenantsOf([database('stray', { [LABELS.pool]: 'pool-35' })], 'pool-35')).toEqual({
      count: 1,
      territories: ['stray'],
    });
  });
});

describe('tenantForCache', () => {
  it('keeps who the Database is and its labels, not its spec', () => {
    const slim = tenantForCache(tenant('vitre'));
    expect(slim).toEqual({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Database',
      metadata: {
        name: 'vitre',
        namespace: 'db-pool-35',
        labels: { [LABELS.pool]: 'pool-35', [LABELS.territory]: 'vitre' },
      },
    });
  });
});

describe('deletionBlocked', () => {
  it('names how many Territories hold it, up to five of them, and what to do', () => {
    const territories = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const outcome = deletionBlocked('pool-35', 'db-pool-35', { count: 7, territories });
    expect(outcome).toMatchObject({ ready: false, reason: 'DeletionBlocked' });
    expect(outcome.progressing).toBeFalsy();
    expect(outcome.message).toContain('the databases of 7 Territories (a, b, c, d, e and 2 more)');
    expect(outcome.message).toContain('Move them to another pool or delete them first');
    expect(deletionBlocked('pool-35', 'db-pool-35', { count: 1, territories: ['vitre'] }).message).toContain(
      'of 1 Territory (vitre)',
    );
  });
});
