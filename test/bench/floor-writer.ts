// The floor: the least a client can do to put the same objects into the API server. A pool of
// `concurrency` workers, each taking the next Territory and server-side-applying its objects in order
// (namespace first), over node:https keep-alive connections (one per worker). No discovery (a static
// kind → path table), no caches, no reads, no status: one PATCH per object. What the operator does beyond
// this (reading the world, status, finalizer, events) is its overhead, and the ratio shows it.

import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { parse as parseYaml } from 'yaml';
import type { Owned } from '../../operator/src/builders/context.ts';

export interface KubeconfigTls {
  server: string;
  ca: string;
  cert: string;
  key: string;
}

/** Server and client certificate of the kubeconfig's current context (embedded *-data fields). */
export function readKubeconfigTls(path: string): KubeconfigTls {
  type Named<T> = { name: string } & T;
  const kc = parseYaml(readFileSync(path, 'utf8')) as {
    'current-context': string;
    contexts: Named<{ context: { cluster: string; user: string } }>[];
    clusters: Named<{ cluster: { server: string; 'certificate-authority-data': string } }>[];
    users: Named<{ user: { 'client-certificate-data': string; 'client-key-data': string } }>[];
  };
  const ctx = kc.contexts.find((c) => c.name === kc['current-context'])?.context;
  const cluster = kc.clusters.find((c) => c.name === ctx?.cluster)?.cluster;
  const user = kc.users.find((u) => u.name === ctx?.user)?.user;
  if (!cluster || !user) throw new Error(`${path}: no current context with an embedded client certificate`);
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ca: b64(cluster['certificate-authority-data']),
    cert: b64(user['client-certificate-data']),
    key: b64(user['client-key-data']),
  };
}

/** URL path prefix and plural of each kind the floor writes. */
const PATHS: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  Namespace: { prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  ResourceQuota: { prefix: '/api/v1', plural: 'resourcequotas', namespaced: true },
  LimitRange: { prefix: '/api/v1', plural: 'limitranges', namespaced: true },
  Secret: { prefix: '/api/v1', plural: 'secrets', namespaced: true },
  NetworkPolicy: { prefix: '/apis/networking.k8s.io/v1', plural: 'networkpolicies', namespaced: true },
  Role: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  RoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  // A Territory's objects in its DatabasePool (Shared tier).
  Database: { prefix: '/apis/postgresql.cnpg.io/v1', plural: 'databases', namespaced: true },
  DatabaseRole: { prefix: '/apis/postgresql.cnpg.io/v1', plural: 'databaseroles', namespaced: true },
};

export function applyPath(o: Owned, fieldManager: string): string {
  const p = PATHS[o.kind ?? ''];
  if (!p) throw new Error(`the floor writer has no path for kind ${o.kind}`);
  const name = encodeURIComponent(o.metadata?.name ?? '');
  const ns = p.namespaced ? `/namespaces/${encodeURIComponent(o.metadata?.namespace ?? '')}` : '';
  return `${p.prefix}${ns}/${p.plural}/${name}?fieldManager=${fieldManager}&force=true`;
}

export interface FloorResult {
  seconds: number;
  requests: number;
  /** Requests answered with a non-2xx status (after which the writer retried). */
  retries: number;
}

/**
 * Applies every group of objects (one group per Territory, in order inside a group) with `concurrency`
 * groups in flight. Retries 409/429/5xx (as any client must), so the figure is the time to a complete set.
 */
export async function runFloorWriter(opts: {
  tls: KubeconfigTls;
  groups: Owned[][];
  concurrency: number;
  fieldManager: string;
  onProgress?: (done: number) => void;
}): Promise<FloorResult> {
  const url = new URL(opts.tls.server);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: opts.concurrency,
    ca: opts.tls.ca,
    cert: opts.tls.cert,
    key: opts.tls.key,
  });
  let requests = 0;
  let retries = 0;
  const send = (o: Owned): Promise<number> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify(o);
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method: 'PATCH',
          path: applyPath(o, opts.fieldManager),
          headers: {
            'Content-Type': 'application/apply-patch+yaml',
            Accept: 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume(); // the answer's body is not needed, only its status
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const applyOne = async (o: Owned) => {
    for (let attempt = 0; ; attempt++) {
      requests++;
      const status = await send(o).catch(() => 0);
      if (status >= 200 && status < 300) return;
      retries++;
      if (attempt >= 20)
        throw new Error(`floor: ${o.kind} ${o.metadata?.namespace}/${o.metadata?.name} answered ${status}`);
      await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** attempt)));
    }
  };
  let next = 0;
  let done = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < opts.groups.length; i = next++) {
      for (const o of opts.groups[i] ?? []) await applyOne(o);
      done++;
      opts.onProgress?.(done);
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return { seconds: (performance.now() - started) / 1000, requests, retries };
}
