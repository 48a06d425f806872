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

  it('reports an adversarial value put anywhere in a valid Territory on that field, briefly', () => {
    const base = minimalTerritory('rennes');
    const paths = pathsOf(base);
    fc.assert(
      fc.property(fc.constantFrom(...paths), adversarialValueArb, (path, value) => {
        const result = parseTerritory(setAt(base, path, value));
        expectPrototypesUntouched();
        if (result.ok) return; // e.g. a string where a string was: nothing to report
        expectReadableErrors(result.errors);
        expect(
          result.errors.some((error) => isAbout(error, path)),
          `${formatPath(path)} <- ${describeValue(value)}: ${result.errors.join(' | ')}`,
        ).toBe(true);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('says which required field is missing when any field is removed', () => {
    const base = minimalTerritory('rennes');
    for (const path of pathsOf(base)) {
      const result = parseTerritory(deleteAt(base, path));
      if (result.ok) continue; // optional or defaulted
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
            expectReadableErrors(result.errors);
            return;
          }
          // Accepted only where the schema is open (metadata): there it must stay a plain own key.
          expectPlainData(result.territory);
        },
      ),
      { numRuns: RUNS },
    );
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
