// Planning the Secrets whose content must persist: the keyring and the database credentials. Pure:
// the live Secrets, the clock and a randomness source come in; a plan (what to write, how, and the
// part outcome) comes out. Writes are never server-side applies: a new Secret is CREATED (the API
// server refuses if one appeared meanwhile) and a changed one is REPLACED with its resourceVersion as
// a precondition, so two operators, or an operator and a restore, can never overwrite a key.
import { BACKUP_DEADLINE_SECONDS } from '../builders/backup.ts';
import type { BuildContext, Owned } from '../builders/context.ts';
import { credentialRoles } from '../builders/database.ts';
import {
  buildCredentialSecret,
  buildKeyringSecret,
  KEYRING_KEY,
  KEYRING_SECRET,
  ROTATED_AT,
} from '../builders/keys.ts';
import {
  type CustomerKek,
  ensureCurrent,
  type Keyring,
  kekFingerprint,
  kekMatches,
  keyVersions,
  newKeyring,
  nextRotation,
  parseKeyring,
  prune,
  type RandomBytes,
  serializeKeyring,
} from '../keys/keyring.ts';
import type { KubeObject } from '../runtime/types.ts';
import type { PartOutcome } from './conditions.ts';

export type SecretWrite =
  | { op: 'create'; object: Owned }
  | { op: 'replace'; object: Owned; resourceVersion: string };

/** Annotation on the Territory by which a human accepts a new keyring after the old one was lost. */
export const ACCEPT_NEW_KEYRING = 'sovereign.dev/accept-new-keyring';

