// Kubernetes resource quantities ("500m", "20Gi", "1.5G"): just enough arithmetic to compare and add
// them, which the quota builder needs to make room for the database it is about to create.
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

const QUANTITY = /^([+-]?[0-9.]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$/;

export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = QUANTITY.exec(q.trim());
  if (!m || m[1] === undefined) throw new Error(`"${q}" is not a Kubernetes quantity`);
  const value = Number(m[1]);
  if (Number.isNaN(value)) throw new Error(`"${q}" is not a Kubernetes quantity`);
  if (m[3] !== undefined) return value * 10 ** Number(m[3]);
  const suffix = m[2] ?? '';
  return value * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

/** Bytes rounded up to whole GiB, the unit platform engineers read storage quotas in. */
export function formatGi(bytes: number): string {
  return `${Math.ceil(bytes / 2 ** 30)}Gi`;
}

export function maxQuantity(a: string, b: string): string {
  return parseQuantity(b) > parseQuantity(a) ? b : a;
}
