// Bad input against the real API server and the running operator: adversarial Territories (the
// property tests' arbitraries: wrong types, huge strings, unicode, boundary numbers, prototype keys,
// anywhere in a manifest) are either refused at admission with a message naming the field, or
// accepted and then handled by the operator (InvalidSpec with a clear message, or reconciled) without
// it restarting, and without disturbing the other Territories. Every Territory zod accepts must be
// accepted by the API server too (the CEL rules and the zod refinements say the same thing).
import fc from 'fast-check';
import {
  adversarialValueArb,
  validTerritoryArb,
} from '../../../operator/src/api/territory.arbitraries.test-helpers.ts';
import { API_VERSION, KIND, parseTerritory } from '../../../operator/src/api/territory.ts';
import { minimalTerritory } from '../../../operator/src/api/test-fixtures.ts';
import { LEAVE_PHYSICAL_BACKUPS_ANNOTATION } from '../../../operator/src/territory/physical-erasure.ts';
import { type ChaosContext, sleep } from '../lib/context.ts';
import type { TerritoryItem } from '../lib/invariants.ts';
import { objectPath } from '../lib/kube-http.ts';
import { waitFor } from '../lib/wait.ts';

const LABEL = 'chaos.sovereign.dev/bad-input';
type Path = (string | number)[];

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

function setAt(root: Record<string, unknown>, path: Path, value: unknown): Record<string, unknown> {
  const copy = structuredClone(root);
  let node = copy as Record<string | number, unknown>;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
  const last = path.at(-1);
  if (last !== undefined)
    Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** JSON as a YAML/JSON client would send it; undefined when the value cannot be sent at all (BigInt). */
function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, (_key, v) => (v instanceof Map || v instanceof Set ? [...v] : v));
  } catch {
    return undefined;
  }
}

