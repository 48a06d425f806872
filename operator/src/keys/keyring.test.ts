import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ensureCurrent,
  type Keyring,
  KeyringError,
  kekFingerprint,
  kekMatches,
  keyVersions,
  newKeyring,
  nextRotation,
  parseKek,
  parseKeyring,
  prune,
  serializeKeyring,
  unwrapKey,
} from './keyring.ts';

const DAY = 86_400_000;
const T0 = new Date('2026-11-28T02:00:00Z');

/** Deterministic "randomness": distinct 32-byte blocks from a counter, so tests are repeatable. */
function counterRandom(seed = 0): (n: number) => Buffer {
  let i = seed;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let off = 0; off < n; off += 32) {
      createHash('sha256').update(`block-${i++}`).digest().copy(out, off);
    }
    return out;
  };
}

const KEK = Buffer.alloc(32, 7);
const kekRef = { secretName: 'rennes-customer-key', key: 'kek', material: KEK };

function must<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('newKeyring', () => {
  it('creates one current key of 32 random bytes, unwrapped', () => {
    const random = counterRandom();
    const k = newKeyring({ now: T0, randomBytes: random });
    expect(k.current).toBe('k1-20261128');
    expect(k.wrapping).toEqual({ algorithm: 'none' });
    expect(k.keys).toHaveLength(1);
    expect(k.keys[0]?.createdAt).toBe('2026-11-28T02:00:00Z');
    expect(unwrapKey(k, 'k1-20261128').equals(counterRandom()(32))).toBe(true);
  });

  it('wraps the key with the customer KEK (A256KW) and records its fingerprint, not the KEK', () => {
    const k = newKeyring({ now: T0, randomBytes: counterRandom(), kek: kekRef });
    expect(k.wrapping).toEqual({
      algorithm: 'A256KW',
      secretName: 'rennes-customer-key',
      key: 'kek',
      kekFingerprint: kekFingerprint(KEK),
    });
    expect(Buffer.from(k.keys[0]?.material ?? '', 'base64')).toHaveLength(40);
    expect(serializeKeyring(k)).not.toContain(KEK.toString('base64'));
    expect(unwrapKey(k, k.current, KEK).equals(counterRandom()(32))).toBe(true);
  });

  it('fingerprints a KEK with 128 bits of a keyed hash, never a short digest of the key itself', () => {
    const fingerprint = kekFingerprint(KEK);
    expect(fingerprint).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    const expected = createHmac('sha256', KEK).update('territory customer key fingerprint v2').digest('hex');
    expect(fingerprint).toBe(`hmac-sha256:${expected.slice(0, 32)}`);
    // Not sha256(key), not even a prefix of it: nothing someone computed elsewhere on the key file.
    const digest = createHash('sha256').update(KEK).digest('hex');
    expect(fingerprint).not.toContain(digest.slice(0, 16));
  });

  it('still recognises a keyring recorded with the former 64-bit fingerprint, and upgrades it at rotation', () => {
    const legacy = `sha256:${createHash('sha256').update(KEK).digest('hex').slice(0, 16)}`;
    const k = newKeyring({ now: T0, randomBytes: counterRandom(), kek: kekRef });
    const old: Keyring = {
      ...k,
      wrapping: {
        algorithm: 'A256KW',
        secretName: kekRef.secretName,
        key: kekRef.key,
        kekFingerprint: legacy,
      },
    };
    const parsed = must(parseKeyring(serializeKeyring(old)));
    expect(kekMatches(KEK, legacy)).toBe(true);
    expect(kekMatches(Buffer.alloc(32, 8), legacy)).toBe(false);
    expect(unwrapKey(parsed, parsed.current, KEK)).toHaveLength(32);
    const rotated = ensureCurrent(parsed, {
      now: new Date(T0.getTime() + 100 * DAY),
      rotationDays: 90,
      randomBytes: counterRandom(5),
      kek: KEK,
    });
    expect(rotated.keyring.wrapping).toMatchObject({ kekFingerprint: kekFingerprint(KEK) });
  });
});

