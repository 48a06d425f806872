import { describe, expect, it } from 'vitest';
import { databaseAccessStatements } from '../backup/database-access.ts';
import { buildDatabaseAccessJob, databaseAccessJobName } from './database-access.ts';
import { context, inPool } from './fixtures.test-helpers.ts';

type Container = {
  args: string[];
  env: { name: string; value?: string }[];
  volumeMounts: { name: string; mountPath: string }[];
};
type PodSpec = { containers: Container[]; volumes: { name: string; secret?: { secretName: string } }[] };

describe('the database-access Job of a database in a pool', () => {
  const uid = '4f1c2a7e-93b1-4d2e-8c6a-0123456789ab';
  const job = buildDatabaseAccessJob(inPool(), uid) as {
    metadata: { name: string };
    spec: { template: { spec: PodSpec } };
  };
  const pod = job.spec.template.spec;
  const [container] = pod.containers;

  it('is named after its Database object, so that one made again is secured again', () => {
    expect(job.metadata.name).toBe('database-access-4f1c2a7e93b1');
    expect(databaseAccessJobName('0000aaaa-93b1-4d2e-8c6a-0123456789ab')).not.toBe(job.metadata.name);
  });

  it("connects to the pool as the database's owner, verifying the pool's certificate", () => {
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    const ctx = inPool(context());
    const pool = ctx.databasePool;
    expect(container?.args).toEqual(['database-access']);
    expect(env).toMatchObject({
      PGHOST: `${pool?.name}-rw.${pool?.namespace}.svc`,
      PGUSER: 't_rennes_metropole__owner',
      PGDATABASE: 't_rennes_metropole',
      PGSSLMODE: 'verify-full',
    });
  });

  it('mounts the owner password and the CA, and no S3 credentials or keys', () => {
    const secrets = pod.volumes.flatMap((v) => (v.secret ? [v.secret.secretName] : []));
    expect(secrets.sort()).toEqual(['db-ca', 'db-owner']);
    expect(
      (container?.env ?? []).map((e) => e.name).filter((n) => n.startsWith('S3_') || n.includes('KEY')),
    ).toEqual([]);
  });
});

describe('databaseAccessStatements', () => {
  it("takes CONNECT and the public schema from PUBLIC, and gives them back to the Territory's group", () => {
    expect(databaseAccessStatements('t_rennes')).toEqual([
      'REVOKE CONNECT, TEMPORARY ON DATABASE "t_rennes" FROM PUBLIC',
      'GRANT CONNECT, TEMPORARY ON DATABASE "t_rennes" TO "t_rennes"',
      'REVOKE ALL ON SCHEMA public FROM PUBLIC',
      'GRANT USAGE ON SCHEMA public TO "t_rennes"',
    ]);
  });

  it('quotes a name that would break out of its identifier', () => {
    expect(databaseAccessStatements('a"; DROP DATABASE x; --')[0]).toBe(
      'REVOKE CONNECT, TEMPORARY ON DATABASE "a""; DROP DATABASE x; --" FROM PUBLIC',
    );
  });
});
