// A raw HTTPS client for the test control plane's API server, able to act AS someone else:
// `Impersonate-User` / `Impersonate-Group` headers on the admin's client certificate, the way
// `kubectl --as --as-group` does. The typed client only impersonates a user, never groups, and
// tenants are granted access by group. Used by the isolation tests and the chaos suite.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { parse } from 'yaml';

export interface Identity {
  user: string;
  groups: string[];
}

/** A Kubernetes object as JSON (the fields the chaos suite reads). */
export interface KubeItem {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; kind: string; name: string; controller?: boolean }[];
    managedFields?: { manager?: string; operation?: string; time?: string; subresource?: string }[];
  };
  [field: string]: unknown;
}

export interface HttpResult {
  status: number;
  /** Parsed JSON when the answer is JSON, else the raw text. */
  body: unknown;
  text: string;
}

interface KubeconfigFile {
  clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
}

export class KubeHttp {
  readonly server: string;
  readonly #agent: Agent;
  readonly #identity: Identity | undefined;

  private constructor(server: string, agent: Agent, identity?: Identity) {
    this.server = server;
    this.#agent = agent;
    this.#identity = identity;
  }

  /** The admin of a kubeconfig written by test/controlplane (certificates embedded). */
  static fromKubeconfig(path: string): KubeHttp {
    const config = parse(readFileSync(path, 'utf8')) as KubeconfigFile;
    const cluster = config.clusters[0]?.cluster;
    const user = config.users[0]?.user;
    if (!cluster || !user)
      throw new Error(`${path}: expected one cluster and one user with embedded certificates`);
    const pem = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
    const agent = new Agent({
      keepAlive: true,
      ca: pem(cluster['certificate-authority-data']),
      cert: pem(user['client-certificate-data']),
      key: pem(user['client-key-data']),
    });
    return new KubeHttp(cluster.server.replace(/\/+$/, ''), agent);
  }

  /** The same connection, acting as `identity` (the admin certificate may impersonate anyone). */
  as(identity: Identity): KubeHttp {
    return new KubeHttp(this.server, this.#agent, identity);
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    timeoutMs = 30_000,
  ): Promise<HttpResult> {
    const headers: Record<string, string | string[]> = { Accept: 'application/json' };
    if (this.#identity) {
      headers['Impersonate-User'] = this.#identity.user;
      // One header line per group: node sends an array as repeated headers.
      headers['Impersonate-Group'] = this.#identity.groups;
    }
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    if (payload !== undefined) headers['Content-Type'] = contentType;
    return new Promise((resolveResult, reject) => {
      const req = request(
        `${this.server}${path}`,
        { method, agent: this.#agent, headers, timeout: timeoutMs },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
          });
          response.on('end', () => {
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: keep the text
            }
            resolveResult({ status: response.statusCode ?? 0, body: parsed, text });
          });
          response.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs}ms`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get(path: string): Promise<HttpResult> {
    return this.request('GET', path);
  }

  /** Every item of a collection (all pages), and the list's resourceVersion. */
  async list<T = KubeItem>(path: string): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page = await this.get(
        `${path}${sep}limit=500${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
      );
      if (page.status !== 200) throw new Error(`GET ${path}: ${page.status} ${page.text.slice(0, 300)}`);
      const body = page.body as { items: T[]; metadata: { continue?: string; resourceVersion: string } };
      items.push(...body.items);
      token = body.metadata.continue || undefined;
      resourceVersion = body.metadata.resourceVersion;
    } while (token);
    return { items, resourceVersion };
  }

  /**
   * A watch stream: `onEvent` for each event until `stop()` or the server ends it (then `onEnd`).
   * Deliberately simple: callers that must not miss anything re-list on `onEnd`.
   */
  watch(
    path: string,
    onEvent: (type: string, object: KubeItem) => void,
    onEnd: (error?: Error) => void,
  ): { stop(): void } {
    const sep = path.includes('?') ? '&' : '?';
    const headers: Record<string, string | string[]> = { Accept: 'application/json' };
    if (this.#identity) {
      headers['Impersonate-User'] = this.#identity.user;
      headers['Impersonate-Group'] = this.#identity.groups;
    }
    let ended = false;
    const end = (error?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(error);
    };
    const req = request(`${this.server}${path}${sep}watch=true&allowWatchBookmarks=true`, {
      method: 'GET',
      agent: this.#agent,
      headers,
    });
    req.on('response', (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        end(new Error(`watch ${path}: HTTP ${response.statusCode}`));
        return;
      }
      let rest = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.trim()) continue;
          const event = JSON.parse(line) as { type: string; object: KubeItem };
          onEvent(event.type, event.object);
        }
      });
      response.on('end', () => end());
      response.on('error', (error) => end(error));
    });
    req.on('error', (error) => end(error));
    req.end();
    return {
      stop: () => {
        ended = true;
        req.destroy();
      },
    };
  }

  /** Server-side apply (force) of one object at its own URL. */
  apply(path: string, object: unknown, fieldManager: string): Promise<HttpResult> {
    const sep = path.includes('?') ? '&' : '?';
    return this.request(
      'PATCH',
      `${path}${sep}fieldManager=${encodeURIComponent(fieldManager)}&force=true`,
      object,
      'application/apply-patch+yaml',
    );
  }

  /** Whether `identity` may do this, according to the API server's authorizer (SubjectAccessReview). */
  async canI(
    identity: Identity,
    attributes: {
      verb: string;
      group?: string;
      resource: string;
      namespace?: string;
      name?: string;
      subresource?: string;
    },
  ): Promise<boolean> {
    const review = await this.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: identity.user,
        groups: identity.groups,
        resourceAttributes: { group: '', ...attributes },
      },
    });
    if (review.status !== 201 && review.status !== 200) {
      throw new Error(`SubjectAccessReview failed (${review.status}): ${review.text.slice(0, 300)}`);
    }
    return (review.body as { status?: { allowed?: boolean } }).status?.allowed === true;
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** The URL path of a built-in or custom object (collection path when `name` is omitted). */
export function objectPath(o: {
  apiVersion: string;
  kind: string;
  namespace?: string | undefined;
  name?: string | undefined;
}): string {
  const plural = PLURALS[o.kind];
  if (!plural) throw new Error(`objectPath: unknown kind ${o.kind}`);
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = o.namespace ? `/namespaces/${o.namespace}` : '';
  return `${base}${ns}/${plural}${o.name ? `/${o.name}` : ''}`;
}

const PLURALS: Record<string, string> = {
  Namespace: 'namespaces',
  Secret: 'secrets',
  ConfigMap: 'configmaps',
  Pod: 'pods',
  ResourceQuota: 'resourcequotas',
  LimitRange: 'limitranges',
  NetworkPolicy: 'networkpolicies',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  CronJob: 'cronjobs',
  Event: 'events',
  Lease: 'leases',
  Territory: 'territories',
  Cluster: 'clusters',
  ScheduledBackup: 'scheduledbackups',
  Backup: 'backups',
  ServiceAccount: 'serviceaccounts',
};