describe('unwrapKey', () => {
  const wrapped = newKeyring({ now: T0, randomBytes: counterRandom(), kek: kekRef });

  it('refuses a wrong customer key by fingerprint', () => {
    const wrong = Buffer.alloc(32, 8);
    expect(() => unwrapKey(wrapped, wrapped.current, wrong)).toThrow(
      `customer key does not match the keyring (fingerprint ${kekFingerprint(wrong)}`,
    );
  });

  it('refuses a missing customer key, naming where it is expected', () => {
    expect(() => unwrapKey(wrapped, wrapped.current)).toThrow(/Secret "rennes-customer-key" \(key "kek"\)/);
  });

  it('refuses an unknown key version', () => {
    expect(() => unwrapKey(wrapped, 'k9-20300101', KEK)).toThrow(/"k9-20300101" is not in the keyring/);
  });

  it('detects an altered wrapped key even when the fingerprint matches', () => {
    const material = Buffer.from(wrapped.keys[0]?.material ?? '', 'base64');
    material[3] = (material[3] ?? 0) ^ 1;
    const altered: Keyring = {
      ...wrapped,
      keys: [{ ...(wrapped.keys[0] as Keyring['keys'][0]), material: material.toString('base64') }],
    };
    expect(() => unwrapKey(altered, altered.current, KEK)).toThrow(/failed its integrity check/);
  });
});

describe('parseKeyring / serializeKeyring', () => {
  it('round-trips byte for byte, with a stable key order', () => {
    const k = ensureCurrent(newKeyring({ now: T0, randomBytes: counterRandom(), kek: kekRef }), {
      now: new Date(T0.getTime() + 100 * DAY),
      rotationDays: 90,
      randomBytes: counterRandom(5),
      kek: KEK,
    }).keyring;
    const text = serializeKeyring(k);
    expect(serializeKeyring(must(parseKeyring(text)))).toBe(text);
    // Shuffled property order in the input still serialises the same way.
    const shuffled = JSON.parse(text);
    const reordered = {
      keys: shuffled.keys,
      current: shuffled.current,
      wrapping: shuffled.wrapping,
      format: shuffled.format,
    };
    expect(serializeKeyring(must(parseKeyring(JSON.stringify(reordered))))).toBe(text);
    expect(Object.keys(JSON.parse(text))).toEqual(['format', 'wrapping', 'current', 'keys']);
  });

  const valid = () => JSON.parse(serializeKeyring(newKeyring({ now: T0, randomBytes: counterRandom() })));

  it.each([
    ['not JSON', () => '{', /not valid JSON/],
    ['wrong format', () => ({ ...valid(), format: 'territory-keyring/v2' }), /format/],
    ['unknown field', () => ({ ...valid(), extra: 1 }), /Unrecognized key/i],
    [
      'current not in keys',
      () => ({ ...valid(), current: 'k2-20261128' }),
      /current: no key version has id "k2-20261128"/,
    ],
    [
      'bad id',
      () => ({ ...valid(), current: 'x', keys: [{ ...valid().keys[0], id: 'x' }] }),
      /keys\.0\.id: must look like/,
    ],
    [
      'short material',
      () => ({ ...valid(), keys: [{ ...valid().keys[0], material: 'AAAA' }] }),
      /must decode to 32 bytes/,
    ],
    [
      'bad date',
      () => ({ ...valid(), keys: [{ ...valid().keys[0], createdAt: 'yesterday' }] }),
      /keys\.0\.createdAt/,
    ],
    [
      'duplicate id',
      () => ({ ...valid(), keys: [valid().keys[0], valid().keys[0]] }),
      /keys\.1\.id: duplicate id/,
    ],
    [
      'retired current',
      () => ({ ...valid(), keys: [{ ...valid().keys[0], retiredAt: '2026-12-01T00:00:00Z' }] }),
      /current key version must not be retired/,
    ],
    [
      'wrapped material not 40 bytes',
      () => ({
        ...valid(),
        wrapping: {
          algorithm: 'A256KW',
          secretName: 's',
          key: 'k',
          kekFingerprint: 'sha256:0011223344556677',
        },
      }),
      /must decode to 40 bytes/,
    ],
    [
      'bad fingerprint',
      () => ({
        ...valid(),
        wrapping: { algorithm: 'A256KW', secretName: 's', key: 'k', kekFingerprint: 'abc' },
      }),
      /kekFingerprint/,
    ],
  ])('refuses %s with a clear error', (_name, input, message) => {
    const raw = input();
    const r = parseKeyring(typeof raw === 'string' ? raw : JSON.stringify(raw));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(message);
      expect(r.error).not.toContain(valid().keys[0].material);
    }
  });
});

