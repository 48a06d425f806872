import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

function capture(): { lines: () => Array<Record<string, unknown>>; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('writes JSON with bound fields on child loggers', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream, bindings: { component: 'op' } });
    log.child({ territory: 'rennes-metropole' }).info({ step: 'namespace' }, 'applied');
    const [line] = out.lines();
    expect(line).toMatchObject({
      level: 'info',
      component: 'op',
      territory: 'rennes-metropole',
      step: 'namespace',
      msg: 'applied',
    });
  });

  it('redacts secret-looking fields at any of the first levels', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    const secret = 'hunter2-do-not-leak';
    log.info({
      password: secret,
      db: { password: secret, user: 'app' },
      object: { kind: 'Secret', data: { key: secret }, stringData: { x: secret } },
      request: { headers: { authorization: `Bearer ${secret}` } },
      creds: { token: secret },
    });
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain(secret);
    expect(text).toContain('[REDACTED]');
    expect(out.lines()[0]).toMatchObject({ db: { user: 'app' }, object: { kind: 'Secret' } });
  });
});
