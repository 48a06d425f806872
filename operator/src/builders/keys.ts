// The Secrets that hold what must persist: the authority's keyring and the database credentials.
// Their CONTENT is produced once by the reconciler (randomness lives at the edge) and never
// regenerated; these builders only give them their shape, labels and owner.
import type { BuildContext, Owned } from './context.ts';
import { ownedMeta } from './context.ts';

export const KEYRING_SECRET = 'territory-keyring';
export const KEYRING_KEY = 'keyring.json';

/** Annotation recording when a credential was last rotated (RFC 3339), read back to schedule the next. */
export const ROTATED_AT = 'sovereign.dev/rotated-at';

export function buildKeyringSecret(ctx: BuildContext, keyringJson: string): Owned {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMeta(ctx, KEYRING_SECRET, 'keys'),
    type: 'Opaque',
    // Immutable would forbid rotation; the reconciler instead writes only with a resourceVersion precondition.
    stringData: { [KEYRING_KEY]: keyringJson },
  };
}

/** A basic-auth Secret in the shape CloudNativePG expects for bootstrap owners and managed roles. */
export function buildCredentialSecret(
  ctx: BuildContext,
  name: string,
  credentials: { username: string; password: string; rotatedAt: string },
): Owned {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMeta(ctx, name, 'database', {
      // CloudNativePG re-reads a managed role's password when a Secret with this label changes.
      labels: { 'cnpg.io/reload': 'true' },
      annotations: { [ROTATED_AT]: credentials.rotatedAt },
    }),
    type: 'kubernetes.io/basic-auth',
    stringData: { username: credentials.username, password: credentials.password },
  };
}
