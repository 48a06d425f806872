// Property tests of the Territory schema against arbitrary and adversarial input: whatever a manifest
// holds (wrong types, huge strings, unicode, boundary numbers, prototype keys), parseTerritory answers
// without throwing, and a refusal names the field to fix in a short message that never echoes the input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  adversarialValueArb,
  longDnsSubdomainArb,
  POLLUTION_KEYS,
  validTerritoryArb,
} from './territory.arbitraries.test-helpers.ts';
import { formatPath, parseTerritory } from './territory.ts';
import { minimalTerritory } from './test-fixtures.ts';

const RUNS = 200;

/** `path: message`, the path being `(root)` or starting at a top-level field of the object. */
const ERROR_LINE = /^(\(root\)|(apiVersion|kind|metadata|spec|status)([.[].*)?): \S/s;
/** A refusal is read in `kubectl describe` and in status: one line must stay short whatever the input. */
const MAX_ERROR_LENGTH = 600;

function expectReadableErrors(errors: string[]): void {
  expect(errors.length).toBeGreaterThan(0);
  for (const error of errors) {
    expect(error).toMatch(ERROR_LINE);
    expect(error.length).toBeLessThanOrEqual(MAX_ERROR_LENGTH);
  }
}

function expectPrototypesUntouched(): void {
  for (const key of ['polluted', 'isAdmin']) {
    expect(Object.hasOwn(Object.prototype, key), `Object.prototype.${key}`).toBe(false);
    expect(Object.hasOwn(Array.prototype, key), `Array.prototype.${key}`).toBe(false);
  }
}

/** Every object in a parsed result is plain data: ordinary prototypes, nothing inherited from the input. */
function expectPlainData(value: unknown, where = '(root)'): void {
  if (value === null || typeof value !== 'object') return;
  const proto = Object.getPrototypeOf(value);
  expect([Object.prototype, Array.prototype, null], `prototype of ${where}`).toContain(proto);
  expect('polluted' in value && !Object.hasOwn(value, 'polluted'), `inherited key at ${where}`).toBe(false);
  for (const [key, item] of Object.entries(value)) expectPlainData(item, `${where}.${key}`);
}

/** A short, never-throwing description of any value, for failure messages. */
function describeValue(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 60) ?? typeof value;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

type Path = (string | number)[];

/** Every path of a JSON value, containers included (so whole sections get replaced too). */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      paths.push(...pathsOf(item, [...prefix, index]));
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) paths.push(...pathsOf(item, [...prefix, key]));
  }
  return paths;
}

/** A deep copy of `root` with the value at `path` replaced (or a key added when it is new). */
function setAt(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
  const last = path.at(-1);
  if (last === undefined) return value;
  // defineProperty: `node['__proto__'] = v` would set the prototype instead of an own key.
  Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

function deleteAt(root: unknown, path: Path): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
  const last = path.at(-1);
  if (Array.isArray(node) && typeof last === 'number') node.splice(last, 1);
  else if (last !== undefined) delete node[last];
  return copy;
}

function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const segment of path) node = (node as Record<string | number, unknown>)[segment];
  return node;
}

/** The JSON type a schema tells apart; what JSON has no name for (NaN, a Date, a Map, a bigint) is 'other'. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null ? 'object' : 'other';
  }
  if (typeof value === 'number') return Number.isFinite(value) ? 'number' : 'other';
  if (typeof value === 'string' || typeof value === 'boolean') return typeof value;
  return 'other';
}

/** Fields whose validity depends on another field: a change to one may be reported on the other. */
const LINKED: [string, string][] = [
  ['spec.namespace', 'metadata.name'],
  ['spec.backup.schedule', 'spec.backup.retentionDays'],
  ['spec.hosting', 'spec.backup'],
  ['spec.authority.kind', 'spec.authority.code'],
  ['spec.authority.kind', 'spec.authority.displayName'],
];

/** Whether an error line is about the changed path: same section (2 segments), or a linked field. */
function isAbout(error: string, changed: Path): boolean {
  const errorPath = error.slice(0, error.indexOf(': '));
  const changedText = formatPath(changed);
  const section = formatPath(changed.slice(0, 2));
  if (errorPath === '(root)' || errorPath.startsWith(section) || changedText.startsWith(errorPath))
    return true;
  return LINKED.some(
    ([a, b]) =>
      (changedText.startsWith(a) && errorPath.startsWith(b)) ||
      (changedText.startsWith(b) && errorPath.startsWith(a)),
  );
}

