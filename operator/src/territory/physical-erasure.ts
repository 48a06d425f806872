// Erasing a deleted Territory's physical backups from its bucket (deletionPolicy Delete), the pure part:
// which prefix, what to do with a listing, what the Events say. The S3 calls are in
// physical-erasure-store.ts, the order of the deletion in finalizer.ts.
//
// Why: CloudNativePG's physical backups (WAL archive, base backups) are encrypted by the storage provider
// only (barman-cloud has no client-side encryption). Destroying the keyring makes the logical backups
// unreadable, not these: left in the bucket, the provider could still read the whole database. So they are
// erased, and the deletion waits until they are. It is attempted even when physical backups are off now:
// objects written while they were on may remain.

import { checkEndpoint } from '../api/endpoint.ts';
import type { Territory } from '../api/territory.ts';
import { namespaceOf } from '../builders/context.ts';
import { physicalBackupPrefix } from '../builders/object-store.ts';

/**
 * The escape hatch, for a bucket that is gone for good (closed account, deleted bucket): set on the
 * Territory, its value records who accepted leaving whatever remains there and why, e.g.
 * `jeanne.martin@region.example.fr: bucket deleted by the provider, ticket 4521`. The deletion then goes on
 * without erasing, and a Warning Event repeats the value. The API server's audit log records who set it.
 */
export const LEAVE_PHYSICAL_BACKUPS_ANNOTATION = 'sovereign.dev/leave-physical-backups';

/** Where the physical backups are, and the Secrets (in the Territory's namespace) that open the bucket. */
export interface ErasureTarget {
  endpoint: string;
  /** The endpoint's host, for messages (the provider who holds the bytes). */
  host: string;
  region: string;
  bucket: string;
  /** `<pathPrefix>/<territory>/physical/`: every key erased starts with it. */
  prefix: string;
  namespace: string;
  credentialsSecret: { name: string; accessKeyIdKey: string; secretAccessKeyKey: string };
  endpointCA?: { name: string; key: string };
}

export type ErasurePlan =
  | { action: 'erase'; target: ErasureTarget }
  | { action: 'leave'; target: ErasureTarget; acceptedBy: string }
  | { action: 'fail'; target: ErasureTarget; reason: string };

