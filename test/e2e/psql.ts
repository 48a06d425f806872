// psql command lines for client Pods of a Territory: the CloudNativePG Services of its namespace, TLS
// verify-full against the Territory's CA (mounted at /ca), and the waits a client needs before its
// first connection.
import { namespaceOf, type TerritoryObject } from './support.ts';

/** `rw` reaches the primary; `ro` the replicas (CloudNativePG's Services). */
export const dbHost = (t: TerritoryObject, service: 'rw' | 'ro' = 'rw') =>
  `db-${service}.${namespaceOf(t)}.svc`;
export const purposesOf = (t: TerritoryObject) =>
  ((t.spec.controller as { purposes: Array<{ name: string }> }).purposes ?? []).map((p) => p.name);
export const roleOf = (purpose: string) => `purpose_${purpose.replace(/-/g, '_')}`;
export const dbNameOf = (t: TerritoryObject) => t.metadata.name.replace(/-/g, '_');

/** Where a client connects: a host (a CloudNativePG Service) and a database. */
export interface DatabaseTarget {
  host: string;
  dbname: string;
}

/** psql over TLS, verifying the server's certificate against the CA mounted at /ca. */
export function psqlAt(target: DatabaseTarget, sql: string, extra = ''): string {
  return (
    `psql "host=${target.host} port=5432 dbname=${target.dbname} sslmode=verify-full sslrootcert=/ca/ca.crt ` +
    `connect_timeout=10 ${extra}" -v ON_ERROR_STOP=1 -At -c "${sql}"`
  );
}

/** psql over TLS to the Territory's own cluster, verifying the server's certificate against its CA. */
export function psql(
  t: TerritoryObject,
  sql: string,
  opts: { extra?: string; service?: 'rw' | 'ro' } = {},
): string {
  return psqlAt({ host: dbHost(t, opts.service), dbname: dbNameOf(t) }, sql, opts.extra);
}

/**
 * NetworkPolicies are enforced a moment after a Pod gets its address (the enforcer learns it from
 * the API), as in any cluster: a client waits until the server answers before it starts.
 */
export function awaitHost(host: string): string {
  return `for i in $(seq 1 30); do pg_isready -q -h ${host} -p 5432 && break; sleep 1; done`;
}

export function awaitServer(t: TerritoryObject, service: 'rw' | 'ro' = 'rw'): string {
  return awaitHost(dbHost(t, service));
}

/**
 * One connection attempt per second for 20 s, stopping at the first that reaches PostgreSQL:
 * prints what the last attempt said. A refusal that lasts the whole window is the policy's.
 */
export function attemptConnectionTo(target: DatabaseTarget): string {
  const attempt = `psql "host=${target.host} dbname=${target.dbname} sslmode=require connect_timeout=3 user=nobody password=x" -c "select 1" 2>&1`;
  return (
    `for i in $(seq 1 20); do out=$(${attempt}); case "$out" in ` +
    `*"Connection refused"*|*"timeout expired"*|*"could not connect"*|*"timed out"*) sleep 1;; *) break;; esac; done; ` +
    'echo "$out"'
  );
}

export function attemptConnection(t: TerritoryObject): string {
  return attemptConnectionTo({ host: dbHost(t), dbname: dbNameOf(t) });
}