describe('parseTerritory on generated input (property)', () => {
  it('accepts every Territory drawn across the whole schema', () => {
    fc.assert(
      fc.property(validTerritoryArb(), (manifest) => {
        const result = parseTerritory(manifest);
        expect(result.ok ? [] : result.errors).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on arbitrary values, and refuses them with path-named messages', () => {
    fc.assert(
      fc.property(fc.oneof(adversarialValueArb, fc.anything({ maxDepth: 4 })), (input) => {
        const result = parseTerritory(input);
        expect(result.ok).toBe(false);
        if (!result.ok) expectReadableErrors(result.errors);
        expectPrototypesUntouched();
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a value of the wrong type put anywhere in a valid Territory, on that field, briefly', () => {
    // Surely invalid: every field of the minimal Territory has one JSON type, and this is another one.
    // No case may be accepted, so the check below runs on every draw.
    const base = minimalTerritory('rennes');
    const wrongTypeArb = fc
      .constantFrom(...pathsOf(base))
      .chain((path) =>
        adversarialValueArb
          .filter((value) => jsonType(value) !== jsonType(valueAt(base, path)))
          .map((value) => ({ path, value })),
      );
    fc.assert(
      fc.property(wrongTypeArb, ({ path, value }) => {
        const result = parseTerritory(setAt(base, path, value));
        expectPrototypesUntouched();
        const what = `${formatPath(path)} <- ${describeValue(value)}`;
        expect(result.ok, `${what} was accepted`).toBe(false);
        if (result.ok) return;
        expectReadableErrors(result.errors);
        expect(
          result.errors.some((error) => isAbout(error, path)),
          `${what}: ${result.errors.join(' | ')}`,
        ).toBe(true);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('reports an adversarial value put anywhere in a valid Territory on that field, briefly, and refuses most', () => {
    const base = minimalTerritory('rennes');
    const paths = pathsOf(base);
    let runs = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.constantFrom(...paths), adversarialValueArb, (path, value) => {
        runs += 1;
        const result = parseTerritory(setAt(base, path, value));
        expectPrototypesUntouched();
        if (result.ok) return; // e.g. a string where a string was: nothing to report
        refused += 1;
        expectReadableErrors(result.errors);
        expect(
          result.errors.some((error) => isAbout(error, path)),
          `${formatPath(path)} <- ${describeValue(value)}: ${result.errors.join(' | ')}`,
        ).toBe(true);
      }),
      { numRuns: RUNS * 2 },
    );
    // The generator mostly draws values the field cannot hold (about 97% are refused today): a parser that
    // accepted everything would otherwise pass this property without a single check.
    expect(refused / runs, `${refused} of ${runs} refused`).toBeGreaterThanOrEqual(0.8);
  });

  it('says which required field is missing when any field is removed', () => {
    // The minimal Territory holds only required fields: removing any one of them must be refused.
    const base = minimalTerritory('rennes');
    const paths = pathsOf(base);
    expect(paths.length).toBeGreaterThan(20);
    for (const path of paths) {
      const result = parseTerritory(deleteAt(base, path));
      expect(result.ok, `${formatPath(path)} removed, and accepted`).toBe(false);
      if (result.ok) continue;
      expectReadableErrors(result.errors);
      expect(
        result.errors.some((error) => isAbout(error, path)),
        `${formatPath(path)}: ${result.errors.join(' | ')}`,
      ).toBe(true);
    }
  });

  it('refuses unknown keys named like prototype properties, and never pollutes a prototype', () => {
    const base = minimalTerritory('rennes');
    const containers = pathsOf(base).filter((path) => {
      let node: unknown = base;
      for (const segment of path) node = (node as Record<string | number, unknown>)[segment];
      return node !== null && typeof node === 'object' && !Array.isArray(node);
    });
    let refused = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...containers),
        fc.constantFrom(...POLLUTION_KEYS),
        fc.constantFrom(
          { polluted: 'yes', isAdmin: true },
          JSON.parse('{"__proto__": {"polluted": "yes", "isAdmin": true}}') as unknown,
          'polluted',
        ),
        (path, key, polluting) => {
          const result = parseTerritory(setAt(base, [...path, key], polluting));
          expectPrototypesUntouched();
          if (!result.ok) {
            refused += 1;
            expectReadableErrors(result.errors);
            return;
          }
          // Accepted only where the schema is open (metadata): there it must stay a plain own key.
          expect(formatPath(path), `${formatPath([...path, key])} accepted`).toBe('metadata');
          expectPlainData(result.territory);
        },
      ),
      { numRuns: RUNS },
    );
    // Every container but metadata refuses them: most draws must have been refusals.
    expect(containers.length).toBeGreaterThan(5);
    expect(refused, `${refused} of ${RUNS} refused`).toBeGreaterThanOrEqual(RUNS / 2);
  });

  it('keeps each refusal short even for megabyte-long strings in every string field', () => {
    const base = minimalTerritory('rennes');
    const huge = 'é'.repeat(1_000_000);
    for (const path of pathsOf(base)) {
      const result = parseTerritory(setAt(base, path, huge));
      expect(result.ok, formatPath(path)).toBe(false);
      if (!result.ok) expectReadableErrors(result.errors);
    }
  });

  it('refuses names longer than a label value (64..253 characters) even with spec.namespace set', () => {
    fc.assert(
      fc.property(longDnsSubdomainArb, (name) => {
        const manifest = minimalTerritory(name);
        (manifest.spec as Record<string, unknown>).namespace = 'rennes';
        const result = parseTerritory(manifest);
        expect(result.ok ? [] : result.errors).toEqual([
          'metadata.name: must be at most 63 character(s) long',
        ]);
      }),
      { numRuns: 50 },
    );
  });
});
