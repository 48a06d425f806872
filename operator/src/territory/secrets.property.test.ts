// Property tests of what must persist: a keyring and the database passwords live through random
// sequences of reconciles (time jumps, customer key right or wrong, the Secret vanishing, rotation and
// retention settings at their bounds), each plan's write applied to a simulated store as the API server
// would. Whatever happens: a key version, once it exists, keeps its bytes until it is past retention;
// nothing is ever silently regenerated; no key material (raw or wrapped, the step's new keys included,
// in any encoding) reaches status, outcome or Event text.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesNeedle, leaksIn, type Needle } from '../../../test/support/secret-forms.ts';
import { selectExpired } from '../backup/naming.ts';
import { context, territory } from '../builders/fixtures.test-helpers.ts';
import { KEYRING_KEY, ROTATED_AT } from '../builders/keys.ts';
import { type Keyring, parseKeyring, unwrapKey } from '../keys/keyring.ts';
import type { KubeObject } from '../runtime/types.ts';
import { type KeyringPlan, planCredentials, planKeyring, type SecretWrite } from './secrets.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** What the API server stores for a write: data from stringData, a new resourceVersion. */
function store(write: SecretWrite, version: number): KubeObject {
  const o = write.object as KubeObject & {
    stringData?: Record<string, string>;
    data?: Record<string, string>;
  };
  const { stringData, ...rest } = o;
  const data =
    o.data ??
    Object.fromEntries(
      Object.entries(stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
  return { ...rest, data, metadata: { ...o.metadata, resourceVersion: String(version) } } as KubeObject;
}

function keyringOf(secret: KubeObject): Keyring {
  const text = Buffer.from((secret.data as Record<string, string>)[KEYRING_KEY] ?? '', 'base64').toString(
    'utf8',
  );
  const parsed = parseKeyring(JSON.parse(text));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

type Step =
  | { kind: 'reconcile'; advanceDays: number }
  | { kind: 'wrong-kek'; advanceDays: number }
  | { kind: 'secret-lost' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('reconcile' as const),
      advanceDays: fc.integer({ min: 0, max: 400 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('wrong-kek' as const),
      advanceDays: fc.integer({ min: 0, max: 400 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('secret-lost' as const) }) },
);

describe('keyring through random reconcile histories (property)', () => {
  it('never changes or drops a key before its retention ends, never regenerates, never leaks material', () => {
    const RUNS = 200;
    // Refusals the histories must reach, so their checks do run: a lost keyring, a wrong customer key.
    let lostRefused = 0;
    let wrongKekRefused = 0;
    fc.assert(
      fc.property(
        fc.record({
          rotationDays: fc.integer({ min: 1, max: 3650 }),
          retentionDays: fc.integer({ min: 1, max: 3650 }),
          wrapped: fc.boolean(),
          steps: fc.array(stepArb, { minLength: 1, maxLength: 25 }),
        }),
        ({ rotationDays, retentionDays, wrapped, steps }) => {
          const t = territory({
            spec: {
              hosting: { level: 'standard' },
              encryption: { rotationDays },
              backup: {
                retentionDays,
                destination: {
                  endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
                  bucket: 'rennes-backups',
                  credentialsSecret: { name: 'backup-credentials' },
                },
              },
            },
          });
          const ctx = context(t);
          const kek = wrapped ? { secretName: 'kek', key: 'kek', material: randomBytes(32) } : undefined;
          let now = T0;
          let live: KubeObject | undefined;
          let version = 1;
          let issued: string[] = [];
          let previous: Keyring | undefined;
          /** Every version ever seen: id -> material and when it was retired. */
          const seen = new Map<string, { material: string; createdAt: string }>();
          /** What must never be printed: every key in every encoding, raw and wrapped, and the customer keys. */
          const secrets: Needle[] = kek ? [bytesNeedle('customer key', kek.material)] : [];
          /** Every random byte string the plans drew (the raw data keys, at the source). */
          const drawn: Buffer[] = [];
          const recordingRandomBytes = (size: number) => {
            const bytes = randomBytes(size);
            drawn.push(Buffer.from(bytes));
            secrets.push(bytesNeedle(`random bytes #${drawn.length} (a raw data key)`, bytes));
            return bytes;
          };
          /** After a step: what it printed, checked against every secret known, its own new keys included. */
          const expectNoLeak = (plan: KeyringPlan, step: string) => {
            const text = JSON.stringify([plan.outcome, plan.status, plan.created, plan.dropped]);
            expect(leaksIn(text, secrets), `${step}: key material in the outcome or status`).toEqual([]);
          };

          for (const [index, step] of steps.entries()) {
            const label = `step ${index} (${step.kind})`;
            if (step.kind === 'secret-lost') {
              // The Secret is deleted behind the operator's back, after keys were issued.
              const plan = planKeyring({
                ctx,
                live: undefined,
                issued,
                kek,
                now: new Date(now),
                randomBytes: recordingRandomBytes,
              });
              if (issued.length > 0) {
                expect(plan.write, 'a lost keyring is never silently recreated').toBeUndefined();
                expect(plan.outcome.reason).toBe('KeyringLost');
                lostRefused += 1;
              }
              expectNoLeak(plan, label);
              continue;
            }
            now += step.advanceDays * DAY;
            // A different key only once a keyring exists: before that, the key given IS the authority's.
            const usedKek =
              step.kind === 'wrong-kek' && kek && live ? { ...kek, material: randomBytes(32) } : kek;
            if (usedKek && usedKek !== kek) secrets.push(bytesNeedle('wrong customer key', usedKek.material));
            const plan = planKeyring({
              ctx,
              live,
              issued,
              kek: usedKek,
              now: new Date(now),
              randomBytes: recordingRandomBytes,
            });
            if (step.kind === 'wrong-kek' && kek && live) {
              expect(plan.write, 'a wrong customer key writes nothing').toBeUndefined();
              expect(plan.outcome).toMatchObject({ status: 'False', reason: 'CustomerKeyMismatch' });
              wrongKekRefused += 1;
              expectNoLeak(plan, label);
              continue;
            }
            if (plan.write) {
              if (live) {
                expect(plan.write.op).toBe('replace');
                expect(plan.write).toMatchObject({ resourceVersion: live.metadata.resourceVersion });
              } else expect(plan.write.op).toBe('create');
              live = store(plan.write, ++version);
            }
            if (!live) {
              expectNoLeak(plan, label);
              continue;
            }
            const keyring = keyringOf(live);
            expect(plan.created.length).toBeLessThanOrEqual(1);
            expect(keyring.keys.some((k) => k.id === keyring.current)).toBe(true);
            for (const k of keyring.keys) {
              const before = seen.get(k.id);
              if (before) expect(k, `key ${k.id} kept byte for byte`).toMatchObject(before);
              else {
                seen.set(k.id, { material: k.material, createdAt: k.createdAt });
                // The material as stored (wrapped when a customer key is set) and the raw data key.
                secrets.push(bytesNeedle(`key ${k.id} as stored`, Buffer.from(k.material, 'base64')));
                const raw = unwrapKey(keyring, k.id, kek?.material);
                secrets.push(bytesNeedle(`key ${k.id} raw`, raw));
                // A key created by this plan is one the plan drew: the drawn bytes are the raw keys.
                if (plan.created.includes(k.id))
                  expect(
                    drawn.some((d) => d.equals(raw)),
                    `raw key ${k.id} was drawn by the plan`,
                  ).toBe(true);
              }
            }
            // Checked only now: the keys this step created are among the secrets looked for.
            expectNoLeak(plan, label);
            // A version leaves only after its retention: backups it protected are all expired.
            for (const id of plan.dropped) {
              const was = previous?.keys.find((k) => k.id === id);
              expect(was?.retiredAt, `dropped ${id} had been retired`).toBeDefined();
              const retiredFor = now - Date.parse(was?.retiredAt ?? '');
              expect(retiredFor, `${id} dropped before its retention ended`).toBeGreaterThanOrEqual(
                retentionDays * DAY,
              );
            }
            for (const id of issued) {
              if (keyring.keys.some((k) => k.id === id)) continue;
              expect(plan.dropped, `${id} vanished without being dropped by retention`).toContain(id);
            }
            issued = keyring.keys.map((k) => k.id);
            previous = keyring;
          }
        },
      ),
      { numRuns: RUNS },
    );
    // Each is reached some 60 to 120 times in 200 histories; far fewer means their checks stopped running.
    expect(lostRefused, 'lost keyrings refused').toBeGreaterThanOrEqual(RUNS / 10);
    expect(wrongKekRefused, 'wrong customer keys refused').toBeGreaterThanOrEqual(RUNS / 10);
  });
});

describe('database passwords through random reconcile histories (property)', () => {
  it('change only when their rotation is due, and are never sent again when unchanged', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3650 }),
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 20 }),
        (rotationDays, advances) => {
          const ctx = context();
          const secrets = new Map<string, KubeObject>();
          let now = T0;
          let version = 1;
          for (const days of advances) {
            now += days * DAY;
            const before = new Map(secrets);
            const plan = planCredentials({
              ctx,
              live: (n) => secrets.get(n),
              now: new Date(now),
              rotationDays,
              randomBytes,
            });
            for (const w of plan.writes) secrets.set(w.object.metadata?.name as string, store(w, ++version));
            for (const [name, old] of before) {
              const rotatedAt = Date.parse(old.metadata.annotations?.[ROTATED_AT] ?? '');
              const due = rotatedAt + rotationDays * DAY <= now;
              const changed =
                (secrets.get(name)?.data as Record<string, string> | undefined)?.password !==
                (old.data as Record<string, string>).password;
              expect(changed, `${name}: due ${due}`).toBe(due);
            }
            // Unchanged Secrets are not written at all (steady state costs nothing).
            const written = new Set(plan.writes.map((w) => w.object.metadata?.name));
            for (const [name, old] of before) {
              const rotatedAt = Date.parse(old.metadata.annotations?.[ROTATED_AT] ?? '');
              if (rotatedAt + rotationDays * DAY > now) expect(written.has(name), name).toBe(false);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

type BackupRun = { advanceHours: number; outcome: 'succeeded' | 'failed'; readKeyringBefore: boolean };

/** Runs of backups, some long runs of failures among them (a store down for months). */
const backupRunArb: fc.Arbitrary<BackupRun> = fc.record({
  advanceHours: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 48 }) },
    { weight: 1, arbitrary: fc.integer({ min: 48, max: 24 * 400 }) },
  ),
  outcome: fc.oneof(
    { weight: 3, arbitrary: fc.constant('succeeded' as const) },
    { weight: 2, arbitrary: fc.constant('failed' as const) },
  ),
  // The job read the keyring just before this step's rotation landed.
  readKeyringBefore: fc.boolean(),
});

describe('key retention against the backups actually kept (property)', () => {
  it('never drops a key version that a kept backup needs, even after a run of failures', () => {
    const RUNS = 300;
    let dropped = 0;
    let keptPastRetention = 0;
    fc.assert(
      fc.property(
        fc.record({
          rotationDays: fc.integer({ min: 1, max: 120 }),
          retentionDays: fc.integer({ min: 1, max: 60 }),
          runs: fc.array(backupRunArb, { minLength: 1, maxLength: 60 }),
        }),
        ({ rotationDays, retentionDays, runs }) => {
          const ctx = context(
            territory({
              spec: {
                encryption: { rotationDays },
                backup: {
                  retentionDays,
                  destination: {
                    endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
                    bucket: 'rennes-backups',
                    credentialsSecret: { name: 'backup-credentials' },
                  },
                },
              },
            }),
          );
          let now = T0;
          let live: KubeObject | undefined;
          let version = 1;
          /** The backup CronJob's lastSuccessfulTime. */
          let lastSucceeded: string | undefined;
          /** The bucket: each backup with the key version that encrypted it (its object metadata). */
          let bucket: { key: string; takenAt: Date; keyId: string }[] = [];
          const keptNeedKeys = (keyring: Keyring, at: number, label: string) => {
            const expired = new Set(selectExpired(bucket, { now: new Date(at), retentionDays }));
            for (const b of bucket.filter((x) => !expired.has(x))) {
              if (b.takenAt.getTime() + retentionDays * DAY < at) keptPastRetention += 1;
              expect(
                keyring.keys.map((k) => k.id),
                `${label}: the kept backup of ${b.takenAt.toISOString()} needs ${b.keyId}`,
              ).toContain(b.keyId);
            }
          };
          for (const [index, run] of runs.entries()) {
            now += run.advanceHours * 3_600_000;
            const before = live ? keyringOf(live) : undefined;
            const plan = planKeyring({
              ctx,
              live,
              issued: before?.keys.map((k) => k.id) ?? [],
              lastBackupSucceededAt: lastSucceeded,
              kek: undefined,
              now: new Date(now),
              randomBytes,
            });
            if (plan.write) live = store(plan.write, ++version);
            if (!live) throw new Error('the first plan creates the keyring');
            dropped += plan.dropped.length;
            const keyring = keyringOf(live);
            keptNeedKeys(keyring, now, `step ${index}, after the key plan`);
            if (run.outcome === 'failed') continue;
            // A backup job: it encrypts with the keyring it read at start, uploads, then deletes what
            // retention lets go (the newest always kept), and completes within its deadline.
            const used = run.readKeyringBefore && before ? before : keyring;
            const takenAt = new Date(now);
            bucket.push({ key: `b${index}`, takenAt, keyId: used.current });
            const completed = now + (index % 7) * 3_600_000;
            const expired = new Set(selectExpired(bucket, { now: new Date(completed), retentionDays }));
            bucket = bucket.filter((b) => !expired.has(b));
            lastSucceeded = new Date(completed).toISOString();
          }
        },
      ),
      { numRuns: RUNS },
    );
    // Both sides ran: versions were dropped, and backups were kept past retention (so they mattered).
    expect(dropped, 'key versions dropped').toBeGreaterThanOrEqual(RUNS / 10);
    expect(keptPastRetention, 'backups kept past retention').toBeGreaterThanOrEqual(RUNS / 10);
  });
});
