// A Territory's stack on a real node, read as a user would read the README: the examples, applied
// with kubectl, reach Ready=True with PostgreSQL running under CloudNativePG; applications in the
// authority's namespace use the database over TLS (verify-full, the cluster's CA) as each purpose's
// role; plain text is refused; another authority's Pods cannot reach it (NetworkPolicy enforced by a
// real enforcer) and another authority's admins cannot read its Secrets.
import { describe, expect, inject, it } from 'vitest';
import { applyManifests, kubectl } from '../node/kubectl.ts';
import { runPod, secretEnv } from './pods.ts';
import { recordFigure } from './report.ts';
import {
  clusterKubectl,
  exampleTerritory,
  kubectlJson,
  namespaceOf,
  provideAuthoritySecrets,
  type TerritoryObject,
  waitForTerritoryCondition,
} from './support.ts';

/** Two authorities: a commune on the standard level, an EPCI on SecNumCloud. */
const EXAMPLES = ['commune-acigne.yaml', 'epci-rennes-metropole.yaml'];
const tenants = new Map<string, TerritoryObject>();

const dbHost = (t: TerritoryObject) => `db-rw.${namespaceOf(t)}.svc`;
const purposesOf = (t: TerritoryObject) =>
  ((t.spec.controller as { purposes: Array<{ name: string }> }).purposes ?? []).map((p) => p.name);
const roleOf = (purpose: string) => `purpose_${purpose.replace(/-/g, '_')}`;
const dbNameOf = (t: TerritoryObject) => t.metadata.name.replace(/-/g, '_');

/** psql over TLS, verifying the server's certificate against the Territory's CA. */
function psql(t: TerritoryObject, sql: string, extra = ''): string {
  return (
    `psql "host=${dbHost(t)} port=5432 dbname=${dbNameOf(t)} sslmode=verify-full sslrootcert=/ca/ca.crt ` +
    `connect_timeout=10 ${extra}" -v ON_ERROR_STOP=1 -At -c "${sql}"`
  );
}

/**
 * NetworkPolicies are enforced a moment after a Pod gets its address (the enforcer learns it from
 * the API), as in any cluster: a client waits until the server answers before it starts.
 */
function awaitServer(t: TerritoryObject): string {
  return `for i in $(seq 1 30); do pg_isready -q -h ${dbHost(t)} -p 5432 && break; sleep 1; done`;
}

/**
 * One connection attempt per second for 20 s, stopping at the first that reaches PostgreSQL:
 * prints what the last attempt said. A refusal that lasts the whole window is the policy's.
 */
function attemptConnection(t: TerritoryObject): string {
  const attempt = `psql "host=${dbHost(t)} dbname=${dbNameOf(t)} sslmode=require connect_timeout=3 user=nobody password=x" -c "select 1" 2>&1`;
  return (
    `for i in $(seq 1 20); do out=$(${attempt}); case "$out" in ` +
    `*"Connection refused"*|*"timeout expired"*|*"could not connect"*|*"timed out"*) sleep 1;; *) break;; esac; done; ` +
    'echo "$out"'
  );
}

function tenant(file: string): TerritoryObject {
  const t = tenants.get(file);
  if (!t) throw new Error(`${file} did not become Ready in the first test: see its failure`);
  return t;
}

