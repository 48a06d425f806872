// Adapter: the S3-compatible object store that holds a territory's encrypted backups.
// Only what the backup commands need, on top of @aws-sdk/client-s3 and lib-storage.
import { Agent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

export interface S3Location {
  endpoint: string;
  region: string;
  bucket: string;
  /**
   * Static credentials, always given explicitly: the SDK's default chain (environment variables,
   * shared files, the instance metadata endpoint of the node) is never consulted.
   */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /**
   * PEM bundle the endpoint's certificate must chain to (a private CA), trusted instead of the
   * public CAs, as CloudNativePG's endpointCA is for its own backups.
   */
  ca?: string;
}

export interface S3ClientOptions {
  /**
   * Bounds on one request, for a caller that must not wait forever on a store that does not answer (the
   * operator erasing physical backups holds a reconcile worker meanwhile). Default: none (the SDK's).
   */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export function createS3Client(loc: S3Location, opts: S3ClientOptions = {}): S3Client {
  const timeouts = {
    ...(opts.connectionTimeoutMs !== undefined ? { connectionTimeout: opts.connectionTimeoutMs } : {}),
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeout: opts.requestTimeoutMs } : {}),
  };
  const httpsAgent = loc.ca ? { httpsAgent: new Agent({ ca: loc.ca, keepAlive: true }) } : {};
  const handler = { ...httpsAgent, ...timeouts };
  return new S3Client({
    endpoint: loc.endpoint,
    region: loc.region,
    // Outscale OOS and most S3-compatible stores need path-style addressing.
    forcePathStyle: true,
    // Recent SDKs add CRC checksums to every request by default, which several S3-compatible
    // stores reject; integrity is ours to check anyway (AEAD chunks + sha256 in metadata).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: loc.credentials,
    ...(Object.keys(handler).length > 0 ? { requestHandler: handler } : {}),
  });
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export async function listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  opts: { delimiter?: string } = {},
): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ContinuationToken: token,
        ...(opts.delimiter ? { Delimiter: opts.delimiter } : {}),
      }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export interface ObjectHead {
  size: number;
  etag: string;
  lastModified: Date;
  metadata: Record<string, string>;
}

export async function headObject(s3: S3Client, bucket: string, key: string): Promise<ObjectHead | undefined> {
  try {
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return {
      size: h.ContentLength ?? 0,
      etag: h.ETag ?? '',
      lastModified: h.LastModified ?? new Date(0),
      metadata: h.Metadata ?? {},
    };
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (e as Error).name === 'NotFound' || (e as Error).name === 'NoSuchKey')
      return undefined;
    throw e;
  }
}

/** An ETag without its weak marker and quotes, for comparing what HEAD and GET answered. */
function bareEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/**
 * The condition every read of a backup is made under: the ETag its HEAD answered. The object is
 * checked (sha256 in its metadata, authenticated chunks) and then used by separate requests;
 * If-Match makes each of them fail (412) rather than return a version that replaced the checked one.
 *
 * A store that returns no ETag cannot be read that way, and is refused. The alternatives S3 offers
 * were weighed: If-Unmodified-Since takes an HTTP date, to the second, so a replacement within the
 * same second passes; VersionId exists only on buckets with versioning enabled, which the authority's
 * bucket need not have. S3 itself returns an ETag on every HEAD and GET; a store that does not is not
 * one to trust with backups.
 */
export function readCondition(bucket: string, key: string, head: { etag: string }): { etag: string } {
  if (!head.etag) {
    throw new Error(
      `the store returned no ETag for s3://${bucket}/${key}: the object cannot be read conditionally ` +
        '(If-Match), so it could change between being checked and being used; refusing to read it',
    );
  }
  return { etag: head.etag };
}

/**
 * Streams the object, only if it is still the version whose ETag is given (If-Match). The answer's
 * own ETag is compared too: some S3-compatible stores ignore conditions they do not implement.
 */
export async function getObjectStream(
  s3: S3Client,
  bucket: string,
  key: string,
  condition: { etag: string },
): Promise<Readable> {
  if (!condition.etag) readCondition(bucket, key, condition);
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: condition.etag }));
  const body = r.Body as Readable | undefined;
  const mismatch = (what: string) => {
    body?.destroy?.();
    return new Error(
      `the store answered ${what} to a read conditional on ${condition.etag} for s3://${bucket}/${key}: ` +
        'it ignores If-Match, or the object changed; refusing to read it',
    );
  };
  if (!r.ETag) throw mismatch('no ETag');
  if (bareEtag(r.ETag) !== bareEtag(condition.etag)) throw mismatch(`ETag ${r.ETag}`);
  if (body === undefined) throw new Error(`s3://${bucket}/${key} has no body`);
  // In Node the SDK returns an http.IncomingMessage, a Readable.
  return body;
}

export async function deleteObject(s3: S3Client, bucket: string, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

export interface StreamingUpload {
  done(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Multipart streaming upload. Memory is bounded by partSize × queueSize. With 16 MiB parts,
 * the 10,000-part limit of S3 allows objects up to about 156 GiB.
 */
export function startUpload(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Readable,
  opts: { partSize?: number; queueSize?: number } = {},
): StreamingUpload {
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
    partSize: opts.partSize ?? 16 * 1024 * 1024,
    queueSize: opts.queueSize ?? 2,
    leavePartsOnError: false,
  });
  return {
    done: async () => {
      await upload.done();
    },
    abort: () => upload.abort(),
  };
}

const MAX_SINGLE_COPY = 5 * 1024 * 1024 * 1024;

/**
 * Server-side copy that replaces the metadata. Objects above 5 GiB (S3's CopyObject limit, or
 * `multipartThreshold` in tests) are copied part by part with UploadPartCopy.
 */
export async function copyWithMetadata(
  s3: S3Client,
  bucket: string,
  from: string,
  to: string,
  size: number,
  metadata: Record<string, string>,
  opts: { multipartThreshold?: number; partSize?: number } = {},
): Promise<void> {
  const copySource = `${bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
  if (size <= (opts.multipartThreshold ?? MAX_SINGLE_COPY)) {
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: to,
        CopySource: copySource,
        MetadataDirective: 'REPLACE',
        Metadata: metadata,
        ContentType: 'application/octet-stream',
      }),
    );
    return;
  }
  const partSize = opts.partSize ?? 512 * 1024 * 1024;
  const created = await s3.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: to,
      Metadata: metadata,
      ContentType: 'application/octet-stream',
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error(`s3://${bucket}/${to}: the store returned no multipart upload id`);
  try {
    const parts: { ETag: string; PartNumber: number }[] = [];
    for (let start = 0, n = 1; start < size; start += partSize, n++) {
      const end = Math.min(start + partSize, size) - 1;
      const r = await s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: to,
          UploadId: uploadId,
          PartNumber: n,
          CopySource: copySource,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      const etag = r.CopyPartResult?.ETag;
      if (!etag) throw new Error(`s3://${bucket}/${to}: part ${n} copy returned no ETag`);
      parts.push({ ETag: etag, PartNumber: n });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: to,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (e) {
    await s3
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId: uploadId }))
      .catch(() => {});
    throw e;
  }
}

export interface PendingMultipart {
  key: string;
  uploadId: string;
  initiated: Date;
}

export async function listMultipartUploads(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<PendingMultipart[]> {
  const out: PendingMultipart[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
    );
    for (const u of page.Uploads ?? []) {
      if (u.Key && u.UploadId)
        out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) });
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
  return out;
}

export async function abortMultipartUpload(
  s3: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<void> {
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
}
