// The chaos suite's world: Territories for real French authorities, and the authorities' own people
// creating the Secrets the platform asks of them (S3 credentials for backups, and for some, their
// own key-encryption key) as soon as their namespace appears, racing the operator as in real life.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { API_VERSION, KIND } from '../../../operator/src/api/territory.ts';
import { type KubeHttp, objectPath } from './kube-http.ts';

export const BACKUP_SECRET = 'backup-s3';
export const KEK_SECRET = 'authority-kek';
/** The endpoint and regions the chaos operator's configuration attests (Outscale, standard level). */
export const CHAOS_REGION = 'eu-west-2';
export const CHAOS_ENDPOINT = 'https://oos.eu-west-2.outscale.com';

export const CHAOS_OPERATOR_CONFIG = {
  cluster: {
    provider: 'outscale',
    regions: [CHAOS_REGION],
    qualification: 'standard',
    nodeEvidence: 'attestation-only',
  },
  // Where backups may go (a documentation range: nothing is sent during the chaos run).
  backupEgress: [{ host: new URL(CHAOS_ENDPOINT).hostname, cidrs: ['198.51.100.0/24'] }],
  // Short resync: lost events are made up for quickly, and the idle check below spans one.
  resyncSeconds: 30,
  concurrency: 8,
};

function officialCodes(file: string, keep: (record: Record<string, unknown>) => boolean): string[] {
  const path = createRequire(import.meta.url).resolve(`@etalab/decoupage-administratif/data/${file}`);
  return (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>[])
    .filter(keep)
    .map((r) => String(r.code));
}