describe.sequential('a Territory on a real node', () => {
  it.each(EXAMPLES)('%s reaches Ready=True with PostgreSQL running under CloudNativePG', async (file) => {
    const territory = exampleTerritory(file, inject('nodeRegion'));
    const started = Date.now();
    await applyManifests(clusterKubectl(), [territory as unknown as Record<string, unknown>]);
    await provideAuthoritySecrets(territory, 'e2e-access-key', 'e2e-secret-key');
    const ready = await waitForTerritoryCondition(territory.metadata.name, 'Ready', 'True', 600_000);
    recordFigure(inject('resultsDir'), {
      section: 'time from kubectl apply to Ready',
      subject: `${file} (${territory.spec.database?.instances ?? 2} instances)`,
      value: (Date.now() - started) / 1000,
      unit: 's',
    });
    expect(ready.status?.conditions?.find((c) => c.type === 'DatabaseReady')?.status).toBe('True');
    const pods = await kubectlJson<{ items: Array<{ status: { phase: string } }> }>([
      '-n',
      namespaceOf(territory),
      'get',
      'pods',
      '-l',
      'cnpg.io/cluster=db,cnpg.io/podRole=instance',
    ]);
    expect(pods.items.length).toBe(territory.spec.database?.instances ?? 2);
    expect(pods.items.every((p) => p.status.phase === 'Running')).toBe(true);
    tenants.set(file, territory);
  });

  it('serves each purpose role over TLS (verify-full): it writes and reads its own rows', async () => {
    const t = tenant('commune-acigne.yaml');
    const ns = namespaceOf(t);
    const purposes = purposesOf(t);
    // The authority's application, as the database owner, gives each purpose a schema of its own.
    const setup = await runPod({
      namespace: ns,
      name: 'e2e-owner-setup',
      image: inject('postgresImage'),
      env: [secretEnv('PGUSER', 'db-owner', 'username'), secretEnv('PGPASSWORD', 'db-owner', 'password')],
      volumes: [{ name: 'ca', secret: 'db-ca', mountPath: '/ca' }],
      script: [
        awaitServer(t),
        ...purposes.map((p) => {
          const schema = p.replace(/-/g, '_');
          return psql(
            t,
            `CREATE SCHEMA IF NOT EXISTS ${schema}; GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${roleOf(p)}`,
          );
        }),
      ].join(' && '),
    });
    expect(setup, setup.logs).toMatchObject({ phase: 'Succeeded' });

    for (const purpose of purposes) {
      const schema = purpose.replace(/-/g, '_');
      const run = await runPod({
        namespace: ns,
        name: `e2e-purpose-${purpose}`,
        image: inject('postgresImage'),
        env: [
          secretEnv('PGUSER', `db-purpose-${purpose}`, 'username'),
          secretEnv('PGPASSWORD', `db-purpose-${purpose}`, 'password'),
        ],
        volumes: [{ name: 'ca', secret: 'db-ca', mountPath: '/ca' }],
        script: [
          awaitServer(t),
          psql(t, `CREATE TABLE ${schema}.records (id int primary key, note text)`),
          psql(t, `INSERT INTO ${schema}.records VALUES (1, 'written by ${purpose}'), (2, 'second row')`),
          psql(t, `SELECT current_user || ' ' || count(*) FROM ${schema}.records`),
          psql(t, 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()'),
        ].join(' && '),
      });
      expect(run, run.logs).toMatchObject({ phase: 'Succeeded' });
      expect(run.logs).toContain(`${roleOf(purpose)} 2`);
      expect(run.logs).toContain('t|TLSv1.3');
    }
  });

  it('refuses a plain-text connection, even with the right password', async () => {
    const t = tenant('commune-acigne.yaml');
    const run = await runPod({
      namespace: namespaceOf(t),
      name: 'e2e-plaintext',
      image: inject('postgresImage'),
      env: [secretEnv('PGUSER', 'db-owner', 'username'), secretEnv('PGPASSWORD', 'db-owner', 'password')],
      script: `${awaitServer(t)}; psql "host=${dbHost(t)} dbname=${dbNameOf(t)} sslmode=disable connect_timeout=10" -c "select 1"; echo "exit=$?"`,
    });
    expect(run.logs).toMatch(/pg_hba.conf rejects connection .* no encryption/);
    expect(run.logs).toContain('exit=2');
  });

  it("refuses another Territory's Pods at the network (NetworkPolicy enforced), while its own Pods get in", async () => {
    const target = tenant('commune-acigne.yaml');
    const other = tenant('epci-rennes-metropole.yaml');
    // The same client, run from the other authority's namespace: the TCP connection itself must fail
    // (the enforcer rejects it: "Connection refused"), for the whole window.
    const script = attemptConnection(target);
    const refused = await runPod({
      namespace: namespaceOf(other),
      name: 'e2e-cross-tenant',
      image: inject('postgresImage'),
      script,
    });
    expect(refused.logs).toMatch(/Connection refused|timeout expired|timed out/);
    expect(refused.logs).not.toMatch(/password authentication failed|pg_hba/);
    // From the target's own namespace the same attempt reaches PostgreSQL (which then refuses the user).
    const allowed = await runPod({
      namespace: namespaceOf(target),
      name: 'e2e-same-tenant',
      image: inject('postgresImage'),
      script,
    });
    expect(allowed.logs).toMatch(/password authentication failed for user "nobody"/);
  });

  it("keeps an authority's Secrets away from another authority's admins (RBAC, real requests)", async () => {
    const target = tenant('commune-acigne.yaml');
    const other = tenant('epci-rennes-metropole.yaml');
    const otherAdmins = ((other.spec.access as { adminGroups?: string[] } | undefined)?.adminGroups ?? [])[0];
    expect(otherAdmins, 'the EPCI example names an admin group').toBeDefined();
    const as = ['--as', 'e2e-intruder', '--as-group', otherAdmins as string];
    await expect(
      kubectl(clusterKubectl(), [...as, '-n', namespaceOf(target), 'get', 'secret', 'db-owner']),
    ).rejects.toThrow(/forbidden/);
    await expect(
      kubectl(clusterKubectl(), [...as, '-n', namespaceOf(other), 'get', 'pods']),
    ).resolves.toBeDefined();
  });
});