describe('ensureCurrent', () => {
  const base = newKeyring({ now: T0, randomBytes: counterRandom() });

  it('keeps a young key', () => {
    const r = ensureCurrent(base, {
      now: new Date(T0.getTime() + 89 * DAY),
      rotationDays: 90,
      randomBytes: counterRandom(9),
    });
    expect(r.rotated).toBe(false);
    expect(r.keyring).toBe(base);
  });

  it('rotates an old key: new current version, old one retired, untouched otherwise', () => {
    const now = new Date(T0.getTime() + 90 * DAY);
    const r = ensureCurrent(base, { now, rotationDays: 90, randomBytes: counterRandom(9) });
    expect(r.rotated).toBe(true);
    expect(r.keyring.current).toBe('k2-20270226');
    expect(r.keyring.keys[0]).toEqual({ ...base.keys[0], retiredAt: '2027-02-26T02:00:00Z' });
    expect(keyVersions(r.keyring)).toEqual([
      {
        id: 'k1-20261128',
        createdAt: '2026-11-28T02:00:00Z',
        retiredAt: '2027-02-26T02:00:00Z',
        current: false,
      },
      { id: 'k2-20270226', createdAt: '2027-02-26T02:00:00Z', current: true },
    ]);
    expect(nextRotation(r.keyring, 90).toISOString()).toBe('2027-05-27T02:00:00.000Z');
  });

  it('gives two rotations on the same day distinct ids', () => {
    const a = ensureCurrent(base, {
      now: new Date(T0.getTime() + DAY),
      rotationDays: 1,
      randomBytes: counterRandom(1),
    });
    const b = ensureCurrent(a.keyring, {
      now: new Date(T0.getTime() + 2 * DAY),
      rotationDays: 1,
      randomBytes: counterRandom(2),
    });
    expect(b.keyring.keys.map((v) => v.id)).toEqual(['k1-20261128', 'k2-20261129', 'k3-20261130']);
  });

  it('needs the matching customer key to rotate a wrapped keyring', () => {
    const wrapped = newKeyring({ now: T0, randomBytes: counterRandom(), kek: kekRef });
    const later = { now: new Date(T0.getTime() + 91 * DAY), rotationDays: 90, randomBytes: counterRandom(3) };
    expect(() => ensureCurrent(wrapped, later)).toThrow(KeyringError);
    expect(() => ensureCurrent(wrapped, { ...later, kek: Buffer.alloc(32, 1) })).toThrow(/does not match/);
    const r = ensureCurrent(wrapped, { ...later, kek: KEK });
    expect(unwrapKey(r.keyring, r.keyring.current, KEK)).toHaveLength(32);
  });

  it('refuses a non-positive rotation period', () => {
    expect(() => ensureCurrent(base, { now: T0, rotationDays: 0, randomBytes: counterRandom() })).toThrow(
      /rotationDays/,
    );
  });
});

