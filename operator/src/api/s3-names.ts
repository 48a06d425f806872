// Bucket names and key prefixes, checked the way object stores check them, so a Territory is refused at
// `kubectl apply` rather than by the provider at the first backup.
//
// Bucket names: Amazon S3's general-purpose bucket naming rules, which S3-compatible stores follow
// (MinIO and Ceph RGW refuse the same dot/hyphen forms): 3-63 characters, lower-case letters, digits,
// dots and hyphens, starting and ending with a letter or digit; no two adjacent dots, no dot next to a
// hyphen; not shaped like an IPv4 address; not starting with xn--, sthree- or amzn-s3-demo-; not ending
// with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3 (names S3 keeps for access-point aliases,
// Object Lambda, Multi-Region Access Points, directory and table buckets).
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
//
// Key prefixes: segments separated by single slashes, no leading slash, no empty, `.` or `..` segment
// (path-style tools and URL normalisation read those as directories; the prefix also ends up in
// CloudNativePG's s3:// destination path). A trailing slash is fine.

import type { CelRule } from './patterns.ts';

export const BUCKET_RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'] as const;
export const BUCKET_RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'] as const;
const IPV4_SHAPED = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;

const BUCKET_DOTS = 'must not contain two adjacent dots, nor a dot next to a hyphen (.. .- -.)';
const BUCKET_IP = 'must not be shaped like an IP address';
const BUCKET_PREFIX = `must not start with ${BUCKET_RESERVED_PREFIXES.join(', ')} (reserved by S3)`;
const BUCKET_SUFFIX = `must not end with ${BUCKET_RESERVED_SUFFIXES.join(', ')} (reserved by S3)`;

/** Why S3 would refuse this bucket name beyond its character pattern, or undefined. */
export function bucketProblem(name: string): string | undefined {
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) return BUCKET_DOTS;
  if (IPV4_SHAPED.test(name)) return BUCKET_IP;
  if (BUCKET_RESERVED_PREFIXES.some((prefix) => name.startsWith(prefix))) return BUCKET_PREFIX;
  if (BUCKET_RESERVED_SUFFIXES.some((suffix) => name.endsWith(suffix))) return BUCKET_SUFFIX;
  return undefined;
}

const list = (items: readonly string[]) => `[${items.map((item) => `'${item}'`).join(', ')}]`;

export function bucketCelRules(path: string): CelRule[] {
  return [
    {
      rule: "!self.contains('..') && !self.contains('.-') && !self.contains('-.')",
      message: `${path} ${BUCKET_DOTS}`,
    },
    { rule: `!self.matches(r'${IPV4_SHAPED.source}')`, message: `${path} ${BUCKET_IP}` },
    {
      rule: `!${list(BUCKET_RESERVED_PREFIXES)}.exists(p, self.startsWith(p))`,
      message: `${path} ${BUCKET_PREFIX}`,
    },
    {
      rule: `!${list(BUCKET_RESERVED_SUFFIXES)}.exists(s, self.endsWith(s))`,
      message: `${path} ${BUCKET_SUFFIX}`,
    },
  ];
}

const PREFIX_SEGMENTS =
  'must be segments separated by single slashes, with no leading slash and no empty, . or .. segment ' +
  '(e.g. territories/rennes/)';

/** Why this key prefix would be read as something else than plain folders, or undefined. */
export function pathPrefixProblem(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  const segments = prefix.split('/');
  if (prefix.endsWith('/')) segments.pop();
  return segments.some((segment) => segment === '' || segment === '.' || segment === '..')
    ? PREFIX_SEGMENTS
    : undefined;
}

export function pathPrefixCelRules(path: string): CelRule[] {
  return [
    {
      rule:
        "self == '' || (!self.startsWith('/') && !self.contains('//') && " +
        "!self.split('/').exists(s, s == '.' || s == '..'))",
      message: `${path} ${PREFIX_SEGMENTS}`,
    },
  ];
}
