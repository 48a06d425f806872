// Streams the records of a large JSON array (the official geography files) and hands over only the
// fields asked for, without ever holding the whole text or the parsed records: JSON.parse of the
// 8.6 MB communes file raised the operator's peak RSS by ~75 MB, and even JSON.parse one record at
// a time made every field of every record, ~25 MB of peak RSS. Here a byte scanner notes where the
// wanted values are, and a value becomes a string only if the caller asks for one.
//
// It trusts its input (files shipped in an npm package) and does not validate it as JSON.parse
// would: it only tracks strings, nesting, keys and values.

import { closeSync, openSync, readSync } from 'node:fs';

/** Reads up to `length` bytes into `buffer` at `offset`; returns how many were read, 0 at the end. */
export type ReadChunk = (buffer: Buffer, offset: number, length: number) => number;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

const NONE = 0;
const STRING = 1;
/** A string holding backslash escapes: decoded by JSON.parse rather than as plain UTF-8. */
const ESCAPED = 2;
/** A number, true, false or null. */
const SCALAR = 3;

type Key = { name: string; bytes: Buffer; id: number };

/**
 * Which keys are wanted. `code` is a key of the record; `membres.code` is the key `code` of every
 * object in the array under the record's key `membres`.
 */
class Plan {
  /** Keys of a record: the top-level fields, then the arrays holding nested fields. */
  readonly recordKeys: Key[] = [];
  readonly topIds = new Map<string, number>();
  /** Per holder array (by holder index), the keys of its objects. */
  readonly nestedKeys: Key[][] = [];
  readonly nestedIds = new Map<string, number>();
  readonly topCount: number;

  constructor(fields: readonly string[]) {
    const holders = new Map<string, string[]>();
    for (const field of fields) {
      const dot = field.indexOf('.');
      if (dot < 0) {
        if (!this.topIds.has(field)) this.topIds.set(field, this.topIds.size);
        continue;
      }
      const holder = field.slice(0, dot);
      const subfields = holders.get(holder) ?? [];
      subfields.push(field.slice(dot + 1));
      holders.set(holder, subfields);
    }
    this.topCount = this.topIds.size;
    for (const [name, id] of this.topIds) this.recordKeys.push(key(name, id));
    for (const [holder, subfields] of holders) {
      if (this.topIds.has(holder)) throw new Error(`${holder} is asked both as a value and as an array`);
      this.recordKeys.push(key(holder, this.topCount + this.nestedKeys.length));
      const keys: Key[] = [];
      for (const subfield of subfields) {
        const path = `${holder}.${subfield}`;
        if (this.nestedIds.has(path)) continue;
        this.nestedIds.set(path, this.nestedIds.size);
        keys.push(key(subfield, this.nestedIds.size - 1));
      }
      this.nestedKeys.push(keys);
    }
  }
}

function key(name: string, id: number): Key {
  return { name, bytes: Buffer.from(name, 'utf8'), id };
}

/**
 * The current record, valid only during the `onRecord` call: it points into a buffer that the
 * next chunk overwrites. Fields must have been asked for by name when scanning began.
 */
export type RecordView = Pick<
  RecordFields,
  'string' | 'number' | 'is' | 'byteLength' | 'copyString' | 'eachString' | 'strings'
>;

/** Where the wanted values of the current record are, as file positions. */
class RecordFields {
  readonly #plan: Plan;
  #buffer: Buffer = Buffer.alloc(0);
  /** File position of #buffer[0]: positions below are absolute, so moving the buffer moves nothing. */
  #base = 0;
  readonly #starts: number[];
  readonly #ends: number[];
  readonly #kinds: number[];
  /**
   * Per nested field, (start, end, kind) triples, one per occurrence, and how many numbers of the
   * list are this record's: the lists are reused, not emptied, so they do not grow again each time.
   */
  readonly #nested: number[][];
  readonly #nestedLengths: number[];
  readonly #literals = new Map<string, Buffer>();

  constructor(plan: Plan) {
    this.#plan = plan;
    this.#starts = new Array<number>(plan.topCount).fill(0);
    this.#ends = new Array<number>(plan.topCount).fill(0);
    this.#kinds = new Array<number>(plan.topCount).fill(NONE);
    this.#nested = Array.from({ length: plan.nestedIds.size }, () => []);
    this.#nestedLengths = new Array<number>(plan.nestedIds.size).fill(0);
  }

