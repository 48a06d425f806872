// The backup endpoint, read the same way by everything that reads it.
//
// Three URL parsers consume spec.backup.destination.endpoint: the AWS SDK in Node (WHATWG URL) for the
// logical backups, barman-cloud (Python: botocore, urllib.parse.urlsplit) for CloudNativePG's physical
// backups, and CloudNativePG itself (Go: net/url). They disagree on many URLs: WHATWG turns `\` into `/`,
// strips tabs and newlines, decodes `%2e` in a host, reads `0x7f.1` and `010.0.0.1` as IPv4 addresses and
// `https:/host` as `https://host`; Python takes the host after the last `@` even past a `\`; Go keeps
// capitals, trailing dots and `:0443` as written. `https://oos.example.fr\@elsewhere.example` is
// oos.example.fr for Node and elsewhere.example for Python: a sovereignty gate reading it with one parser
// would approve a destination another one never uses.
//
// So only one unambiguous form is accepted, on which the three parsers agree byte for byte:
//
//   https://HOST[:PORT][/PATH]
//
//   HOST  a lower-case DNS name (labels of letters, digits and inner hyphens, the last one starting with
//         a letter, no trailing dot, no xn-- label) or an IPv4 address as four decimal numbers 0-255
//         without leading zeros. No IPv6 literal: its spellings are many and the parsers normalise
//         them differently.
//   PORT  1-65535, without leading zeros.
//   PATH  segments of letters, digits and . _ ~ -, separated by single slashes, none of them `.` or
//         `..`; a trailing slash is fine.
//
// Nothing else: no user name or password (credentials belong in the credentials Secret, and a URL is
// shown in logs and status), no query, fragment, percent-encoding, backslash, space or control character.
// The same grammar is a CEL rule for the API server (ENDPOINT_CEL_RULES) and a function for zod and the
// sovereignty gate (checkEndpoint), which also cross-checks the result against Node's own parser.

import type { CelRule } from './patterns.ts';

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
/** The last label starts with a letter: WHATWG reads a host whose last label is a number as IPv4. */
const LAST_LABEL = '[a-z]([a-z0-9-]{0,61}[a-z0-9])?';
const DNS_NAME = `(${LABEL}\\.)*${LAST_LABEL}`;
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = `${OCTET}(\\.${OCTET}){3}`;
const PORT = '([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
const PATH_CHAR = '[A-Za-z0-9._~-]';
/** A path segment that is not `.` nor `..`. */
const SEGMENT = `([A-Za-z0-9_~-]${PATH_CHAR}*|\\.[A-Za-z0-9_~-]${PATH_CHAR}*|\\.\\.${PATH_CHAR}+)`;
const PATH = `(/${SEGMENT})*/?`;

/** The whole grammar, RE2 and JavaScript alike (no lookaround, no flags). */
export const ENDPOINT_PATTERN = `^https://(${DNS_NAME}|${IPV4})(:${PORT})?(${PATH})?$`;
const ENDPOINT = new RegExp(ENDPOINT_PATTERN);
const XN_LABEL = /^https:\/\/([^/:]*\.)?xn--/;
const HOST_TOO_LONG = /^https:\/\/[^/:]{254,}/;

export const ENDPOINT_FORM =
  'https://HOST[:PORT][/PATH] with a lower-case DNS name or an IPv4 address as HOST, and nothing else';

export type EndpointCheck =
  | { ok: true; host: string; port: number | undefined; path: string }
  | { ok: false; problem: string };

/**
 * Checks a backup endpoint against the one unambiguous form. `problem` says what is wrong without
 * repeating the URL (it may carry a password).
 */
