// Secrets stay secret, across the whole run: every key (raw, base64, hex, and unwrapped when wrapped
// by the authority's key), every database password, every backup secret key and customer key, and
// each of their base64 forms, is searched in every line every operator process printed, every Event
// in the cluster, every Territory object (status included) and every /metrics page. Zero hits allowed.
import { API_VERSION, KIND } from '../../../operator/src/api/territory.ts';
import type { ChaosContext } from '../lib/context.ts';
import { objectPath } from '../lib/kube-http.ts';

export async function secretsStaySecret(
  ctx: ChaosContext,
): Promise<{ failures: string[] } & Record<string, unknown>> {
  const failures: string[] = [];
  await ctx.sampleOnce();
  const needles = new Set<string>();
  for (const value of [...ctx.world.secretValues, ...ctx.tracker.secretValues]) {
    // Short values could match by chance; every secret here is at least 24 characters.
    if (value.length < 16) continue;
    needles.add(value);
    needles.add(Buffer.from(value).toString('base64'));
  }

  const sources: { name: string; text: string; items: number }[] = [];
  sources.push({ name: 'operator logs', text: ctx.lines.join('\n'), items: ctx.lines.length });
  const coreEvents = await ctx.kube.list('/api/v1/events');
  const newEvents = await ctx.kube.list('/apis/events.k8s.io/v1/events');
  sources.push({
    name: 'Events',
    text: [...coreEvents.items, ...newEvents.items].map((e) => JSON.stringify(e)).join('\n'),
    items: coreEvents.items.length + newEvents.items.length,
  });
  const territories = await ctx.kube.list(objectPath({ apiVersion: API_VERSION, kind: KIND }));
  sources.push({
    name: 'Territories',
    text: territories.items.map((t) => JSON.stringify(t)).join('\n'),
    items: territories.items.length,
  });
  sources.push({
    name: 'metrics',
    text: [...ctx.metricsTexts.values()].join('\n'),
    items: ctx.metricsTexts.size,
  });

  const hits: string[] = [];
  const started = Date.now();
  for (const source of sources) {
    for (const needle of needles) {
      const at = source.text.indexOf(needle);
      if (at < 0) continue;
      // Say where, never what: the report must not leak the value it found.
      const lineStart = source.text.lastIndexOf('\n', at) + 1;
      const context = source.text
        .slice(lineStart, Math.min(lineStart + 160, at))
        .replace(/[A-Za-z0-9+/=_-]{12,}/g, '…');
      hits.push(`${source.name}: a secret (${needle.length} chars) after "${context}"`);
    }
  }
  ctx.log(
    `secrets: ${needles.size} secret values searched in ${sources.map((s) => `${s.items} ${s.name}`).join(', ')} ` +
      `(${(sources.reduce((n, s) => n + s.text.length, 0) / 1e6).toFixed(1)} MB, ${Date.now() - started} ms): ${hits.length} hit(s)`,
  );
  if (needles.size === 0) failures.push('no secret value was collected: the grep would prove nothing');
  failures.push(...hits.slice(0, 20));
  return {
    secretValues: needles.size,
    haystacks: sources.reduce((n, s) => n + s.items, 0),
    logLines: ctx.lines.length,
    events: coreEvents.items.length + newEvents.items.length,
    territories: territories.items.length,
    metricsTexts: ctx.metricsTexts.size,
    hits: hits.length,
    failures,
  };
}
