// Bucket names and key prefixes as object stores judge them (the API server side is checked by the
// invalid manifests of test-fixtures.ts, in test/integration/api-admission.test.ts).
import { describe, expect, it } from 'vitest';
import { parseTerritory } from './territory.ts';
import { mergePatch, minimalTerritory } from './test-fixtures.ts';

const withDestination = (destination: Record<string, string>) =>
  parseTerritory(mergePatch(minimalTerritory('rennes'), { spec: { backup: { destination } } }));

describe('bucket names', () => {
  it.each([
    'abc',
    'rennes-backups',
    'rennes.backups.2026',
    'a1-b2.c3',
    '192-168-5-4',
    '1.2.3',
    'my-xn--bucket',
    'bucket-s3alias-not',
    'x'.repeat(63),
  ])('accepts %j', (bucket) => {
    const result = withDestination({ bucket });
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it.each([
    'ab',
    'x'.repeat(64),
    'Rennes',
    'rennes_backups',
    '-rennes',
    'rennes-',
    '.rennes',
    'rennes..b',
    'rennes.-b',
    'rennes-.b',
    '10.0.0.1',
    'xn--rennes',
    'sthree-rennes',
    'amzn-s3-demo-rennes',
    'rennes-s3alias',
    'rennes--ol-s3',
    'rennes.mrap',
    'rennes--x-s3',
    'rennes--table-s3',
  ])('refuses %j, naming the field', (bucket) => {
    const result = withDestination({ bucket });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join()).toMatch(/^spec\.backup\.destination\.bucket: /);
  });
});

describe('key prefixes', () => {
  it.each([
    '',
    'territories',
    'territories/',
    'territories/rennes/',
    "a!b_c.d*e'(f)/g-",
    '.hidden/x',
    '.../x',
  ])('accepts %j', (pathPrefix) => {
    const result = withDestination({ pathPrefix });
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it.each(['/territories', '//', 'a//b', 'a/./b', 'a/../b', '..', '.', './a', 'a/..', 'a/.', 'a//'])(
    'refuses %j, naming the field',
    (pathPrefix) => {
      const result = withDestination({ pathPrefix });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.errors.join()).toMatch(/^spec\.backup\.destination\.pathPrefix: /);
    },
  );
});
