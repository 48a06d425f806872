// The territory keyring: the versioned data keys that encrypt one authority's backups.
//
// Pure: no I/O, no clock, no randomness of its own. The caller passes `now` and `randomBytes`,
// so the operator (which stores the result in the `territory-keyring` Secret) and the tests
// decide time and entropy. The one rule everything here protects: a key version, once
// created, is never altered or regenerated — a lost or changed key is lost data. Versions only
// gain a `retiredAt` when a newer one takes over, and are dropped only once nothing they can
// have encrypted is still within retention.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DATA_KEY_BYTES, KEK_BYTES, unwrapAes256Kw, WRAPPED_KEY_BYTES, wrapAes256Kw } from './aes-kw.ts';

export const KEYRING_FORMAT = 'territory-keyring/v1';
/** Name of the Secret holding the keyring in each territory namespace, and its data key. */
export const KEYRING_SECRET_NAME = 'territory-keyring';
export const KEYRING_SECRET_KEY = 'keyring.json';

const DAY_MS = 86_400_000;

export type KeyringWrapping =
  | { algorithm: 'none' }
  | { algorithm: 'A256KW'; secretName: string; key: string; kekFingerprint: string };

export interface KeyVersion {
  id: string;
  createdAt: string;
  retiredAt?: string;
  /** base64 of the raw 32-byte key, or of its 40-byte RFC 3394 wrap when the keyring is wrapped. */
  material: string;
}

export interface Keyring {
  format: typeof KEYRING_FORMAT;
  wrapping: KeyringWrapping;
  current: string;
  keys: KeyVersion[];
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** Thrown for misuse that must stop the caller (missing or wrong customer key, unknown key id). */
export class KeyringError extends Error {
  override name = 'KeyringError';
}

export type RandomBytes = (size: number) => Uint8Array;

/** Where the customer-held key encryption key (KEK) lives, and its bytes. */
export interface CustomerKek {
  secretName: string;
  key: string;
  material: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Validation

const rfc3339 = z.iso.datetime({ offset: true });
const strictBase64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be standard base64');
const keyId = z
  .string()
  .regex(/^k[0-9]+-[0-9]{8}$/, 'must look like k<sequence>-<YYYYMMDD>, e.g. k1-20261128');

const wrappingSchema = z.discriminatedUnion('algorithm', [
  z.strictObject({ algorithm: z.literal('none') }),
  z.strictObject({
    algorithm: z.literal('A256KW'),
    secretName: z.string().min(1),
    key: z.string().min(1),
    kekFingerprint: z
      .string()
      .regex(
        /^(hmac-sha256:[0-9a-f]{32}|sha256:[0-9a-f]{16})$/,
        'must be hmac-sha256:<32 hex digits> (or the former sha256:<16 hex digits>)',
      ),
  }),
]);

const keyringSchema = z
  .strictObject({
    format: z.literal(KEYRING_FORMAT),
    wrapping: wrappingSchema,
    current: keyId,
    keys: z
      .array(
        z.strictObject({
          id: keyId,
          createdAt: rfc3339,
          retiredAt: rfc3339.optional(),
          material: strictBase64,
        }),
      )
      .min(1),
  })
  .superRefine((k, ctx) => {
    const expectedBytes = k.wrapping.algorithm === 'none' ? DATA_KEY_BYTES : WRAPPED_KEY_BYTES;
    const seen = new Set<string>();
    k.keys.forEach((v, i) => {
      if (seen.has(v.id)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'id'], message: 'duplicate id' });
      seen.add(v.id);
      const bytes = Buffer.from(v.material, 'base64').length;
      if (bytes !== expectedBytes) {
        ctx.addIssue({
          code: 'custom',
          path: ['keys', i, 'material'],
          message: `must decode to ${expectedBytes} bytes for wrapping "${k.wrapping.algorithm}", got ${bytes}`,
        });
      }
      if (v.retiredAt !== undefined && Date.parse(v.retiredAt) < Date.parse(v.createdAt)) {
        ctx.addIssue({ code: 'custom', path: ['keys', i, 'retiredAt'], message: 'is before createdAt' });
      }
    });
    const current = k.keys.find((v) => v.id === k.current);
    if (current === undefined) {
      ctx.addIssue({ code: 'custom', path: ['current'], message: `no key version has id "${k.current}"` });
    } else if (current.retiredAt !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['current'],
        message: 'the current key version must not be retired',
      });
    }
  });