describe('prune', () => {
  const rotated = ensureCurrent(newKeyring({ now: T0, randomBytes: counterRandom() }), {
    now: new Date(T0.getTime() + 90 * DAY),
    rotationDays: 90,
    randomBytes: counterRandom(9),
  }).keyring;
  const retiredAt = Date.parse('2027-02-26T02:00:00Z');

  /** A backup taken long after the rotation: the newest kept backup needs only the current key. */
  const newestBackupTakenAfter = new Date(retiredAt + 30 * DAY);

  it('keeps a retired key while backups it encrypted can still be within retention (plus grace)', () => {
    const r = prune(rotated, {
      now: new Date(retiredAt + 36 * DAY),
      retentionDays: 35,
      newestBackupTakenAfter,
    });
    expect(r.dropped).toEqual([]);
    expect(r.keyring).toBe(rotated);
  });

  it('drops it once retention and grace have passed and a newer backup exists', () => {
    const r = prune(rotated, {
      now: new Date(retiredAt + 36 * DAY + 1),
      retentionDays: 35,
      newestBackupTakenAfter,
    });
    expect(r.dropped).toEqual(['k1-20261128']);
    expect(r.keyring.keys.map((v) => v.id)).toEqual(['k2-20270226']);
    expect(
      prune(rotated, {
        now: new Date(retiredAt + 35 * DAY + 1),
        retentionDays: 35,
        graceDays: 0,
        newestBackupTakenAfter,
      }).dropped,
    ).toEqual(['k1-20261128']);
  });

  it('keeps it past retention while the newest backup (kept after a run of failures) may need it', () => {
    const now = new Date(retiredAt + 400 * DAY);
    // Every backup since the rotation failed: the newest in the bucket was taken with k1.
    const stale = new Date(retiredAt - 2 * DAY);
    expect(prune(rotated, { now, retentionDays: 35, newestBackupTakenAfter: stale }).dropped).toEqual([]);
    // Within the grace after the rotation, the backup may still have read the old keyring.
    const justAfter = new Date(retiredAt + DAY / 2);
    expect(prune(rotated, { now, retentionDays: 35, newestBackupTakenAfter: justAfter }).dropped).toEqual([]);
    // No success seen at all: a backup from before may be the newest, so nothing goes.
    expect(prune(rotated, { now, retentionDays: 35, newestBackupTakenAfter: undefined }).dropped).toEqual([]);
  });

  it('never drops the current key', () => {
    const r = prune(rotated, {
      now: new Date(retiredAt + 10_000 * DAY),
      retentionDays: 0,
      graceDays: 0,
      newestBackupTakenAfter: new Date(retiredAt + 9_000 * DAY),
    });
    expect(r.keyring.keys.map((v) => v.id)).toEqual([rotated.current]);
  });
});

