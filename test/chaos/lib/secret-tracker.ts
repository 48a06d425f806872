// Watches every Secret the operator owns (keyrings and database credentials) for the whole run and
// remembers the first content it saw of each: a keyring whose key ids or bytes ever change, or a
// password that changes (no rotation is due during a run), is data loss. It also collects every key
// and password it sees, for the final grep of logs, Events, status and metrics.
import { createHash } from 'node:crypto';
import { KEYRING_KEY, KEYRING_SECRET } from '../../../operator/src/builders/keys.ts';
import { type KeyringWrapping, unwrapKey } from '../../../operator/src/keys/keyring.ts';
import type { KubeHttp, KubeItem } from './kube-http.ts';

const SELECTOR = encodeURIComponent('app.kubernetes.io/managed-by=territory-operator');

interface Seen {
  digest: string;
  summary: string;
  firstSeenAt: number;
  changes: number;
}

export interface SecretChange {
  secret: string;
  before: string;
  after: string;
  at: string;
}

export interface KeyringState {
  current: string;
  ids: string[];
}

function decode(item: KubeItem, key: string): string | undefined {
  const value = (item.data as Record<string, string> | undefined)?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

export class SecretTracker {
  readonly #kube: KubeHttp;
  readonly #seen = new Map<string, Seen>();
  readonly changes: SecretChange[] = [];
  readonly deletions: string[] = [];
  /** Key material and passwords seen: base64 and hex of raw keys, passwords as they are. */
  readonly secretValues = new Set<string>();
  readonly keyrings = new Map<string, KeyringState>();
  /** Customer keys by namespace, to unwrap wrapped keyrings (raw keys must not leak either). */
  readonly #kekOf: (namespace: string) => Buffer | undefined;
  #watch: { stop(): void } | undefined;
  #stopped = false;
  relists = 0;
  events = 0;

  constructor(kube: KubeHttp, kekOf: (namespace: string) => Buffer | undefined = () => undefined) {
    this.#kube = kube;
    this.#kekOf = kekOf;
  }

  async start(): Promise<void> {
    await this.#listAndWatch();
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.stop();
  }

  async #listAndWatch(): Promise<void> {
    while (!this.#stopped) {
      try {
        const list = await this.#kube.list(`/api/v1/secrets?labelSelector=${SELECTOR}`);
        this.relists++;
        for (const item of list.items) this.observe(item);
        this.#watch = this.#kube.watch(
          `/api/v1/secrets?labelSelector=${SELECTOR}&resourceVersion=${list.resourceVersion}`,
          (type, object) => {
            this.events++;
            if (type === 'ADDED' || type === 'MODIFIED') this.observe(object);
            if (type === 'DELETED')
              this.deletions.push(`${object.metadata.namespace}/${object.metadata.name}`);
          },
          () => {
            // The API server restarted, or the watch expired (410): re-list, which also compares.
            if (!this.#stopped) setTimeout(() => void this.#listAndWatch(), 500);
          },
        );
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  /** Records a Secret's content; a keyring or password that differs from the first one seen is a change. */
  observe(item: KubeItem): void {
    const key = `${item.metadata.namespace}/${item.metadata.name}`;
    let summary: string;
    let digestSource: string;
    // The stored form too: base64 of the whole keyring JSON or password.
    for (const [field, stored] of Object.entries((item.data as Record<string, string> | undefined) ?? {})) {
      if (field === 'password' || field === KEYRING_KEY) this.secretValues.add(stored);
    }
    if (item.metadata.name === KEYRING_SECRET) {
      const text = decode(item, KEYRING_KEY) ?? '';
      let parsed: {
        current?: string;
        keys?: { id: string; material: string }[];
        wrapping?: KeyringWrapping;
      } = {};
      try {
        parsed = JSON.parse(text);
      } catch {
        // an unparsable keyring is a change in itself: its digest differs
      }
      const keys = parsed.keys ?? [];
      this.keyrings.set(item.metadata.namespace ?? '', {
        current: parsed.current ?? '',
        ids: keys.map((k) => k.id),
      });
      for (const k of keys) this.#addKeyMaterial(item.metadata.namespace ?? '', parsed, k);
      // Key ids and bytes: what must never change (rotation only ADDS a version, none is due here).
      digestSource = JSON.stringify(keys.map((k) => [k.id, k.material]));
      summary = `keys ${keys.map((k) => k.id).join(',')}`;
    } else {
      const password = decode(item, 'password');
      if (password === undefined) return; // not a credential Secret
      this.secretValues.add(password);
      digestSource = password;
      summary = `password of ${decode(item, 'username')}`;
    }
    const digest = createHash('sha256').update(digestSource).digest('hex').slice(0, 16);
    const seen = this.#seen.get(key);
    if (!seen) {
      this.#seen.set(key, { digest, summary, firstSeenAt: Date.now(), changes: 0 });
      return;
    }
    if (seen.digest !== digest) {
      seen.changes++;
      this.changes.push({ secret: key, before: seen.summary, after: summary, at: new Date().toISOString() });
    }
  }

  #addKeyMaterial(
    namespace: string,
    keyring: { current?: string; keys?: { id: string; material: string }[]; wrapping?: KeyringWrapping },
    k: { id: string; material: string },
  ): void {
    const bytes = Buffer.from(k.material, 'base64');
    this.secretValues.add(k.material);
    this.secretValues.add(bytes.toString('hex'));
    this.secretValues.add(bytes.toString('base64url'));
    const kek = this.#kekOf(namespace);
    if (keyring.wrapping && keyring.wrapping.algorithm !== 'none' && kek) {
      try {
        const raw = unwrapKey(keyring as Parameters<typeof unwrapKey>[0], k.id, kek);
        this.secretValues.add(raw.toString('base64'));
        this.secretValues.add(raw.toString('hex'));
      } catch {
        // a wrong customer key: the operator reports it; nothing to add
      }
    }
  }

  tracked(): number {
    return this.#seen.size;
  }

  keyringCount(): number {
    return [...this.#seen.keys()].filter((k) => k.endsWith(`/${KEYRING_SECRET}`)).length;
  }
}
