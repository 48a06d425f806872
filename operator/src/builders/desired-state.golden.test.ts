// The objects built for the builder fixtures and the examples, byte for byte, against a file written from
// the code before point-in-time recovery existed: a Cluster that is not recovered must stay exactly what
// it was (no bootstrap, plugin parameter or annotation more), or every live database would be changed
// on the operator's upgrade. The file holds the database objects in full (readable diffs where recovery
// touches) and a hash of everything built. A deliberate change to a builder updates it: `vitest run -u`.
// (Sizing the database from the quota profile did, on purpose: every Cluster got its instances, volume,
// resources and memory parameters from database-sizing.ts. The shared tier added its own cases, at the
// end, and changed none of the others.)
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseTerritory } from '../api/territory.ts';
import { readExamples } from '../api/test-fixtures.ts';
import { context, databasePool, inPool, territory, withPhysicalBackups } from './fixtures.test-helpers.ts';
import { buildDesiredState } from './index.ts';

function example(manifest: unknown) {
  const parsed = parseTerritory(manifest);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.territory;
}

const SECNUMCLOUD_POOL = databasePool('pool-35', {
  hosting: { level: 'secnumcloud', regions: ['cloudgouv-eu-west-1'] },
});

const CASES = {
  secnumcloud: context(territory()),
  physical: context(withPhysicalBackups()),
  'physical, private CA and path prefix': context(
    withPhysicalBackups({
      endpoint: 'https://s3.gra.io.cloud.ovh.net',
      bucket: 'backups',
      region: 'gra',
      pathPrefix: 'territories/',
      credentialsSecret: { name: 'creds', accessKeyIdKey: 'id', secretAccessKeyKey: 'secret' },
      endpointCA: { name: 'objectstore-ca' },
    }),
  ),
  'physical, plugin not installed': context(withPhysicalBackups(), { barmanCloudPlugin: false }),
  'physical, backups not allowed': context(withPhysicalBackups(), { backupAllowed: false }),
  'physical, orphaned': context(withPhysicalBackups(), { orphan: true }),
  ...Object.fromEntries(readExamples().map((e) => [e.file, context(example(e.manifest))])),
  // The Shared tier: the fixture in a pool meeting its hosting, then released (deletionPolicy Retain).
  'in a pool': inPool(context(territory()), { pool: SECNUMCLOUD_POOL }),
  'in a pool, orphaned': inPool(context(territory(), { orphan: true }), { pool: SECNUMCLOUD_POOL }),
  'in a pool, deletionPolicy Delete, CA not read yet': inPool(
    context(territory({ spec: { deletionPolicy: 'Delete' } })),
    { pool: SECNUMCLOUD_POOL, serverCa: null },
  ),
};

describe('buildDesiredState for the fixtures and examples', () => {
  it('builds what it built before point-in-time recovery existed', async () => {
    const built = Object.fromEntries(
      Object.entries(CASES).map(([name, ctx]) => {
        const state = buildDesiredState(ctx);
        const sha256 = createHash('sha256').update(JSON.stringify(state)).digest('hex');
        return [name, { sha256, database: state.database }];
      }),
    );
    await expect(`${JSON.stringify(built, null, 2)}\n`).toMatchFileSnapshot(
      './__snapshots__/desired-state.golden.json',
    );
  });
});
