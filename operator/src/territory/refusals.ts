// When the API server says no. Pure.
//
// An owned object the API server refuses (400 Bad Request, 403 Forbidden: RBAC, a quota, an admission
// policy or webhook; 422 Invalid) will not be accepted by retrying the same request: the Territory's
// status must say which object was refused and what the API server said, in the condition of the part
// concerned, rather than keep an older, unrelated reason while the operator retries in the dark.
// Everything else (conflicts, 5xx, timeouts) is transient and stays an ordinary error, retried.
//
// The API server's message can echo values of the refused object (`Invalid value: "..."`, or whatever
// an admission webhook chooses to say). For a Secret, every value it holds is removed from the message
// before it goes anywhere near status, events or logs.
import type { KubeObject } from '../runtime/types.ts';
import type { PartOutcome } from './conditions.ts';

/** HTTP statuses that mean "this object, as sent, is not accepted". */
const REFUSED = new Set([400, 403, 422]);

export const REFUSED_REASON = 'RefusedByAPIServer';

export interface Refusal {
  kind: string;
  namespace: string | undefined;
  name: string;
  code: number;
  /** The Status reason (Invalid, Forbidden, BadRequest), when the server sent one. */
  reason: string | undefined;
  /** The API server's message, with any value of a refused Secret removed. */
  message: string;
}

/** Thrown by the reconciler's writes when the API server refuses an owned object. */
export class ObjectRefusedError extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(describeRefusal(refusal));
    this.name = 'ObjectRefusedError';
    this.refusal = refusal;
  }
}

interface ApiErrorLike {
  statusCode: number;
  reason?: string | undefined;
  message: string;
}

function isApiError(error: unknown): error is ApiErrorLike {
  return (
    error instanceof Error &&
    typeof (error as { statusCode?: unknown }).statusCode === 'number' &&
    typeof error.message === 'string'
  );
}

/** The refusal this error is, for this object; undefined when the error is not a refusal. */
export function refusalOf(error: unknown, object: KubeObject): Refusal | undefined {
  if (!isApiError(error) || !REFUSED.has(error.statusCode)) return undefined;
  return {
    kind: object.kind,
    namespace: object.metadata.namespace,
    name: object.metadata.name ?? '',
    code: error.statusCode,
    reason: error.reason,
    message: withoutSecretValues(error.message, object),
  };
}

const REDACTED = '[redacted]';
/**
 * Values shorter than this are names (a user name, a region), not secrets: every secret value the
 * operator writes (keyrings, passwords) is far longer, and removing short values would mangle the message.
 */
const MIN_SECRET_LENGTH = 12;
/** Runs of base64, base64url or hex characters: the shape of key material and generated passwords. */
const TOKEN = /[A-Za-z0-9+/=_-]{12,}/g;

/**
 * The message without any value of a Secret (raw, base64 or decoded), nor any piece of one (a truncated
 * echo); unchanged for other kinds.
 */
export function withoutSecretValues(message: string, object: KubeObject): string {
  if (object.kind !== 'Secret') return message;
  const values: string[] = [];
  for (const [field, isBase64] of [
    ['data', true],
    ['stringData', false],
  ] as const) {
    const entries = (object as Record<string, unknown>)[field];
    if (typeof entries !== 'object' || entries === null) continue;
    for (const value of Object.values(entries)) {
      if (typeof value !== 'string') continue;
      const other = isBase64
        ? Buffer.from(value, 'base64').toString('utf8')
        : Buffer.from(value).toString('base64');
      values.push(...[value, other].filter((v) => v.length >= MIN_SECRET_LENGTH));
    }
  }
  if (values.length === 0) return message;
  let out = message;
  // Longest first, so that a value containing another is removed whole.
  for (const value of values.sort((a, b) => b.length - a.length)) out = out.split(value).join(REDACTED);
  return out.replace(TOKEN, (token) => (values.some((value) => value.includes(token)) ? REDACTED : token));
}

/** `the API server refused CronJob rennes/logical-backup (403 Forbidden): <its message>`. */
export function describeRefusal(r: Refusal): string {
  const where = r.namespace ? `${r.namespace}/${r.name}` : r.name;
  const status = r.reason ? `${r.code} ${r.reason}` : String(r.code);
  return `the API server refused ${r.kind} ${where} (${status}): ${r.message}`;
}

/** The part's outcome: not progressing (the same request will be refused again), so Stalled says so. */
export function refusedOutcome(type: PartOutcome['type'], r: Refusal): PartOutcome {
  return { type, status: 'False', reason: REFUSED_REASON, message: describeRefusal(r), progressing: false };
}