export function decode(secret: KubeObject, key: string): string | undefined {
  const data = secret.data as Record<string, string> | undefined;
  const value = data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** Metadata the operator maintains on a Secret it owns (labels, owner): replaced when it drifted. */
export function metadataDrifted(live: KubeObject, desired: Owned): boolean {
  const want = desired.metadata ?? {};
  const have = live.metadata;
  const labels = Object.entries(want.labels ?? {}).some(([k, v]) => have.labels?.[k] !== v);
  const owners = JSON.stringify(have.ownerReferences ?? []) !== JSON.stringify(want.ownerReferences ?? []);
  return labels || owners;
}

/** Keeps the live data and resourceVersion, takes the desired metadata: a replace that changes no key. */
export function withLiveData(live: KubeObject, desired: Owned): Owned {
  const { stringData: _ignored, ...rest } = desired as Owned & { stringData?: unknown };
  return {
    ...rest,
    data: live.data,
    metadata: { ...desired.metadata, resourceVersion: live.metadata.resourceVersion },
  };
}

export interface KeyringPlan {
  outcome: PartOutcome;
  keyring?: Keyring;
  write?: SecretWrite;
  /** Key ids created by this plan and key ids dropped after their retention: for Events, never material. */
  created: string[];
  dropped: string[];
  status?: { current: string; versions: { id: string; createdAt: string }[]; nextRotation: string };
}

export function planKeyring(opts: {
  ctx: BuildContext;
  live: KubeObject | undefined;
  /** Key ids the Territory's status says were issued: if the Secret vanished, they were lost. */
  issued: string[];
  /**
   * When the newest successful logical backup completed (the backup CronJob's lastSuccessfulTime), or
   * undefined when none was seen: then no retired key version is dropped, since it may be needed.
   */
  lastBackupSucceededAt?: string | undefined;
  kek: CustomerKek | undefined;
  now: Date;
  randomBytes: RandomBytes;
}): KeyringPlan {
  const { ctx, live, kek, now, randomBytes } = opts;
  const t = ctx.territory;
  const fail = (reason: string, message: string, progressing = false): KeyringPlan => ({
    outcome: { type: 'KeysReady', status: 'False', reason, message, progressing },
    created: [],
    dropped: [],
  });
  const { rotationDays } = t.spec.encryption;
  const retentionDays = t.spec.backup.retentionDays;

  let keyring: Keyring;
  let created: string[] = [];
  if (!live) {
    const accepted = t.metadata.annotations?.[ACCEPT_NEW_KEYRING] === 'true';
    if (opts.issued.length > 0 && !accepted) {
      return fail(
        'KeyringLost',
        `Secret ${KEYRING_SECRET} is gone although key versions ${opts.issued.join(', ')} were issued: restore it from ` +
          `your key escrow, or annotate the Territory ${ACCEPT_NEW_KEYRING}=true to start a new keyring ` +
          '(data and backups encrypted with the lost keys stay unreadable)',
      );
    }
    keyring = newKeyring({ now, randomBytes, ...(kek ? { kek } : {}) });
    created = [keyring.current];
  } else {
    const text = decode(live, KEYRING_KEY);
    const parsed = text === undefined ? undefined : safeJson(text);
    const result = parsed === undefined ? undefined : parseKeyring(parsed);
    if (!result?.ok) {
      return fail(
        'KeyringInvalid',
        `Secret ${KEYRING_SECRET} does not hold a valid keyring${result ? `: ${result.error}` : ''}`,
      );
    }
    keyring = result.value;
    const wrapped = keyring.wrapping.algorithm !== 'none';
    if (wrapped !== (kek !== undefined)) {
      return fail(
        'CustomerKeyMismatch',
        wrapped
          ? 'the keyring is wrapped by a customer key but spec.encryption.customerKey is not set'
          : 'spec.encryption.customerKey was set after the keyring was created: re-wrapping an existing keyring is not supported yet, keep the keyring unwrapped or start a new Territory',
      );
    }
    // Checked on every reconcile, not only when a rotation needs the key: a customer key replaced by a
    // different one must not leave KeysReady=True while backups can no longer unwrap the data keys.
    if (
      kek &&
      keyring.wrapping.algorithm !== 'none' &&
      !kekMatches(kek.material, keyring.wrapping.kekFingerprint)
    ) {
      return fail(
        'CustomerKeyMismatch',
        `the customer key in Secret ${kek.secretName} (key "${kek.key}") is not the one that wraps the keyring ` +
          `(fingerprint ${kekFingerprint(kek.material)}, keyring expects ${keyring.wrapping.kekFingerprint}): put the original key back`,
      );
    }
    try {
      const rotated = ensureCurrent(keyring, {
        now,
        rotationDays,
        randomBytes,
        ...(kek ? { kek: kek.material } : {}),
      });
      if (rotated.rotated) created = [rotated.keyring.current];
      keyring = rotated.keyring;
    } catch (err) {
      return fail('CustomerKeyMismatch', (err as Error).message);
    }
  }
  // A backup job runs at most BACKUP_DEADLINE_SECONDS: the newest backup was taken no earlier than that
  // before it completed.
  const succeeded = opts.lastBackupSucceededAt ? Date.parse(opts.lastBackupSucceededAt) : Number.NaN;
  const newestBackupTakenAfter = Number.isFinite(succeeded)
    ? new Date(succeeded - BACKUP_DEADLINE_SECONDS * 1000)
    : undefined;
  const pruned = prune(keyring, { now, retentionDays, newestBackupTakenAfter });
  keyring = pruned.keyring;

  const desired = buildKeyringSecret(ctx, serializeKeyring(keyring));
  let write: SecretWrite | undefined;
  if (!live) write = { op: 'create', object: desired };
  else if (created.length > 0 || pruned.dropped.length > 0) {
    write = {
      op: 'replace',
      object: {
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: live.metadata.resourceVersion },
      },
      resourceVersion: live.metadata.resourceVersion ?? '',
    };
  } else if (metadataDrifted(live, desired)) {
    write = {
      op: 'replace',
      object: withLiveData(live, desired),
      resourceVersion: live.metadata.resourceVersion ?? '',
    };
  }
  const next = nextRotation(keyring, rotationDays)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');
  const versions = keyVersions(keyring).map(({ id, createdAt }) => ({ id, createdAt }));
  return {
    outcome: {
      type: 'KeysReady',
      status: 'True',
      reason: kek ? 'CustomerKeyWrapped' : 'KeysAvailable',
      message: `current key ${keyring.current} (${versions.length} version${versions.length > 1 ? 's' : ''}), next rotation ${next}${kek ? ', wrapped by the authority’s key' : ''}`,
    },
    keyring,
    ...(write ? { write } : {}),
    created,
    dropped: pruned.dropped,
    status: { current: keyring.current, versions, nextRotation: next },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface CredentialPlan {
  writes: SecretWrite[];
  rotated: string[];
  /** Earliest time a credential is due for rotation (RFC 3339), to requeue then. */
  nextRotation: string;
}

const DAY_MS = 86_400_000;

/** Passwords for PostgreSQL roles: 32 random bytes, URL-safe so no client needs escaping. */
export function newPassword(randomBytes: RandomBytes): string {
  return Buffer.from(randomBytes(32)).toString('base64url');
}

/**
 * One basic-auth Secret per role (owner, one per purpose, the read-only backup role). A missing one is created; one older than
 * the rotation period gets a new password (CloudNativePG then changes it in PostgreSQL, because the
 * Secret is a managed role's passwordSecret). CloudNativePG itself never rotates them.
 */
export function planCredentials(opts: {
  ctx: BuildContext;
  live: (name: string) => KubeObject | undefined;
  now: Date;
  rotationDays: number;
  randomBytes: RandomBytes;
}): CredentialPlan {
  const { ctx, now, rotationDays, randomBytes } = opts;
  const nowText = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const roles = credentialRoles(ctx);
  const writes: SecretWrite[] = [];
  const rotated: string[] = [];
  let next = Number.POSITIVE_INFINITY;
  for (const role of roles) {
    const live = opts.live(role.secret);
    if (!live) {
      const object = buildCredentialSecret(ctx, role.secret, {
        username: role.username,
        password: newPassword(randomBytes),
        rotatedAt: nowText,
      });
      writes.push({ op: 'create', object });
      next = Math.min(next, now.getTime() + rotationDays * DAY_MS);
      continue;
    }
    const rotatedAt = Date.parse(live.metadata.annotations?.[ROTATED_AT] ?? '') || 0;
    const due = rotatedAt + rotationDays * DAY_MS;
    if (due <= now.getTime()) {
      const object = buildCredentialSecret(ctx, role.secret, {
        username: role.username,
        password: newPassword(randomBytes),
        rotatedAt: nowText,
      });
      object.metadata = { ...object.metadata, resourceVersion: live.metadata.resourceVersion };
      writes.push({ op: 'replace', object, resourceVersion: live.metadata.resourceVersion ?? '' });
      rotated.push(role.secret);
      next = Math.min(next, now.getTime() + rotationDays * DAY_MS);
    } else {
      const desired = buildCredentialSecret(ctx, role.secret, {
        username: role.username,
        password: '',
        rotatedAt: live.metadata.annotations?.[ROTATED_AT] ?? nowText,
      });
      if (metadataDrifted(live, desired)) {
        const object = withLiveData(live, desired);
        object.metadata = {
          ...object.metadata,
          annotations: { ...live.metadata.annotations, ...desired.metadata?.annotations },
        };
        writes.push({ op: 'replace', object, resourceVersion: live.metadata.resourceVersion ?? '' });
      }
      next = Math.min(next, due);
    }
  }
  return { writes, rotated, nextRotation: new Date(next).toISOString() };
}
