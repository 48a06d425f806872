// The password Secrets of a Territory's roles in its pool's namespace, planned like the Territory's own
// credentials (secrets.ts): created, or replaced with a resourceVersion precondition, never applied. Pure:
// the Territory's Secrets, the pool's copies and a randomness source come in; the writes come out.
//
// One source of truth: the Territory's own Secret (db-owner, db-purpose-<name>, db-backup in its
// namespace), which planCredentials creates and rotates. The pool's copy of a role holds a SCRAM verifier of
// that Secret's password (keys/scram.ts), never the password, and carries the source's rotated-at
// annotation. A copy whose annotation or username differs from its source's is rewritten from the source as
// read now, so a copy is never a mix of two rotations, and the password itself appears in no object of the
// pool's namespace.
//
// A rotation: planCredentials replaces the Territory's Secret (new password, new rotated-at); the
// reconciler hands this plan the Secret as written (or reads it back on the next reconcile, which the
// Secret's change triggers), the copy is replaced with the new verifier, and CloudNativePG, seeing the
// DatabaseRole's Secret change (cnpg.io/reload), runs ALTER ROLE ... PASSWORD with it. In between, a client
// that has read the new password is refused for a moment, as in a cluster of the Territory's own, where
// CloudNativePG also applies the Secret after it has changed.
import type { BuildContext } from '../builders/context.ts';
import { ROTATED_AT } from '../builders/keys.ts';
import { buildPoolCredentialSecret, poolLoginRoles } from '../builders/shared-database.ts';
import type { RandomBytes } from '../keys/keyring.ts';
import { SCRAM_SALT_BYTES, scramSha256Verifier } from '../keys/scram.ts';
import type { KubeObject } from '../runtime/types.ts';
import { decode, metadataDrifted, type SecretWrite, withLiveData } from './secrets.ts';

export interface PoolCredentialPlan {
  writes: SecretWrite[];
  /**
   * The Territory's Secrets that do not exist yet (or hold no password): their roles' copies wait for them,
   * and so do those roles in PostgreSQL.
   */
  waiting: string[];
}

/**
 * `source(name)`: the Territory's Secret `name` in its namespace, as it is after this reconcile's credential
 * writes (the object planCredentials wrote, else the cache), so a rotation reaches the pool in the same
 * reconcile. `live(name)`: the copy `name` in the pool's namespace.
 */
export function planPoolCredentials(opts: {
  ctx: BuildContext;
  source: (name: string) => KubeObject | undefined;
  live: (name: string) => KubeObject | undefined;
  randomBytes: RandomBytes;
}): PoolCredentialPlan {
  const { ctx, randomBytes } = opts;
  const writes: SecretWrite[] = [];
  const waiting: string[] = [];
  for (const { role, secret, copy } of poolLoginRoles(ctx)) {
    const source = opts.source(secret);
    const password = source ? passwordOf(source) : undefined;
    const rotatedAt = source?.metadata.annotations?.[ROTATED_AT];
    if (password === undefined || rotatedAt === undefined) {
      waiting.push(secret);
      continue;
    }
    const fresh = () =>
      buildPoolCredentialSecret(ctx, copy, {
        username: role,
        verifier: scramSha256Verifier(password, randomBytes(SCRAM_SALT_BYTES)),
        rotatedAt,
      });
    const live = opts.live(copy);
    if (!live) {
      writes.push({ op: 'create', object: fresh() });
      continue;
    }
    const resourceVersion = live.metadata.resourceVersion ?? '';
    const current =
      live.metadata.annotations?.[ROTATED_AT] === rotatedAt && decode(live, 'username') === role;
    if (!current) {
      const object = fresh();
      object.metadata = { ...object.metadata, resourceVersion };
      writes.push({ op: 'replace', object, resourceVersion });
      continue;
    }
    // Current: only labels or owner references to restore, keeping the verifier as it is (a new salt would
    // make CloudNativePG alter the role for nothing).
    const desired = buildPoolCredentialSecret(ctx, copy, { username: role, verifier: '', rotatedAt });
    if (metadataDrifted(live, desired)) {
      writes.push({ op: 'replace', object: withLiveData(live, desired), resourceVersion });
    }
  }
  return { writes, waiting };
}

/** The password a Territory's Secret holds, by its `data` (as read) or `stringData` (as just written). */
function passwordOf(secret: KubeObject): string | undefined {
  const written = (secret as { stringData?: Record<string, string> }).stringData?.password;
  const password = written ?? decode(secret, 'password');
  return password ? password : undefined;
}