export async function badInput(ctx: ChaosContext): Promise<{ failures: string[] } & Record<string, unknown>> {
  const failures: string[] = [];
  let op = ctx.running()[0];
  if (!op) op = await ctx.startOperator('bad-input');
  const pid = op.pid;
  const territories = objectPath({ apiVersion: API_VERSION, kind: KIND });
  const created: string[] = [];

  // 1. Adversarial mutations of a valid Territory.
  const base = minimalTerritory('placeholder') as Record<string, unknown>;
  const paths = pathsOf(base).filter((p) => !(p[0] === 'metadata' && p.length === 1));
  const mutations = fc.sample(fc.tuple(fc.constantFrom(...paths), adversarialValueArb), {
    numRuns: ctx.options.badInputs,
    seed: ctx.options.seed,
  });
  let tried = 0;
  let unsendable = 0;
  let rejected = 0;
  let rejectedWithoutField = 0;
  let accepted = 0;
  const acceptedNames: string[] = [];
  for (const [i, [path, value]] of mutations.entries()) {
    const name = `bad-${i}-${ctx.options.seed}`;
    let manifest = setAt(base, path, value);
    if (!(path[0] === 'metadata' && path[1] === 'name')) {
      manifest = setAt(manifest, ['metadata', 'name'], name);
    }
    manifest = setAt(manifest, ['metadata', 'labels'], { [LABEL]: 'true' });
    const body = toJson(manifest);
    if (body === undefined) {
      unsendable++;
      continue;
    }
    tried++;
    const answer = await ctx.kube.request('POST', `${territories}?fieldValidation=Strict`, body);
    if (answer.status >= 500)
      failures.push(
        `API server error ${answer.status} for ${JSON.stringify(path)}: ${answer.text.slice(0, 200)}`,
      );
    if (answer.status === 201) {
      accepted++;
      const stored = (answer.body as TerritoryItem).metadata.name;
      acceptedNames.push(stored);
      created.push(stored);
    } else {
      rejected++;
      const message = (answer.body as { message?: string }).message ?? answer.text;
      // The refusal must say where: a field path (spec.x / metadata.x) or the unknown field's name.
      if (
        !/(spec|metadata|apiVersion|kind)[.[]|unknown field|Invalid value|Required value|API version|body|decode|json/i.test(
          message,
        )
      ) {
        rejectedWithoutField++;
        if (rejectedWithoutField <= 5)
          failures.push(`refusal without a field for ${JSON.stringify(path)}: ${message.slice(0, 200)}`);
      }
    }
  }
  ctx.log(
    `bad-input: ${tried} adversarial Territories sent (${unsendable} not sendable as JSON): ${rejected} refused, ${accepted} accepted`,
  );

  // 2. What the operator makes of the accepted ones: a status, InvalidSpec or reconciled, never a crash.
  let acceptedInvalidSpec = 0;
  let acceptedReconciled = 0;
  const drift: string[] = [];
  for (const name of acceptedNames) {
    const t = await waitFor(
      async () => {
        const answer = await ctx.kube.get(objectPath({ apiVersion: API_VERSION, kind: KIND, name }));
        const item = answer.body as TerritoryItem;
        return item.status?.observedGeneration === item.metadata.generation && item.status?.conditions?.length
          ? item
          : undefined;
      },
      { what: `a status on accepted bad input ${name}`, timeoutMs: 60_000 },
    ).catch((error: Error) => {
      failures.push(error.message);
      return undefined;
    });
    if (!t) continue;
    const stalled = t.status?.conditions?.find((c) => c.type === 'Stalled');
    const invalid = stalled?.status === 'True' && stalled.reason === 'InvalidSpec';
    if (invalid) acceptedInvalidSpec++;
    else acceptedReconciled++;
    const zod = parseTerritory(t);
    if (!zod.ok)
      drift.push(`${name}: API server accepted, zod refused: ${zod.errors.join('; ').slice(0, 200)}`);
  }

  // 3. Valid Territories drawn across the whole schema: the API server must accept every one.
  const valid = fc.sample(validTerritoryArb(), {
    numRuns: Math.max(20, Math.floor(ctx.options.badInputs / 3)),
    seed: ctx.options.seed,
  });
  let validAccepted = 0;
  for (const [i, manifest] of valid.entries()) {
    const name = `valid-${i}-${ctx.options.seed}`;
    const meta = manifest.metadata as Record<string, unknown>;
    const body = {
      ...manifest,
      metadata: { name, labels: { [LABEL]: 'true' } },
      spec: { ...(manifest.spec as object) },
    };
    // A dotted generated name needs spec.namespace; the unique name here is a DNS label, keep theirs out.
    delete meta.uid;
    const answer = await ctx.kube.request('POST', `${territories}?fieldValidation=Strict`, body);
    if (answer.status === 201) {
      validAccepted++;
      created.push(name);
    } else {
      drift.push(
        `valid per zod, refused by the API server: ${(answer.body as { message?: string }).message?.slice(0, 300) ?? answer.status}`,
      );
    }
  }
  ctx.log(
    `bad-input: ${validAccepted}/${valid.length} valid generated Territories accepted by the API server`,
  );
  if (drift.length > 0) failures.push(...drift.slice(0, 10).map((d) => `schema drift: ${d}`));

  await sleep(2_000);
  const restarts = op.exit() !== undefined || op.pid !== pid ? 1 : 0;
  if (restarts) failures.push(`the operator exited during bad input: ${JSON.stringify(op.exit())}`);

  // Clean up: Delete policy where the spec allows the edit, so no namespace is left behind.
  for (const name of created) {
    const path = objectPath({ apiVersion: API_VERSION, kind: KIND, name });
    await ctx.kube.request(
      'PATCH',
      path,
      {
        // The bucket is fictional: nothing to erase there (see territory/physical-erasure.ts).
        metadata: { annotations: { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: 'chaos bad-input: no such bucket' } },
        spec: { deletionPolicy: 'Delete' },
      },
      'application/merge-patch+json',
    );
    await ctx.kube.request('DELETE', path);
  }
  await waitFor(
    async () =>
      (await ctx.kube.list(`${territories}?labelSelector=${encodeURIComponent(`${LABEL}=true`)}`)).items
        .length === 0,
    { what: 'bad-input Territories to be deleted', timeoutMs: 180_000 },
  ).catch((error: Error) => failures.push(error.message));

  return {
    tried,
    unsendable,
    rejectedByApiServer: rejected,
    rejectedWithoutField,
    accepted,
    acceptedInvalidSpec,
    acceptedReconciled,
    validTried: valid.length,
    validAccepted,
    schemaDrift: drift,
    operatorRestarts: restarts,
    failures,
  };
}
