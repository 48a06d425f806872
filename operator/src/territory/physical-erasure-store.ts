// Erasing a deleted Territory's physical backups, the adapter: the bucket's credentials (and CA) read from
// the Territory's namespace, then "list the prefix, delete what it holds" until a listing is empty, with the
// backup commands' S3 code (backup/s3-store.ts). What to do with each listing is decided by
// physical-erasure.ts. A failure is an ErasureError whose message names the reason and no credential.
import type { S3Client } from '@aws-sdk/client-s3';
import {
  abortMultipartUpload,
  createS3Client,
  deleteObject,
  listMultipartUploads,
  listObjects,
} from '../backup/s3-store.ts';
import type { KubeObject } from '../runtime/types.ts';
import { describeStoreError, type ErasureTarget, nextErasureStep } from './physical-erasure.ts';
import type { DirectKube } from './ports.ts';

export class ErasureError extends Error {
  override name = 'ErasureError';
  /** The bucket's credentials (or CA) Secret does not exist. */
  readonly secretMissing: boolean;
  constructor(message: string, options: { secretMissing?: boolean } = {}) {
    super(message);
    this.secretMissing = options.secretMissing ?? false;
  }
}

export interface ErasureResult {
  erased: number;
  abortedUploads: number;
}

/** Requests in flight at once: a WAL archive holds thousands of small objects. */
const CONCURRENCY = 8;
/** A store that does not answer must not hold a reconcile worker for long: the controller retries. */
const TIMEOUTS = { connectionTimeoutMs: 10_000, requestTimeoutMs: 60_000 };

function secretValue(secret: KubeObject, key: string): string | undefined {
  const b64 = (secret.data as Record<string, string> | undefined)?.[key];
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

async function readSecret(kube: Pick<DirectKube, 'get'>, namespace: string, name: string, what: string) {
  let secret: KubeObject | undefined;
  try {
    secret = await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name });
  } catch (error) {
    // The API server's messages name the object and the verb, never a Secret's content.
    throw new ErasureError(`cannot read Secret ${namespace}/${name} (${what}): ${(error as Error).message}`);
  }
  if (!secret) {
    throw new ErasureError(`Secret ${namespace}/${name} (${what}) is missing`, { secretMissing: true });
  }
  return secret;
}

async function s3ClientFor(kube: Pick<DirectKube, 'get'>, target: ErasureTarget): Promise<S3Client> {
  const ref = target.credentialsSecret;
  const creds = await readSecret(kube, target.namespace, ref.name, "the bucket's credentials");
  const accessKeyId = secretValue(creds, ref.accessKeyIdKey);
  const secretAccessKey = secretValue(creds, ref.secretAccessKeyKey);
  const missing = [
    ...(accessKeyId ? [] : [ref.accessKeyIdKey]),
    ...(secretAccessKey ? [] : [ref.secretAccessKeyKey]),
  ];
  if (!accessKeyId || !secretAccessKey) {
    throw new ErasureError(`Secret ${target.namespace}/${ref.name} lacks key(s) ${missing.join(', ')}`);
  }
  let ca: string | undefined;
  if (target.endpointCA) {
    const { name, key } = target.endpointCA;
    ca = secretValue(await readSecret(kube, target.namespace, name, "the endpoint's CA"), key);
    if (!ca?.includes('BEGIN CERTIFICATE')) {
      throw new ErasureError(`Secret ${target.namespace}/${name} has no PEM CA bundle under key ${key}`);
    }
  }
  return createS3Client(
    {
      endpoint: target.endpoint,
      region: target.region,
      bucket: target.bucket,
      credentials: { accessKeyId, secretAccessKey },
      ...(ca ? { ca } : {}),
    },
    TIMEOUTS,
  );
}

async function inParallel<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

/** Erases every object (and unfinished upload) under `target.prefix`; resolves once a listing is empty. */
export async function erasePhysicalBackups(
  kube: Pick<DirectKube, 'get'>,
  target: ErasureTarget,
): Promise<ErasureResult> {
  const s3 = await s3ClientFor(kube, target);
  const result: ErasureResult = { erased: 0, abortedUploads: 0 };
  try {
    for (let round = 0; ; round++) {
      const [objects, uploads] = await Promise.all([
        listObjects(s3, target.bucket, target.prefix),
        listMultipartUploads(s3, target.bucket, target.prefix).catch((error: unknown) => {
          // A store without multipart listing (501) holds no unfinished uploads we could abort.
          if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501)
            return [];
          throw error;
        }),
      ]);
      const step = nextErasureStep(
        target.prefix,
        {
          objects: objects.map((o) => o.key),
          uploads: uploads.map(({ key, uploadId }) => ({ key, uploadId })),
        },
        round,
      );
      if (step.action === 'done') return result;
      if (step.action === 'fail') throw new ErasureError(step.reason);
      await inParallel(step.uploads, async (u) => {
        await abortMultipartUpload(s3, target.bucket, u.key, u.uploadId);
        result.abortedUploads++;
      });
      await inParallel(step.objects, async (key) => {
        await deleteObject(s3, target.bucket, key);
        result.erased++;
      });
    }
  } catch (error) {
    if (error instanceof ErasureError) throw error;
    const done = result.erased > 0 ? ` (${result.erased} object(s) erased before)` : '';
    throw new ErasureError(`${describeStoreError(error)}${done}`);
  } finally {
    s3.destroy();
  }
}
