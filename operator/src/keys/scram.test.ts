import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isScramSha256Verifier, SCRAM_ITERATIONS, scramSha256Verifier } from './scram.ts';

// RFC 7677, section 3: user "user", password "pencil", its salt, and the exchange it shows.
const SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const AUTH_MESSAGE = [
  'n=user,r=rOprNGfwEbeRWgbNEkqO',
  'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
].join(',');
const CLIENT_PROOF = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
const SERVER_SIGNATURE = '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

function keysOf(verifier: string): { storedKey: Buffer; serverKey: Buffer } {
  const [, keys = ''] = verifier.split('$').slice(1);
  const [stored = '', server = ''] = keys.split(':');
  return { storedKey: Buffer.from(stored, 'base64'), serverKey: Buffer.from(server, 'base64') };
}

describe('scramSha256Verifier', () => {
  const verifier = scramSha256Verifier('pencil', SALT);

  it("is PostgreSQL's stored form, with its default iterations", () => {
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    expect(SCRAM_ITERATIONS).toBe(4096);
    expect(isScramSha256Verifier(verifier)).toBe(true);
  });

  it("lets a server check the RFC 7677 client's proof, and sign as that server", () => {
    const { storedKey, serverKey } = keysOf(verifier);
    // What PostgreSQL does with the client's proof: recover ClientKey, hash it, compare with StoredKey.
    const clientSignature = createHmac('sha256', storedKey).update(AUTH_MESSAGE).digest();
    const clientKey = Buffer.from(CLIENT_PROOF.map((byte, i) => byte ^ (clientSignature[i] ?? 0)));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
    expect(createHmac('sha256', serverKey).update(AUTH_MESSAGE).digest('base64')).toBe(SERVER_SIGNATURE);
  });

  it('refuses a password it would have to SASLprep first', () => {
    expect(() => scramSha256Verifier('mot de passe', SALT)).toThrow(/printable ASCII/);
    expect(() => scramSha256Verifier('pässword', SALT)).toThrow(/printable ASCII/);
    expect(() => scramSha256Verifier('', SALT)).toThrow(/printable ASCII/);
  });
});

describe('isScramSha256Verifier', () => {
  it('tells a verifier from a password, as CloudNativePG does before passing it through', () => {
    expect(isScramSha256Verifier('pencil')).toBe(false);
    expect(isScramSha256Verifier('SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:c2hvcnQ=')).toBe(false);
    expect(isScramSha256Verifier(`${scramSha256Verifier('pencil', SALT)}\n`)).toBe(false);
  });
});
