// Kubernetes resource quantities ("10Gi", "500m", "1.5", "2e3"), for the few places where the schema
// must compare two of them the same way the API server's CEL `quantity()` library does.

/**
 * Non-negative Kubernetes quantity. Stricter than the API server's own parser on purpose (no sign,
 * integer exponents only) and written for RE2 so it can also be the CRD's OpenAPI `pattern`.
 */
export const QUANTITY_PATTERN = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/**
 * The value of a quantity in base units (bytes, cores), or undefined when it is not one.
 * A double is exact enough to order the quantities people write in a Territory.
 */
export function quantityValue(quantity: string): number | undefined {
  const match = QUANTITY_PATTERN.exec(quantity);
  if (!match) return undefined;
  const number = Number(match[1]);
  const suffix = match[3] ?? '';
  if (suffix.startsWith('e') || suffix.startsWith('E')) return number * 10 ** Number(suffix.slice(1));
  const factor = BINARY[suffix] ?? DECIMAL[suffix];
  return factor === undefined ? undefined : number * factor;
}

/**
 * The value of a quantity the schema has already admitted (a default, or a validated spec field): reaching
 * the throw means a caller skipped validation.
 */
export function admittedQuantityValue(quantity: string): number {
  const value = quantityValue(quantity);
  if (value === undefined) throw new Error(`"${quantity}" is not a Kubernetes quantity`);
  return value;
}

/** Negative, zero or positive like CEL's `quantity(a).compareTo(quantity(b))`; undefined if either is invalid. */
export function compareQuantities(a: string, b: string): number | undefined {
  const left = quantityValue(a);
  const right = quantityValue(b);
  if (left === undefined || right === undefined) return undefined;
  return Math.sign(left - right);
}