  /** The field's value if it is a string, else undefined. */
  string(field: string): string | undefined {
    const id = this.#topId(field);
    return this.#decode(this.#starts[id] ?? 0, this.#ends[id] ?? 0, this.#kinds[id] ?? NONE);
  }

  /** The field's value if it is a number, else undefined. */
  number(field: string): number | undefined {
    const id = this.#topId(field);
    if (this.#kinds[id] !== SCALAR) return undefined;
    return this.#number((this.#starts[id] ?? 0) - this.#base, (this.#ends[id] ?? 0) - this.#base);
  }

  /** Whether the field is the string `value`, compared as bytes: no string is made per record. */
  is(field: string, value: string): boolean {
    const id = this.#topId(field);
    const kind = this.#kinds[id];
    if (kind === ESCAPED) return this.string(field) === value;
    if (kind !== STRING) return false;
    let bytes = this.#literals.get(value);
    if (bytes === undefined) {
      bytes = Buffer.from(value, 'utf8');
      this.#literals.set(value, bytes);
    }
    const start = (this.#starts[id] ?? 0) - this.#base;
    return sameBytes(this.#buffer, start, (this.#ends[id] ?? 0) - this.#base, bytes, 0, bytes.length);
  }

  /**
   * The UTF-8 byte length of the field's value as written in the file if it is a string, else -1:
   * an upper bound of what copyString writes, since an escape never decodes to more bytes.
   */
  byteLength(field: string): number {
    const id = this.#topId(field);
    const kind = this.#kinds[id];
    return kind === STRING || kind === ESCAPED ? (this.#ends[id] ?? 0) - (this.#starts[id] ?? 0) : -1;
  }

  /**
   * Writes the field's string value as UTF-8 into `target` at `offset` without making a string;
   * returns the bytes written, or -1 if the value is not a string.
   */
  copyString(field: string, target: Buffer, offset: number): number {
    const id = this.#topId(field);
    const kind = this.#kinds[id];
    if (kind === ESCAPED) return target.write(this.string(field) ?? '', offset, 'utf8');
    if (kind !== STRING) return -1;
    return this.#buffer.copy(
      target,
      offset,
      (this.#starts[id] ?? 0) - this.#base,
      (this.#ends[id] ?? 0) - this.#base,
    );
  }

  /**
   * Calls `visit` with the UTF-8 bytes of every string value of a nested field (`membres.code`),
   * in order, without making strings.
   */
  eachString(path: string, visit: (bytes: Buffer, start: number, end: number) => void): void {
    const id = this.#nestedId(path);
    const occurrences = this.#nested[id] ?? [];
    for (let at = 0; at < (this.#nestedLengths[id] ?? 0); at += 3) {
      const start = (occurrences[at] ?? 0) - this.#base;
      const end = (occurrences[at + 1] ?? 0) - this.#base;
      const kind = occurrences[at + 2];
      if (kind === STRING) visit(this.#buffer, start, end);
      else if (kind === ESCAPED) {
        const decoded = Buffer.from(JSON.parse(this.#buffer.toString('utf8', start - 1, end + 1)) as string);
        visit(decoded, 0, decoded.length);
      }
    }
  }

  /** Every string value of a nested field (`membres.code`), in order. */
  strings(path: string): string[] {
    const id = this.#nestedId(path);
    const occurrences = this.#nested[id] ?? [];
    const values: string[] = [];
    for (let at = 0; at < (this.#nestedLengths[id] ?? 0); at += 3) {
      const value = this.#decode(occurrences[at] ?? 0, occurrences[at + 1] ?? 0, occurrences[at + 2] ?? NONE);
      if (value !== undefined) values.push(value);
    }
    return values;
  }

  // The rest is for the Scanner.

  reset(): void {
    this.#kinds.fill(NONE);
    this.#nestedLengths.fill(0);
  }

  bind(buffer: Buffer, base: number): void {
    this.#buffer = buffer;
    this.#base = base;
  }

  setTop(id: number, start: number, end: number, kind: number): void {
    this.#starts[id] = start;
    this.#ends[id] = end;
    this.#kinds[id] = kind;
  }

  pushNested(id: number, start: number, end: number, kind: number): void {
    const occurrences = this.#nested[id];
    if (occurrences === undefined) return;
    const at = this.#nestedLengths[id] ?? 0;
    occurrences[at] = start;
    occurrences[at + 1] = end;
    occurrences[at + 2] = kind;
    this.#nestedLengths[id] = at + 3;
  }

  #nestedId(path: string): number {
    const id = this.#plan.nestedIds.get(path);
    if (id === undefined) throw new Error(`${path} was not asked for`);
    return id;
  }

  #topId(field: string): number {
    const id = this.#plan.topIds.get(field);
    if (id === undefined) throw new Error(`${field} was not asked for`);
    return id;
  }

  #decode(start: number, end: number, kind: number): string | undefined {
    const from = start - this.#base;
    const to = end - this.#base;
    if (kind === STRING) return this.#buffer.toString('utf8', from, to);
    // The quotes around the value are still in the buffer: JSON.parse decodes the escapes.
    if (kind === ESCAPED) return JSON.parse(this.#buffer.toString('utf8', from - 1, to + 1)) as string;
    return undefined;
  }

  #number(from: number, to: number): number | undefined {
    const buffer = this.#buffer;
    // Integers of up to 15 digits (populations) are read without making a string; they are exact.
    let value = 0;
    let at = from;
    const negative = buffer[at] === 0x2d;
    if (negative) at++;
    if (at < to && to - at <= 15) {
      for (; at < to; at++) {
        const digit = (buffer[at] ?? 0) - 0x30;
        if (digit < 0 || digit > 9) break;
        value = value * 10 + digit;
      }
      if (at === to) return negative ? -value : value;
    }
    const text = buffer.toString('latin1', from, to);
    if (text === 'true' || text === 'false' || text === 'null') return undefined;
    return Number(text);
  }
}

/**
 * Calls `onRecord` for each object in the top-level array that `read` yields, with the `fields`
 * located (see Plan); other elements are skipped. Memory stays at the largest record plus
 * `chunkBytes`, and whatever the caller keeps.
 */
export function scanRecords(
  read: ReadChunk,
  fields: readonly string[],
  onRecord: (record: RecordView) => void,
  chunkBytes = 64 * 1024,
): void {
  const scanner = new Scanner(new Plan(fields), onRecord);
  let buffer = Buffer.allocUnsafe(Math.max(1, chunkBytes));
  let base = 0;
  let filled = 0;
  for (;;) {
    // Keep only the unfinished record, moved to the front; grow when one record fills the buffer.
    const keep = scanner.recordStart >= 0 ? scanner.recordStart - base : filled;
    if (keep > 0) {
      buffer.copy(buffer, 0, keep, filled);
      filled -= keep;
      base += keep;
    }
    if (filled === buffer.length) {
      const larger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(larger, 0, 0, filled);
      buffer = larger;
    }
    const count = read(buffer, filled, buffer.length - filled);
    if (count === 0) break;
    scanner.scan(buffer, base, filled, filled + count);
    filled += count;
  }
  if (!scanner.done()) throw new Error('truncated JSON');
}

/**
 * The scanning state carried from one chunk to the next. Positions are absolute (file offsets), so
 * moving the buffer's contents moves nothing here.
 */
class Scanner {
  readonly #plan: Plan;
  readonly #view: RecordFields;
  readonly #onRecord: (record: RecordView) => void;
  /** Where the record being read began, or -1 between records. */
  recordStart = -1;
  #depth = 0;
  /** Per depth: whether the container is an object, and the id of its current key (-1: not wanted). */
  readonly #isObject: boolean[] = [false];
  readonly #keyIds: number[] = [-1];
  #expectKey = false;
  #inString = false;
  #escaped = false;
  #stringEscaped = false;
  #stringStart = 0;
  #scalarStart = -1;

  constructor(plan: Plan, onRecord: (record: RecordView) => void) {
    this.#plan = plan;
    this.#view = new RecordFields(plan);
    this.#onRecord = onRecord;
  }

  done(): boolean {
    return this.#depth === 0 && !this.#inString;
  }

  /** Scans buffer[from, to); buffer[0] is at file position `base`. */
  scan(buffer: Buffer, base: number, from: number, to: number): void {
    for (let index = from; index < to; index++) {
      const byte = buffer[index];
      // UTF-8 multi-byte sequences never contain ASCII bytes: scanning bytes for quotes is safe.
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (byte === BACKSLASH) this.#escaped = this.#stringEscaped = true;
        else if (byte === QUOTE) this.#endString(buffer, base, base + index);
        continue;
      }
      switch (byte) {
        case QUOTE:
          this.#inString = true;
          this.#stringEscaped = false;
          this.#stringStart = base + index + 1;
          break;
        case COLON:
          this.#expectKey = false;
          break;
        case COMMA:
          this.#endScalar(base + index);
          this.#expectKey = this.#isObject[this.#depth] ?? false;
          break;
        case OPEN_BRACE:
        case OPEN_BRACKET:
          this.#open(byte === OPEN_BRACE, base + index);
          break;
        case CLOSE_BRACE:
        case CLOSE_BRACKET:
          this.#close(buffer, base, base + index);
          break;
        case SPACE:
        case TAB:
        case LF:
        case CR:
          this.#endScalar(base + index);
          break;
        default:
          if (this.#scalarStart < 0) this.#scalarStart = base + index;
      }
    }
  }

  #open(object: boolean, at: number): void {
    const depth = ++this.#depth;
    this.#isObject[depth] = object;
    this.#keyIds[depth] = -1;
    this.#expectKey = object;
    if (depth === 1 && object) throw new Error('expected a JSON array of records');
    if (depth === 2 && object) {
      this.recordStart = at;
      this.#view.reset();
    }
  }

  #close(buffer: Buffer, base: number, at: number): void {
    this.#endScalar(at);
    if (this.#depth === 2 && this.recordStart >= 0) {
      this.#view.bind(buffer, base);
      this.#onRecord(this.#view);
      this.recordStart = -1;
    }
    this.#depth--;
    this.#expectKey = false;
  }

  #endString(buffer: Buffer, base: number, end: number): void {
    this.#inString = false;
    if (this.#isObject[this.#depth] && this.#expectKey) {
      this.#keyIds[this.#depth] = this.#keyId(buffer, base, this.#stringStart, end);
    } else {
      this.#value(this.#stringStart, end, this.#stringEscaped ? ESCAPED : STRING);
    }
  }

  #endScalar(end: number): void {
    if (this.#scalarStart < 0) return;
    this.#value(this.#scalarStart, end, SCALAR);
    this.#scalarStart = -1;
  }

  #value(start: number, end: number, kind: number): void {
    const depth = this.#depth;
    if (!this.#isObject[depth]) return;
    const id = this.#keyIds[depth] ?? -1;
    if (id < 0) return;
    if (depth === 2) {
      if (id < this.#plan.topCount) this.#view.setTop(id, start, end, kind);
    } else if (depth === 4) {
      this.#view.pushNested(id, start, end, kind);
    }
  }

  /** The id of a wanted key at this depth, or -1: compared as bytes, no string is made. */
  #keyId(buffer: Buffer, base: number, start: number, end: number): number {
    const plan = this.#plan;
    const holder = this.#keyIds[2] ?? -1;
    let candidates: Key[] | undefined;
    if (this.#depth === 2) candidates = plan.recordKeys;
    else if (this.#depth === 4 && !this.#isObject[3] && holder >= plan.topCount) {
      candidates = plan.nestedKeys[holder - plan.topCount];
    }
    if (candidates === undefined) return -1;
    if (this.#stringEscaped) {
      const name = JSON.parse(buffer.toString('utf8', start - base - 1, end - base + 1)) as string;
      return candidates.find((candidate) => candidate.name === name)?.id ?? -1;
    }
    // An indexed loop: an iterator per key would be garbage the scan otherwise avoids.
    for (let index = 0; index < candidates.length; index++) {
      const candidate = candidates[index];
      if (
        candidate &&
        sameBytes(buffer, start - base, end - base, candidate.bytes, 0, candidate.bytes.length)
      )
        return candidate.id;
    }
    return -1;
  }
}

/**
 * Whether a[aStart, aEnd) and b[bStart, bEnd) hold the same bytes. Buffer#compare would do, but it
 * allocates ~100 bytes a call: 35,000 records times a few fields is megabytes of garbage.
 */
export function sameBytes(
  a: Buffer,
  aStart: number,
  aEnd: number,
  b: Buffer,
  bStart: number,
  bEnd: number,
): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let at = 0; at < aEnd - aStart; at++) if (a[aStart + at] !== b[bStart + at]) return false;
  return true;
}

/** scanRecords over a file, read synchronously (the geography is asked for synchronously). */
export function scanFileRecords(
  path: string,
  fields: readonly string[],
  onRecord: (record: RecordView) => void,
): void {
  const fd = openSync(path, 'r');
  try {
    scanRecords((buffer, offset, length) => readSync(fd, buffer, offset, length, null), fields, onRecord);
  } finally {
    closeSync(fd);
  }
}
