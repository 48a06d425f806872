// The backup endpoint's one unambiguous form. Tables for what is accepted and refused (the sovereignty
// gate's own table, with what each parser reads, is in builders/sovereignty.test.ts), and properties:
// whatever checkEndpoint accepts, Node's URL parser reads with the same host, port and path and no user
// info; and the API server's rule (the same grammar as a regular expression) accepts exactly the same.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEndpoint, ENDPOINT_PATTERN, endpointCelRules } from './endpoint.ts';

describe('checkEndpoint', () => {
  it.each([
    ['https://oos.cloudgouv-eu-west-1.outscale.com', 'oos.cloudgouv-eu-west-1.outscale.com', undefined, ''],
    ['https://s3.fr-par.scw.cloud/', 's3.fr-par.scw.cloud', undefined, '/'],
    ['https://s3.example.com:8443/path', 's3.example.com', 8443, '/path'],
    ['https://minio:9000', 'minio', 9000, ''],
    ['https://10.0.0.12:443/s3/v1/', '10.0.0.12', 443, '/s3/v1/'],
    ['https://a-b.c9.example/.well/..x/...', 'a-b.c9.example', undefined, '/.well/..x/...'],
    ['https://x.example:65535', 'x.example', 65535, ''],
  ])('accepts %j', (endpoint, host, port, path) => {
    expect(checkEndpoint(endpoint)).toEqual({ ok: true, host, port, path });
  });

  it.each([
    ['http://s3.example.com', /https/],
    ['https://user:pass@s3.example.com', /user name or password/],
    ['https://s3.example.com/@x', /must not contain @/],
    ['https://s3.example.com\\x', /backslash/],
    ['https://s3.example.com/%41', /percent/],
    ['https://s3.example.com?x', /query/],
    ['https://[::1]', /IPv6/],
    ['https://s3.example.com.', /dot/],
    ['https://S3.example.com', /lower case/],
    ['https://s3.example.com:080', /port/],
    ['https://s3.example.com:65536', /port/],
    ['https://s3.example.com:1:2', /":"/],
    ['https://0x7f.1', /IPv4/],
    ['https://256.1.1.1', /IPv4/],
    ['https://-a.example.com', /DNS name/],
    ['https://a_b.example.com', /DNS name/],
    ['https://xn--80ak6aa92e.com', /xn--/],
    ['https://s3.example.com//a', /path/],
    ['https://s3.example.com/./a', /path/],
    ['https://', /no host/],
    [`https://${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.fr`, /253/],
    ['https://s3.example.com/ a', /ASCII/],
    ['Https://s3.example.com', /exactly/],
    ['s3.example.com', /https:\/\//],
  ])('refuses %j', (endpoint, problem) => {
    const checked = checkEndpoint(endpoint);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.problem).toMatch(problem);
  });
});

/** Strings made of URL-ish pieces, so that a good share parse and many are near misses. */
const urlishArb = fc
  .array(
    fc.constantFrom(
      'https://',
      'http://',
      'https:/',
      'oos',
      'OOS',
      'outscale',
      'com',
      'xn--a',
      '0x7f',
      '1',
      '127',
      '010',
      '256',
      '.',
      '..',
      '-',
      '_',
      ':',
      '443',
      '0443',
      '/',
      '@',
      '\\',
      '%2e',
      '?',
      '#',
      '[',
      ']',
      '::1',
      '\t',
      ' ',
      '~',
      'é',
    ),
    { minLength: 1, maxLength: 10 },
  )
  .map((pieces) => pieces.join(''));
const plausibleArb = fc.oneof(
  urlishArb,
  urlishArb.map((rest) => `https://${rest}`),
  fc
    .tuple(
      fc.array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/), { minLength: 1, maxLength: 4 }),
      fc.option(fc.integer({ min: 0, max: 70000 }), { nil: undefined }),
      urlishArb,
    )
    .map(
      ([labels, port, path]) => `https://${labels.join('.')}${port === undefined ? '' : `:${port}`}/${path}`,
    ),
  fc
    .tuple(
      fc.array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/), { minLength: 1, maxLength: 4 }),
      fc.option(fc.integer({ min: 0, max: 70000 }), { nil: undefined }),
      fc.array(fc.stringMatching(/^[A-Za-z0-9._~-]{0,6}$/), { maxLength: 3 }),
    )
    .map(
      ([labels, port, segments]) =>
        `https://${labels.join('.')}${port === undefined ? '' : `:${port}`}${segments.map((s) => `/${s}`).join('')}`,
    ),
);

describe('checkEndpoint (property)', () => {
  it('accepts only what Node reads with the same host, port and path, and no user info', () => {
    let accepted = 0;
    fc.assert(
      fc.property(plausibleArb, (endpoint) => {
        const checked = checkEndpoint(endpoint);
        if (!checked.ok) return;
        accepted += 1;
        const url = new URL(endpoint);
        expect(url.protocol).toBe('https:');
        expect(url.hostname).toBe(checked.host);
        expect(url.username + url.password).toBe('');
        expect(url.search + url.hash).toBe('');
        expect(url.pathname).toBe(checked.path || '/');
        expect(Number(url.port || 443)).toBe(checked.port ?? 443);
      }),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it('agrees with the rule the API server runs (the same grammar as a regular expression)', () => {
    const pattern = new RegExp(ENDPOINT_PATTERN);
    const apiServer = (endpoint: string) =>
      !endpoint.includes('@') &&
      pattern.test(endpoint) &&
      !/^https:\/\/([^/:]*\.)?xn--/.test(endpoint) &&
      !/^https:\/\/[^/:]{254,}/.test(endpoint);
    fc.assert(
      fc.property(plausibleArb, (endpoint) => {
        expect(apiServer(endpoint), JSON.stringify(endpoint)).toBe(checkEndpoint(endpoint).ok);
      }),
      { numRuns: 2000 },
    );
    // The rules above are the ones written into the CRD.
    const rules = endpointCelRules('spec.backup.destination.endpoint').map((r) => r.rule);
    expect(rules.join(' ')).toContain(ENDPOINT_PATTERN);
  });
});