/** A deterministic pseudo-random sequence (mulberry32): a run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorldTerritory {
  name: string;
  manifest: Record<string, unknown>;
  customerKey: boolean;
}

export class World {
  readonly #random: () => number;
  readonly #communes: string[];
  readonly #epcis: string[];
  readonly #departements: string[];
  readonly territories = new Map<string, WorldTerritory>();
  /** Every secret value the authorities handed over: never to be seen in logs, events, status, metrics. */
  readonly secretValues = new Set<string>();
  /** Customer keys handed over, by namespace (to unwrap keyrings when grepping for raw keys). */
  readonly keks = new Map<string, Buffer>();
  readonly #provisioned = new Set<string>();
  #counter = 0;
  readonly #prefix: string;

  constructor(seed: number, prefix = 'chaos') {
    this.#random = seededRandom(seed);
    this.#prefix = prefix;
    this.#communes = officialCodes('communes.json', (c) => c.type === 'commune-actuelle');
    this.#epcis = officialCodes('epci.json', () => true);
    this.#departements = officialCodes('departements.json', (d) => d.zone !== 'com');
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)] as T;
  }

  /** A new Territory (not yet created): mixed kinds, 1-3 purposes, a quarter with their own key. */
  next(): WorldTerritory {
    this.#counter++;
    const name = `${this.#prefix}-${String(this.#counter).padStart(4, '0')}`;
    const roll = this.#random();
    const authority =
      roll < 0.7
        ? { kind: 'commune', code: this.#pick(this.#communes) }
        : roll < 0.9
          ? { kind: 'epci', code: this.#pick(this.#epcis) }
          : { kind: 'departement', code: this.#pick(this.#departements) };
    const purposes = ['mobility', 'waste', 'water', 'schools', 'civil-status']
      .filter(() => this.#random() < 0.5)
      .slice(0, 3);
    if (purposes.length === 0) purposes.push('mobility');
    const customerKey = this.#random() < 0.25;
    const manifest = {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name, labels: { 'chaos.sovereign.dev/run': this.#prefix } },
      spec: {
        authority,
        controller: {
          contactEmail: `rgpd@${name}.example.fr`,
          dpo: { email: `dpo@${name}.example.fr` },
          purposes: purposes.map((p) => ({
            name: p,
            dataCategories: ['identity'],
            dataSubjects: ['residents'],
            retentionDays: 365,
          })),
        },
        hosting: { level: 'standard', regions: [CHAOS_REGION] },
        encryption: customerKey ? { customerKey: { secretName: KEK_SECRET } } : {},
        backup: {
          destination: {
            endpoint: CHAOS_ENDPOINT,
            bucket: `${name}-backups`,
            credentialsSecret: { name: BACKUP_SECRET },
          },
        },
        access: { adminGroups: [`${name}:admins`], readerGroups: [`${name}:auditors`] },
      },
    };
    const territory = { name, manifest, customerKey };
    this.territories.set(name, territory);
    return territory;
  }

  async create(kube: KubeHttp, t: WorldTerritory): Promise<void> {
    const answer = await kube.request(
      'POST',
      objectPath({ apiVersion: API_VERSION, kind: KIND }),
      t.manifest,
    );
    if (answer.status !== 201)
      throw new Error(`create Territory ${t.name}: ${answer.status} ${answer.text.slice(0, 300)}`);
  }

  /**
   * The authorities' side: for every Territory whose namespace exists, create its backup credentials
   * (and customer key) once. Returns how many namespaces were provisioned this call.
   */
  async provisionSecrets(kube: KubeHttp): Promise<number> {
    const pending = [...this.territories.values()].filter((t) => !this.#provisioned.has(t.name));
    if (pending.length === 0) return 0;
    const namespaces = await kube.list(
      `/api/v1/namespaces?labelSelector=${encodeURIComponent('app.kubernetes.io/managed-by=territory-operator')}`,
    );
    const existing = new Set(
      namespaces.items.filter((n) => !n.metadata.deletionTimestamp).map((n) => n.metadata.name),
    );
    let done = 0;
    for (const t of pending) {
      if (!existing.has(t.name)) continue;
      const secrets: Record<string, Record<string, string>> = {
        [BACKUP_SECRET]: {
          ACCESS_KEY_ID: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
          ACCESS_SECRET_KEY: randomBytes(30).toString('base64url'),
        },
      };
      if (t.customerKey) {
        const kek = randomBytes(32);
        this.keks.set(t.name, kek);
        secrets[KEK_SECRET] = { kek: kek.toString('base64') };
        this.secretValues.add(kek.toString('hex'));
      }
      for (const [name, data] of Object.entries(secrets)) {
        const body = {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name, namespace: t.name },
          // `data` (base64): the customer key is 32 raw bytes, not text.
          data: Object.fromEntries(
            Object.entries(data).map(([k, v]) => [k, k === 'kek' ? v : Buffer.from(v).toString('base64')]),
          ),
        };
        const answer = await kube.request(
          'POST',
          objectPath({ apiVersion: 'v1', kind: 'Secret', namespace: t.name }),
          body,
        );
        if (answer.status !== 201 && answer.status !== 409) {
          throw new Error(`create Secret ${t.name}/${name}: ${answer.status} ${answer.text.slice(0, 200)}`);
        }
        for (const [k, v] of Object.entries(data)) {
          if (k === 'ACCESS_KEY_ID') continue; // an identifier, not a secret
          this.secretValues.add(v);
        }
      }
      this.#provisioned.add(t.name);
      done++;
    }
    return done;
  }

  /** A spec edit an authority's platform team would make: more readers, another purpose, a bigger quota. */
  async edit(kube: KubeHttp, name: string): Promise<string> {
    const roll = this.#random();
    let patch: Record<string, unknown>;
    let what: string;
    if (roll < 0.4) {
      patch = {
        spec: { access: { readerGroups: [`${name}:auditors`, `${name}:dpo-office-${this.#counter}`] } },
      };
      what = 'reader groups';
    } else if (roll < 0.7) {
      patch = { spec: { quota: { profile: this.#pick(['small', 'medium', 'large']) } } };
      what = 'quota profile';
    } else {
      patch = { spec: { database: { instances: 1 + Math.floor(this.#random() * 3) } } };
      what = 'database instances';
    }
    const answer = await kube.request(
      'PATCH',
      objectPath({ apiVersion: API_VERSION, kind: KIND, name }),
      patch,
      'application/merge-patch+json',
    );
    if (answer.status !== 200)
      throw new Error(`edit Territory ${name}: ${answer.status} ${answer.text.slice(0, 200)}`);
    return what;
  }

  random(): number {
    return this.#random();
  }
}
