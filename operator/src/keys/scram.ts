// SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677) in the form PostgreSQL stores in pg_authid and takes in
// ALTER ROLE ... PASSWORD: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
//
// Why: a pool's roles get their passwords from Secrets in the pool's namespace. Holding there a verifier
// rather than the password, the pool's namespace holds nothing a client can log in with: a verifier lets
// a server check a password, not a client present one. CloudNativePG passes a value in this form through
// as it is (it recognises it, as PostgreSQL does), and hashes anything else itself.
//
// Deterministic for a given salt, so pure; the salt comes from the caller's randomness.
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

/** PostgreSQL's default scram_iterations. */
export const SCRAM_ITERATIONS = 4096;
export const SCRAM_SALT_BYTES = 16;

/**
 * Printable ASCII only: PostgreSQL runs a password through SASLprep first, which leaves such a password as
 * it is; the operator's generated passwords are base64url. Anything else would need SASLprep here too.
 */
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

export function scramSha256Verifier(
  password: string,
  salt: Uint8Array,
  iterations: number = SCRAM_ITERATIONS,
): string {
  if (!PRINTABLE_ASCII.test(password)) {
    throw new Error('a SCRAM verifier is only computed here for passwords of printable ASCII');
  }
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new Error('iterations must be a positive integer');
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/** Whether `value` is in the verifier form above, read as PostgreSQL and CloudNativePG read it. */
export function isScramSha256Verifier(value: string): boolean {
  const match =
    /^SCRAM-SHA-256\$([1-9][0-9]*):([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/.exec(
      value,
    );
  if (!match) return false;
  const [, , , stored, server] = match;
  return (
    Buffer.from(stored ?? '', 'base64').length === 32 && Buffer.from(server ?? '', 'base64').length === 32
  );
}