/** Parse and strictly validate keyring.json (a string, or already-parsed JSON). */
export function parseKeyring(json: unknown): Result<Keyring> {
  let raw: unknown = json;
  if (typeof json === 'string') {
    try {
      raw = JSON.parse(json);
    } catch (e) {
      return { ok: false, error: `keyring.json is not valid JSON: ${(e as Error).message}` };
    }
  }
  const parsed = keyringSchema.safeParse(raw);
  if (!parsed.success) {
    // Messages name paths and rules only; zod does not echo values for these checks, so no
    // key material can leak into the error.
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, error: `keyring.json is invalid: ${issues.join('; ')}` };
  }
  return { ok: true, value: canonical(parsed.data as Keyring) };
}

/** JSON with a fixed key order, so re-serialising an unchanged keyring is byte-identical. */
export function serializeKeyring(k: Keyring): string {
  return `${JSON.stringify(canonical(k), null, 2)}\n`;
}

function canonical(k: Keyring): Keyring {
  const wrapping: KeyringWrapping =
    k.wrapping.algorithm === 'none'
      ? { algorithm: 'none' }
      : {
          algorithm: 'A256KW',
          secretName: k.wrapping.secretName,
          key: k.wrapping.key,
          kekFingerprint: k.wrapping.kekFingerprint,
        };
  return {
    format: KEYRING_FORMAT,
    wrapping,
    current: k.current,
    keys: k.keys.map((v) => ({
      id: v.id,
      createdAt: v.createdAt,
      ...(v.retiredAt === undefined ? {} : { retiredAt: v.retiredAt }),
      material: v.material,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Customer key (KEK)

/**
 * The customer key's fingerprint, shown in status and messages and kept in the keyring to recognise
 * the key: "hmac-sha256:" + 128 bits of HMAC-SHA256 keyed by the key itself, over a fixed label.
 *
 * - Keyed and labelled: the value is a pseudo-random function of the key, domain-separated from
 *   anything else computed on it (a plain sha256 of the key file, made by some other tool, is not this
 *   fingerprint and cannot be matched against it).
 * - 128 bits: nobody can search for a different key with the same fingerprint (2^128 work); the
 *   former 64 bits (sha256:<16 hex>) were within reach of a large search.
 * - Offline guessing: no fingerprint, whatever its length, protects a low-entropy key (each guess is
 *   checked against it), and none helps guess a random 256-bit key. What protects the key is
 *   parseKek, which refuses anything that does not look random (a password).
 *
 * The authority can compute it from its key file `kek` (32 raw bytes) with:
 *   printf '%s' 'territory customer key fingerprint v2' \
 *     | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(od -An -tx1 -v kek | tr -d ' \n') \
 *     | awk '{print "hmac-sha256:" substr($NF, 1, 32)}'
 */
export function kekFingerprint(kek: Uint8Array): string {
  const mac = createHmac('sha256', kek).update(KEK_FINGERPRINT_LABEL).digest();
  return `hmac-sha256:${mac.subarray(0, 16).toString('hex')}`;
}
const KEK_FINGERPRINT_LABEL = 'territory customer key fingerprint v2';

/** The fingerprint of keyrings written before hmac-sha256 (still recognised, upgraded at rotation). */
function legacyKekFingerprint(kek: Uint8Array): string {
  return `sha256:${createHash('sha256').update(kek).digest().subarray(0, 8).toString('hex')}`;
}

/** Whether `kek` is the key a keyring recorded `fingerprint` of (either form). */
export function kekMatches(kek: Uint8Array, fingerprint: string): boolean {
  const got = fingerprint.startsWith('sha256:') ? legacyKekFingerprint(kek) : kekFingerprint(kek);
  const a = Buffer.from(got);
  const b = Buffer.from(fingerprint);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** How to make a key the operator accepts, for messages (the Secret takes raw bytes or their text). */
const MAKE_A_KEY =
  'generate one with `openssl rand 32 > kek` and create the Secret from that file ' +
  '(`kubectl create secret generic <name> --from-file=kek=kek`), or use its base64 text (`openssl rand -base64 32`)';

/** Fewer distinct byte values than this in 32 bytes: not random (a random key: about 1 chance in 2^75). */
const MIN_DISTINCT_BYTES = 13;

/** Bytes of text: printable ASCII, tab, line feed, carriage return. */
function isText(buf: Buffer): boolean {
  return buf.every((b) => (b >= 0x20 && b <= 0x7e) || b === 0x09 || b === 0x0a || b === 0x0d);
}

/**
 * Read a customer key as mounted from a Secret: 32 raw bytes, or 32 bytes written as base64 or
 * hex text (people paste keys as text). Anything else is refused rather than guessed, and so is a
 * key that does not look random:
 * - 32 bytes that are all printable characters (raw, or once decoded from hex/base64) are a password,
 *   not a key (a random key is all printable about once in 2^44); a password can be guessed offline from anything
 *   derived from it, its fingerprint included;
 * - 32 bytes with fewer than 13 distinct values (zeros, a repeated pattern) are not random either.
 * Messages never quote the value.
 */
export function parseKek(bytes: Uint8Array): Result<Buffer> {
  const buf = Buffer.from(bytes);
  const text = buf.toString('utf8').trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const decoded = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (decoded.length === KEK_BYTES) key = decoded;
  }
  if (key === undefined && buf.length === KEK_BYTES) key = buf;
  if (key === undefined) {
    return {
      ok: false,
      error: `the customer key must be a random 256-bit key: ${KEK_BYTES} raw bytes, or base64/hex text of them (got ${buf.length} bytes); ${MAKE_A_KEY}`,
    };
  }
  // Raw, or decoded from hex/base64 text: 32 printable characters either way.
  if (isText(key)) {
    return {
      ok: false,
      error: `the customer key looks like a password (${KEK_BYTES} printable characters), not a random 256-bit key: ${MAKE_A_KEY}`,
    };
  }
  if (new Set(key).size < MIN_DISTINCT_BYTES) {
    return {
      ok: false,
      error: `the customer key is not random (too few distinct byte values: zeros or a repeated pattern): ${MAKE_A_KEY}`,
    };
  }
  return { ok: true, value: key };
}

function checkKek(k: Keyring, kek: Uint8Array | undefined): Buffer | undefined {
  if (k.wrapping.algorithm === 'none') return undefined;
  if (kek === undefined) {
    throw new KeyringError(
      `the keyring is wrapped with the customer key from Secret "${k.wrapping.secretName}" (key "${k.wrapping.key}") but no customer key was supplied`,
    );
  }
  if (kek.length !== KEK_BYTES) throw new KeyringError(`the customer key must be ${KEK_BYTES} bytes`);
  if (!kekMatches(kek, k.wrapping.kekFingerprint)) {
    throw new KeyringError(
      `customer key does not match the keyring (fingerprint ${kekFingerprint(kek)}, keyring expects ${k.wrapping.kekFingerprint})`,
    );
  }
  return Buffer.from(kek);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/** RFC 3339 in UTC, to the second (what Kubernetes itself writes). */
export function rfc3339Seconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function newVersion(
  sequence: number,
  now: Date,
  randomBytes: RandomBytes,
  kek: Buffer | undefined,
): KeyVersion {
  const raw = Buffer.from(randomBytes(DATA_KEY_BYTES));
  if (raw.length !== DATA_KEY_BYTES) throw new KeyringError(`randomBytes returned ${raw.length} bytes`);
  const material = kek === undefined ? raw : wrapAes256Kw(kek, raw);
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  return { id: `k${sequence}-${day}`, createdAt: rfc3339Seconds(now), material: material.toString('base64') };
}

function nextSequence(k: Keyring): number {
  // Sequence numbers are never reused, even after pruning, because prune never drops the
  // newest (current) version, whose sequence is the highest.
  let max = 0;
  for (const v of k.keys) max = Math.max(max, Number(/^k(\d+)-/.exec(v.id)?.[1] ?? 0));
  return max + 1;
}

export function newKeyring(opts: { now: Date; randomBytes: RandomBytes; kek?: CustomerKek }): Keyring {
  const { now, randomBytes, kek } = opts;
  if (kek !== undefined && kek.material.length !== KEK_BYTES) {
    throw new KeyringError(`the customer key must be ${KEK_BYTES} bytes`);
  }
  const wrapping: KeyringWrapping =
    kek === undefined
      ? { algorithm: 'none' }
      : {
          algorithm: 'A256KW',
          secretName: kek.secretName,
          key: kek.key,
          kekFingerprint: kekFingerprint(kek.material),
        };
  const first = newVersion(1, now, randomBytes, kek === undefined ? undefined : Buffer.from(kek.material));
  return { format: KEYRING_FORMAT, wrapping, current: first.id, keys: [first] };
}

export function currentVersion(k: Keyring): KeyVersion {
  const v = k.keys.find((x) => x.id === k.current);
  if (v === undefined) throw new KeyringError(`keyring has no key version "${k.current}"`);
  return v;
}

/** When the current key version is due to be replaced. */
export function nextRotation(k: Keyring, rotationDays: number): Date {
  return new Date(Date.parse(currentVersion(k).createdAt) + rotationDays * DAY_MS);
}

/**
 * Make sure the current key is younger than `rotationDays`; if not, add a new version, make it
 * current and set `retiredAt` on the old one. Existing versions keep their id, createdAt and
 * material byte for byte. A wrapped keyring needs its customer key to wrap the new version.
 */
export function ensureCurrent(
  k: Keyring,
  opts: { now: Date; rotationDays: number; randomBytes: RandomBytes; kek?: Uint8Array },
): { keyring: Keyring; rotated: boolean } {
  const { now, rotationDays, randomBytes } = opts;
  if (!Number.isFinite(rotationDays) || rotationDays <= 0) {
    throw new KeyringError(`rotationDays must be a positive number, got ${rotationDays}`);
  }
  const current = currentVersion(k);
  if (now.getTime() < nextRotation(k, rotationDays).getTime()) return { keyring: k, rotated: false };
  const kek = checkKek(k, opts.kek);
  const fresh = newVersion(nextSequence(k), now, randomBytes, kek);
  const retiredAt = rfc3339Seconds(now);
  const keys = k.keys.map((v) => (v.id === current.id ? { ...v, retiredAt } : v));
  // The key was just checked against the recorded fingerprint: record it in the current form.
  const wrapping: KeyringWrapping =
    k.wrapping.algorithm === 'A256KW' && kek
      ? { ...k.wrapping, kekFingerprint: kekFingerprint(kek) }
      : k.wrapping;
  return { keyring: { ...k, wrapping, current: fresh.id, keys: [...keys, fresh] }, rotated: true };
}

/**
 * Drop retired versions that no kept backup can need. Backups are kept while within retention, and
 * the newest one is kept whatever its age (the backup job's `keepAtLeast`), so that a run of failed
 * backups never leaves none. A version retired at R encrypted backups taken up to R (plus `graceDays`,
 * default 1, for a backup job that read the keyring just before a rotation landed). It may go only
 * when both kinds of kept backup are newer than that:
 * - every backup within retention: R + grace + retentionDays is past;
 * - the newest backup: `newestBackupTakenAfter` (the earliest time the newest successful backup can
 *   have been taken) is after R + grace. Unknown (no success seen) keeps the version: a backup
 *   from before may still be the newest in the bucket.
 * The current version is never dropped, whatever its dates.
 */
export function prune(
  k: Keyring,
  opts: { now: Date; retentionDays: number; graceDays?: number; newestBackupTakenAfter: Date | undefined },
): { keyring: Keyring; dropped: string[] } {
  const { now, retentionDays, newestBackupTakenAfter } = opts;
  const graceDays = opts.graceDays ?? 1;
  if (!Number.isFinite(retentionDays) || retentionDays < 0) {
    throw new KeyringError(`retentionDays must be a non-negative number, got ${retentionDays}`);
  }
  const dropped: string[] = [];
  const keys = k.keys.filter((v) => {
    if (v.id === k.current || v.retiredAt === undefined) return true;
    const lastUse = Date.parse(v.retiredAt) + graceDays * DAY_MS;
    const pastRetention = lastUse + retentionDays * DAY_MS < now.getTime();
    const newestIsNewer = newestBackupTakenAfter !== undefined && newestBackupTakenAfter.getTime() > lastUse;
    const expired = pastRetention && newestIsNewer;
    if (expired) dropped.push(v.id);
    return !expired;
  });
  return { keyring: dropped.length === 0 ? k : { ...k, keys }, dropped };
}

/** The raw 32-byte data key of one version (unwrapped with the customer key when needed). */
export function unwrapKey(k: Keyring, id: string, kek?: Uint8Array): Buffer {
  const v = k.keys.find((x) => x.id === id);
  if (v === undefined) {
    throw new KeyringError(
      `key version "${id}" is not in the keyring (known: ${k.keys.map((x) => x.id).join(', ')}); it may have been pruned after its retention ended`,
    );
  }
  const material = Buffer.from(v.material, 'base64');
  const wrappingKey = checkKek(k, kek);
  if (wrappingKey === undefined) return material;
  const raw = unwrapAes256Kw(wrappingKey, material);
  if (raw === undefined) {
    throw new KeyringError(
      `key version "${id}" failed its integrity check when unwrapped with the customer key`,
    );
  }
  return raw;
}

/** What status may show about the keyring: ids and dates, never material. */
export function keyVersions(
  k: Keyring,
): { id: string; createdAt: string; retiredAt?: string; current: boolean }[] {
  return k.keys.map((v) => ({
    id: v.id,
    createdAt: v.createdAt,
    ...(v.retiredAt === undefined ? {} : { retiredAt: v.retiredAt }),
    current: v.id === k.current,
  }));
}
