// The record scanner is checked against JSON.parse on drawn JSON: odd keys and escapes, nesting,
// whitespace, and every chunk size down to one byte, so records and strings straddle chunks.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RecordView, scanRecords } from './json-records.ts';

const FIELDS = ['code', 'nom', 'population', 'a"b', 'é', 'membres.code', 'membres.nom'];

function reader(text: string) {
  const bytes = Buffer.from(text, 'utf8');
  let at = 0;
  return (buffer: Buffer, offset: number, length: number): number => {
    const count = bytes.copy(buffer, offset, at, Math.min(bytes.length, at + length));
    at += count;
    return count;
  };
}

const TOP = FIELDS.filter((f) => !f.includes('.'));
const NESTED = FIELDS.filter((f) => f.includes('.'));

type Answers = Record<string, unknown>;

/** Everything a record answers, taken during the call: the view is only valid then. */
function answers(record: RecordView): Answers {
  const out: Answers = {};
  for (const field of TOP) {
    const value = record.string(field);
    out[`${field}:string`] = value;
    const target = Buffer.alloc(Math.max(0, record.byteLength(field)));
    const written = record.copyString(field, target, 0);
    out[`${field}:copy`] = written < 0 ? undefined : target.toString('utf8', 0, written);
    out[`${field}:is`] = value !== undefined && record.is(field, value) && !record.is(field, `${value}x`);
    out[`${field}:number`] = record.number(field);
  }
  for (const path of NESTED) {
    out[path] = record.strings(path);
    const visited: string[] = [];
    record.eachString(path, (bytes, start, end) => visited.push(bytes.toString('utf8', start, end)));
    out[`${path}:bytes`] = visited;
  }
  return out;
}

/** The same, from what JSON.parse made of the record. */
function expected(object: Record<string, unknown>): Answers {
  const out: Answers = {};
  for (const field of TOP) {
    const value = Object.hasOwn(object, field) ? object[field] : undefined;
    const text = typeof value === 'string' ? value : undefined;
    Object.assign(out, {
      [`${field}:string`]: text,
      [`${field}:copy`]: text,
      [`${field}:is`]: text !== undefined,
      [`${field}:number`]: typeof value === 'number' ? value : undefined,
    });
  }
  const members = Array.isArray(object.membres) ? (object.membres as unknown[]) : [];
  for (const path of NESTED) {
    const sub = path.slice(path.indexOf('.') + 1);
    out[path] = members.flatMap((member) => {
      if (!isObject(member)) return [];
      const value = member[sub];
      return typeof value === 'string' ? [value] : [];
    });
    out[`${path}:bytes`] = out[path];
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scan(text: string, chunkBytes: number): Answers[] {
  const seen: Answers[] = [];
  scanRecords(reader(text), FIELDS, (record) => seen.push(answers(record)), chunkBytes);
  return seen;
}

const key = fc.oneof(fc.constantFrom('code', 'nom', 'population', 'membres', 'a"b', 'é', 'x'), fc.string());
const text = fc.string({ unit: 'binary' });
const value = fc.oneof(
  text,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.jsonValue(),
);
const member = fc.oneof(fc.dictionary(key, value), fc.record({ code: text, nom: value }), fc.jsonValue());
const record = fc.oneof(
  fc.dictionary(key, value),
  fc.record({
    code: text,
    nom: text,
    population: fc.nat(),
    // Nested fields are read in an array of objects only, not in an object of objects.
    membres: fc.oneof(fc.array(member, { maxLength: 5 }), fc.dictionary(key, member, { maxKeys: 3 })),
  }),
  fc.jsonValue(),
);

describe('scanRecords', () => {
  it('answers as JSON.parse does, whatever the chunk size and layout', () => {
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 6 }),
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom(undefined, 0, 1, '\t', ' \r\n '),
        (elements, chunkBytes, indent) => {
          // JSON.stringify drops -0's sign and turns non-finite numbers into null: compare with
          // what JSON.parse reads back, not with the drawn values.
          const json = JSON.stringify(elements, null, indent as string | number | undefined);
          const parsed = JSON.parse(json) as unknown[];
          expect(scan(json, chunkBytes)).toEqual(parsed.filter(isObject).map(expected));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a truncated file and a top-level object', () => {
    expect(() => scan('[{"code":"35001"},{"code":"35', 7)).toThrow(/truncated/);
    expect(() => scan('[{"code":"35001"', 64)).toThrow(/truncated/);
    expect(() => scan('{"code":"35001"}', 64)).toThrow(/array/);
  });

  it('refuses a field that was not asked for', () => {
    expect(() => scanRecords(reader('[{"code":"1"}]'), ['code'], (r) => r.string('nom'))).toThrow(
      /not asked for/,
    );
  });
});
