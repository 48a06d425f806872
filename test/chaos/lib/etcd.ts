// etcd compaction through its gRPC gateway (plain HTTP JSON on the client URL): after compacting at
// the current revision, any watch resumed from an older resourceVersion is answered 410 Gone, which
// is what a long-paused informer meets in a real cluster (the API server compacts every 5 minutes).

async function post(endpoint: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${endpoint.replace(/\/+$/, '')}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`etcd ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** The store's current revision (the header of any range request). */
export async function currentRevision(endpoint: string): Promise<number> {
  // key "\0" (base64 AA==) with count_only: cheap, and every answer carries the header revision.
  const answer = await post(endpoint, '/v3/kv/range', { key: 'AA==', count_only: true });
  const revision = Number((answer.header as { revision?: string } | undefined)?.revision);
  if (!Number.isFinite(revision) || revision <= 0) throw new Error('etcd answered no revision');
  return revision;
}

/** Compacts the whole keyspace up to the current revision; returns that revision. */
export async function compactNow(endpoint: string): Promise<number> {
  const revision = await currentRevision(endpoint);
  await post(endpoint, '/v3/kv/compaction', { revision: String(revision), physical: true });
  return revision;
}