describe('parseKek', () => {
  it('accepts raw, hex and base64 forms of 32 bytes and refuses anything else', () => {
    const raw = Buffer.from(counterRandom()(32));
    expect(must(parseKek(raw)).equals(raw)).toBe(true);
    expect(must(parseKek(Buffer.from(`${raw.toString('hex')}\n`))).equals(raw)).toBe(true);
    expect(must(parseKek(Buffer.from(raw.toString('base64')))).equals(raw)).toBe(true);
    expect(must(parseKek(Buffer.from(raw.toString('base64url')))).equals(raw)).toBe(true);
    const bad = parseKek(Buffer.from('too short'));
    expect(bad.ok).toBe(false);
  });

  it('refuses 32 printable characters (a password, not a key), saying how to make a real key', () => {
    for (const password of [
      'correct horse battery staple 123',
      'Rennes-Metropole-2026-Secret-Kek',
      `${'a'.repeat(31)}\n`,
    ]) {
      expect(Buffer.byteLength(password)).toBe(32);
      const r = parseKek(Buffer.from(password));
      expect(r.ok, password).toBe(false);
      if (r.ok) continue;
      expect(r.error).toContain('looks like a password');
      expect(r.error).toContain('openssl rand 32');
      expect(r.error).toContain('openssl rand -base64 32');
      expect(r.error).not.toContain(password.trim());
      // Written as hex or base64 text, it is still a password.
      expect(parseKek(Buffer.from(Buffer.from(password).toString('hex'))).ok).toBe(false);
      expect(parseKek(Buffer.from(Buffer.from(password).toString('base64'))).ok).toBe(false);
    }
  });

  it('refuses 32 bytes with too few distinct values (zeros, a repeated pattern), raw or as text', () => {
    for (const weak of [
      Buffer.alloc(32),
      Buffer.alloc(32, 7),
      Buffer.from('0123456789abcdef'.repeat(2), 'hex').subarray(0, 32),
    ]) {
      expect(parseKek(weak).ok).toBe(false);
      expect(parseKek(Buffer.from(Buffer.concat([weak, weak]).subarray(0, 32).toString('base64'))).ok).toBe(
        false,
      );
      expect(parseKek(Buffer.from(weak.toString('hex'))).ok).toBe(false);
    }
    // Random keys pass: 10,000 of them, in every accepted form.
    const random = counterRandom(99);
    for (let i = 0; i < 10_000; i++) expect(parseKek(random(32)).ok).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: random sequences of operations never alter an existing key version.

type Op =
  | { kind: 'advance'; days: number }
  | { kind: 'ensure'; rotationDays: number }
  | { kind: 'prune'; retentionDays: number }
  | { kind: 'reload' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('advance' as const), days: fc.integer({ min: 0, max: 200 }) }),
  fc.record({ kind: fc.constant('ensure' as const), rotationDays: fc.integer({ min: 1, max: 120 }) }),
  fc.record({ kind: fc.constant('prune' as const), retentionDays: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ kind: fc.constant('reload' as const) }),
);

describe('keyring properties', () => {
  for (const wrapped of [false, true]) {
    it(`never alters or resurrects a version, keeps the current one, prunes only expired (${wrapped ? 'wrapped' : 'plain'})`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 40 }), fc.integer({ min: 0, max: 1000 }), (ops, seed) => {
          let now = T0.getTime();
          const random = counterRandom(seed * 1000);
          const kek = wrapped ? KEK : undefined;
          let k = newKeyring({
            now: new Date(now),
            randomBytes: random,
            ...(wrapped ? { kek: kekRef } : {}),
          });
          // Everything ever created, with the raw key it stood for.
          const history = new Map<string, { createdAt: string; material: string; raw: string }>();
          const dropped = new Set<string>();
          const remember = () => {
            for (const v of k.keys) {
              const seen = history.get(v.id);
              const raw = unwrapKey(k, v.id, kek).toString('hex');
              if (seen === undefined) {
                expect(dropped.has(v.id)).toBe(false);
                history.set(v.id, { createdAt: v.createdAt, material: v.material, raw });
              } else {
                expect({ createdAt: v.createdAt, material: v.material, raw }).toEqual(seen);
              }
            }
          };
          remember();
          for (const op of ops) {
            const before = k;
            if (op.kind === 'advance') now += op.days * DAY;
            if (op.kind === 'ensure') {
              const r = ensureCurrent(k, {
                now: new Date(now),
                rotationDays: op.rotationDays,
                randomBytes: random,
                ...(kek ? { kek } : {}),
              });
              k = r.keyring;
              expect(r.keyring.keys.length).toBe(before.keys.length + (r.rotated ? 1 : 0));
            }
            if (op.kind === 'prune') {
              const r = prune(k, {
                now: new Date(now),
                retentionDays: op.retentionDays,
                newestBackupTakenAfter: new Date(now),
              });
              for (const id of r.dropped) {
                const v = before.keys.find((x) => x.id === id);
                expect(v?.retiredAt).toBeDefined();
                expect(Date.parse(v?.retiredAt ?? '') + (op.retentionDays + 1) * DAY).toBeLessThan(now);
                dropped.add(id);
              }
              k = r.keyring;
            }
            if (op.kind === 'reload') k = must(parseKeyring(serializeKeyring(k)));
            // The current key always survives and is the only unretired one.
            expect(k.keys.some((v) => v.id === k.current)).toBe(true);
            expect(k.keys.filter((v) => v.retiredAt === undefined).map((v) => v.id)).toEqual([k.current]);
            // Versions that were there either remain or were pruned; none vanish otherwise.
            for (const v of before.keys)
              expect(k.keys.some((x) => x.id === v.id) || dropped.has(v.id)).toBe(true);
            remember();
            expect(parseKeyring(serializeKeyring(k)).ok).toBe(true);
          }
        }),
        { numRuns: 200 },
      );
    });
  }
});