/** The annotation's value, on one line and bounded (it is repeated in an Event). */
function acceptance(t: Territory): string | undefined {
  const value = t.metadata.annotations?.[LEAVE_PHYSICAL_BACKUPS_ANNOTATION];
  const line = value?.replace(/\s+/g, ' ').trim();
  if (!line) return undefined;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

export function planErasure(t: Territory): ErasurePlan {
  const d = t.spec.backup.destination;
  const checked = checkEndpoint(d.endpoint);
  const target: ErasureTarget = {
    endpoint: d.endpoint,
    host: checked.ok ? checked.host : 'the backup endpoint',
    // What barman-cloud signs for (builders/object-store.ts, buildBackupRegionSecret).
    region: d.region ?? 'us-east-1',
    bucket: d.bucket,
    prefix: physicalBackupPrefix(t),
    namespace: namespaceOf(t),
    credentialsSecret: d.credentialsSecret,
    ...(d.endpointCA ? { endpointCA: d.endpointCA } : {}),
  };
  const acceptedBy = acceptance(t);
  if (acceptedBy !== undefined) return { action: 'leave', target, acceptedBy };
  // The three parsers that read an endpoint disagree outside one form (api/endpoint.ts): not used then.
  if (!checked.ok) return { action: 'fail', target, reason: `the backup endpoint ${checked.problem}` };
  return { action: 'erase', target };
}

/** One listing of the prefix: the objects and the unfinished multipart uploads (their parts are bytes too). */
export interface Listing {
  objects: string[];
  uploads: { key: string; uploadId: string }[];
}

export type ErasureStep =
  | { action: 'done' }
  | { action: 'erase'; objects: string[]; uploads: { key: string; uploadId: string }[] }
  | { action: 'fail'; reason: string };

/**
 * Rounds of "list, erase" before giving up: nothing should write under the prefix once the database is
 * gone, so a second listing is normally empty; objects that keep coming mean something else writes there.
 */
export const MAX_ERASURE_ROUNDS = 5;

/**
 * What to do with the listing of round `round` (0-based). An empty listing is done. A key outside the
 * prefix means the store ignored the prefix: nothing is deleted on such an answer.
 */
export function nextErasureStep(prefix: string, listing: Listing, round: number): ErasureStep {
  const keys = [...listing.objects, ...listing.uploads.map((u) => u.key)];
  if (keys.some((key) => !key.startsWith(prefix))) {
    return {
      action: 'fail',
      reason: `the store listed keys outside ${prefix} when asked for that prefix only; nothing is deleted on such an answer`,
    };
  }
  if (keys.length === 0) return { action: 'done' };
  if (round >= MAX_ERASURE_ROUNDS) {
    return {
      action: 'fail',
      reason: `objects keep appearing under ${prefix} after ${MAX_ERASURE_ROUNDS} rounds of erasure: something still writes there`,
    };
  }
  return { action: 'erase', objects: listing.objects, uploads: listing.uploads };
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  CERT_HAS_EXPIRED: "TLS: the endpoint's certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS: the endpoint's certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "TLS: the endpoint's certificate chains to an untrusted CA",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS: the endpoint's certificate chains to an untrusted CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "TLS: the endpoint's certificate chains to an untrusted CA",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS: the endpoint's certificate is for another name",
};

type StoreError = {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
  errors?: unknown[];
};

function networkCode(e: StoreError | undefined, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 3) return undefined;
  if (typeof e.code === 'string' && e.code !== '') return e.code;
  const nested = [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  for (const inner of nested) {
    const code = networkCode(inner as StoreError, depth + 1);
    if (code) return code;
  }
  return undefined;
}

/**
 * Why the store could not be used, in words that carry no credential: the S3 error code and HTTP status
 * (AccessDenied, InvalidAccessKeyId, NoSuchBucket…) or the network error code, never the store's own
 * message or the request (a store may echo the access key id).
 */
export function describeStoreError(error: unknown): string {
  const e = (typeof error === 'object' && error !== null ? error : {}) as StoreError;
  const name = typeof e.name === 'string' && /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(e.name) ? e.name : undefined;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return `the store answered ${name ?? 'an error'} (HTTP ${status})`;
  const code = networkCode(e);
  if (code !== undefined && /^[A-Z][A-Z0-9_]{0,63}$/.test(code)) {
    return NETWORK_ERRORS[code] ? `${NETWORK_ERRORS[code]} (${code})` : `network error ${code}`;
  }
  if (name === 'TimeoutError') return 'timed out';
  return name ? `the request failed (${name})` : 'the request failed';
}

const where = (target: ErasureTarget) => `s3://${target.bucket}/${target.prefix} at ${target.host}`;

export function erasedMessage(target: ErasureTarget, erased: number, abortedUploads: number): string {
  const uploads = abortedUploads > 0 ? ` and ${abortedUploads} unfinished upload(s)` : '';
  return `deletionPolicy Delete: erased ${erased} object(s)${uploads} of physical backups under ${where(target)}`;
}

export function failedMessage(target: ErasureTarget, reason: string): string {
  return (
    `deletionPolicy Delete: cannot erase the physical backups under ${where(target)}: ${reason}. The deletion ` +
    'waits here (keys, Secrets and namespace are kept) and retries. If the bucket is gone for good, annotate the ' +
    `Territory ${LEAVE_PHYSICAL_BACKUPS_ANNOTATION}="<who accepts leaving them, and why>"`
  );
}

export function leftMessage(target: ErasureTarget, acceptedBy: string): string {
  return (
    `deletionPolicy Delete: physical backups under ${where(target)} NOT erased, as accepted in ` +
    `${LEAVE_PHYSICAL_BACKUPS_ANNOTATION}: "${acceptedBy}". Whatever remains there stays readable by the storage provider`
  );
}

export function notCheckedMessage(target: ErasureTarget): string {
  return (
    `deletionPolicy Delete: namespace ${target.namespace} is gone or going, and the bucket's credentials with it: ` +
    `the physical backups under ${where(target)} could not be checked. If the Territory ever kept physical ` +
    'backups, erase that prefix with the authority’s credentials: the storage provider can read them'
  );
}
