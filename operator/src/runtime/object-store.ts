import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { KubeObject, ObjectKey } from './types.ts';

// How an informer keeps its objects: deflated JSON, not live JavaScript objects. A cached Kubernetes
// object costs about twice its JSON size as a JS object graph; 5,000 Territories own 80,000 objects, so
// plain caching alone would use ~350 MB. Objects of one kind differ mostly by names, uids and times, so
// deflate with a dictionary taken from the first object stored shrinks each to a fraction of its JSON.
// The price is CPU on read (tens of microseconds per object), which a reconcile pays for the few
// objects of one namespace. `get` returns a fresh copy each time: callers may mutate it freely.
// The resourceVersion is kept beside the deflated rest, so two versions of an object with the same
// content deflate to the same bytes (deflate is deterministic): `holds` compares without decoding.

/** An object as the store keeps it. */
export interface Encoded {
  /** Kept readable: re-lists compare versions without decoding. */
  resourceVersion: string | undefined;
  /** Deflated JSON of everything else, as a one-byte string: far less overhead than a Buffer. */
  data: string;
}

/** zlib uses at most the last 32 KiB of a dictionary. */
const MAX_DICTIONARY = 32 * 1024;

export class CompactObjectStore<T extends KubeObject = KubeObject> {
  readonly #entries = new Map<ObjectKey, Encoded>();
  #dictionary: Buffer | undefined;

  get size(): number {
    return this.#entries.size;
  }

  has(key: ObjectKey): boolean {
    return this.#entries.has(key);
  }

  keys(): IterableIterator<ObjectKey> {
    return this.#entries.keys();
  }

  /** Bytes one entry takes once deflated (diagnostics and tests). */
  encodedSize(key: ObjectKey): number | undefined {
    return this.#entries.get(key)?.data.length;
  }

  resourceVersion(key: ObjectKey): string | undefined {
    return this.#entries.get(key)?.resourceVersion;
  }

  get(key: ObjectKey): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const json = inflateRawSync(Buffer.from(entry.data, 'latin1'), this.#options());
    const object = JSON.parse(json.toString('utf8')) as T;
    if (entry.resourceVersion !== undefined) object.metadata.resourceVersion = entry.resourceVersion;
    return object;
  }

  encode(object: T): Encoded {
    const rest = { ...object, metadata: { ...object.metadata, resourceVersion: undefined } };
    const json = Buffer.from(JSON.stringify(rest), 'utf8');
    // The first object of the kind becomes the dictionary for every later one (and itself).
    this.#dictionary ??= json.subarray(Math.max(0, json.length - MAX_DICTIONARY));
    return {
      resourceVersion: object.metadata.resourceVersion,
      data: deflateRawSync(json, this.#options()).toString('latin1'),
    };
  }

  /** Whether `key` holds this content, resourceVersion aside. */
  holds(key: ObjectKey, encoded: Encoded): boolean {
    return this.#entries.get(key)?.data === encoded.data;
  }

  put(key: ObjectKey, encoded: Encoded): void {
    this.#entries.set(key, encoded);
  }

  set(key: ObjectKey, object: T): void {
    this.put(key, this.encode(object));
  }

  delete(key: ObjectKey): boolean {
    return this.#entries.delete(key);
  }

  #options() {
    return this.#dictionary ? { dictionary: this.#dictionary } : {};
  }
}