export function checkEndpoint(value: string): EndpointCheck {
  const fail = (problem: string): EndpointCheck => ({ ok: false, problem });
  if (/[^\x21-\x7e]/.test(value)) {
    return fail(
      'must be plain ASCII without spaces, tabs, newlines or other control characters (URL parsers strip or keep them differently)',
    );
  }
  if (value.startsWith('http://')) return fail('must use https, never plain http');
  if (!value.startsWith('https://')) {
    return /^https?:/i.test(value)
      ? fail('must start with https:// exactly (lower case, two slashes)')
      : fail(`must be an https:// URL: ${ENDPOINT_FORM}`);
  }
  const rest = value.slice('https://'.length);
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  if (value.includes('@')) {
    return authority.includes('@')
      ? fail(
          'must not carry a user name or password (user:pass@host): credentials belong in the credentials Secret',
        )
      : fail('must not contain @ (URL parsers disagree on where the host ends)');
  }
  if (value.includes('\\'))
    return fail('must not contain a backslash (URL parsers disagree on where the host ends)');
  if (value.includes('%')) return fail('must not contain percent-encoded characters');
  if (value.includes('?') || value.includes('#')) return fail('must not have a query (?) or a fragment (#)');
  if (authority.startsWith('[')) {
    return fail('must name its host by a DNS name or an IPv4 address: IPv6 literals are not accepted');
  }
  if (HOST_TOO_LONG.test(value)) return fail('has a host name longer than 253 characters');
  if (XN_LABEL.test(value)) {
    return fail(
      'must use a plain ASCII host name: internationalised (xn--) labels are not accepted, URL parsers treat them differently',
    );
  }
  const [host = '', port, ...extra] = authority.split(':');
  if (extra.length > 0) return fail('has more than one ":" in its host and port');
  if (host === '') return fail('has no host');
  if (host.endsWith('.')) return fail('must not end its host name with a dot');
  if (/[A-Z]/.test(host)) return fail('must write its host name in lower case');
  if (port !== undefined && !new RegExp(`^${PORT}$`).test(port)) {
    return fail('must have a port from 1 to 65535 written without leading zeros, or no port');
  }
  if (!new RegExp(`^(${DNS_NAME}|${IPV4})$`).test(host)) {
    return /^[0-9a-fx.]+$/.test(host)
      ? fail('must write an IPv4 address as four decimal numbers 0-255 without leading zeros')
      : fail(
          'must have a DNS name as host: labels of lower-case letters, digits and inner hyphens, the last one starting with a letter',
        );
  }
  const path = slash === -1 ? '' : rest.slice(slash);
  if (!ENDPOINT.test(value)) {
    return fail(
      'must have a path of segments of letters, digits, . _ ~ and -, without empty, . or .. segments',
    );
  }
  // Belt and braces: Node's WHATWG parser must read the same host, port and path.
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('is not a URL Node can read');
  }
  const samePath = url.pathname === (path === '' ? '/' : path);
  const samePort = url.port === (port === '443' ? '' : (port ?? ''));
  if (url.hostname !== host || !samePort || !samePath || url.username !== '' || url.password !== '') {
    return fail('is read differently by URL parsers');
  }
  return { ok: true, host, port: port === undefined ? undefined : Number(port), path };
}

/** The API server's side of checkEndpoint (no IP or URL CEL library: Kubernetes 1.30 has neither for CRDs). */
export function endpointCelRules(path: string): CelRule[] {
  return [
    {
      rule: `!self.contains('@')`,
      message: `${path} must not carry a user name or password (user:pass@host), nor any @: credentials belong in the credentials Secret`,
    },
    {
      // Raw strings (r'...'): the patterns' backslashes reach RE2 as they are.
      rule:
        `self.contains('@') || (self.matches(r'${ENDPOINT_PATTERN}') && ` +
        `!self.matches(r'${XN_LABEL.source}') && !self.matches(r'${HOST_TOO_LONG.source}'))`,
      message: `${path} must be ${ENDPOINT_FORM}: no query, fragment, percent-encoding, backslash, trailing dot, capitals in the host, IPv6 literal, xn-- label, port with leading zeros, or . and .. path segments`,
    },
  ];
}
