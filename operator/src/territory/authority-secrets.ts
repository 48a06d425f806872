// The Secrets the authority itself provides (its customer key, its backup bucket's credentials). The
// operator does not own them and does not cache their content: it watches their METADATA cluster-wide
// (so creating or rotating one wakes its Territory at once) and reads one by GET only when its
// resourceVersion changed since the last read. What the reconciler keeps is the verdict it drew from
// the content (keys present or not, the customer key parsed), keyed by that resourceVersion: a steady
// state makes no read, and a missing Secret costs no request at all. One small entry per Secret read.
import type { KubeObject, ObjectCache } from '../runtime/types.ts';
import type { DirectKube } from './ports.ts';

interface Memo {
  resourceVersion: string;
  verdict: unknown;
}

export class AuthoritySecrets {
  readonly #kube: DirectKube;
  readonly #metadata: () => ObjectCache | undefined;
  readonly #memo = new Map<string, Memo>();

  /** `metadata`: the metadata-only cache of every Secret (undefined or unsynced: always GET). */
  constructor(kube: DirectKube, metadata: () => ObjectCache | undefined) {
    this.#kube = kube;
    this.#metadata = metadata;
  }

  /**
   * `judge(secret)` turns the Secret (undefined when absent) into what the reconciler needs. It runs
   * again only when the Secret changed; `purpose` keeps verdicts of different judges apart.
   */
  async judge<T>(
    purpose: string,
    namespace: string,
    name: string,
    judge: (secret: KubeObject | undefined) => T,
  ): Promise<T> {
    const key = `${purpose}\u0000${namespace}/${name}`;
    const cache = this.#metadata();
    if (cache?.hasSynced()) {
      const meta = cache.get(`${namespace}/${name}`);
      if (!meta) {
        this.#memo.delete(key);
        return judge(undefined);
      }
      const version = meta.metadata.resourceVersion ?? '';
      const memo = this.#memo.get(key);
      if (memo && memo.resourceVersion === version) return memo.verdict as T;
      const secret = await this.#kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name });
      const verdict = judge(secret);
      // Keyed by the version actually read: if it moved on meanwhile, the next event reads again.
      if (secret?.metadata.resourceVersion) {
        this.#memo.set(key, { resourceVersion: secret.metadata.resourceVersion, verdict });
      }
      return verdict;
    }
    return judge(await this.#kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name }));
  }
}
