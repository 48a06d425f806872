// The operator as a real OS process (`node operator/src/cli/manager.ts`), the way a Deployment runs
// it: the chaos suite SIGKILLs it, restarts it, runs two replicas with leader election, and reads its
// /metrics. Every line it prints is kept (in memory and in a log file) so the suite can grep them all
// for secrets at the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const MANAGER = fileURLToPath(new URL('../../../operator/src/cli/manager.ts', import.meta.url));

export interface OperatorProcessOptions {
  /** Identity (POD_NAME): the leader Lease holder and the log file name. */
  identity: string;
  kubeconfigPath: string;
  configPath: string;
  logPath: string;
  /** Lease namespace: run as one of several replicas. */
  leaseNamespace?: string;
  logLevel?: string;
  /** Every captured line also goes here (for the secrets grep and the report). */
  sink: string[];
}

/** A free TCP port on loopback (the health server binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
    server.on('error', reject);
  });
}

export class OperatorProcess {
  readonly identity: string;
  readonly healthPort: number;
  readonly startedAt = Date.now();
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly #exited: Promise<void>;

  private constructor(options: OperatorProcessOptions, healthPort: number) {
    this.identity = options.identity;
    this.healthPort = healthPort;
    const args = [
      MANAGER,
      '--config',
      options.configPath,
      '--kubeconfig',
      options.kubeconfigPath,
      '--health-port',
      String(healthPort),
      '--log-level',
      options.logLevel ?? 'debug',
    ];
    if (options.leaseNamespace) args.push('--leader-elect', '--lease-namespace', options.leaseNamespace);
    this.#log = createWriteStream(options.logPath, { flags: 'a' });
    // process.execPath: the Node 24 that runs this suite (npm puts the project's node first on PATH).
    this.#child = spawn(process.execPath, args, {
      env: { ...process.env, POD_NAME: options.identity },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const capture = (stream: NodeJS.ReadableStream | null) => {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        this.#log.write(chunk);
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line) options.sink.push(line);
      });
      stream?.on('end', () => {
        if (rest) options.sink.push(rest);
      });
    };
    capture(this.#child.stdout);
    capture(this.#child.stderr);
    this.#exited = new Promise((resolveExit) => {
      this.#child.on('exit', (code, signal) => {
        this.#exit = { code, signal };
        this.#log.end();
        resolveExit();
      });
    });
  }

  static async start(options: OperatorProcessOptions): Promise<OperatorProcess> {
    return new OperatorProcess(options, await freePort());
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Undefined while running. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.#exit;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.#exit) return;
    this.#child.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await this.#exited;
  }

  /** Pauses (SIGSTOP) or resumes (SIGCONT) the process: a long GC pause or a frozen VM. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.#child.kill(signal);
  }

  waitExit(): Promise<void> {
    return this.#exited;
  }

  /** GET on the health server; undefined when it does not answer (not started yet, or paused). */
  async get(path: string, timeoutMs = 2_000): Promise<{ status: number; body: string } | undefined> {
    return new Promise((resolveAnswer) => {
      const req = request({ host: '127.0.0.1', port: this.healthPort, path, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolveAnswer({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolveAnswer(undefined));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolveAnswer(undefined));
      req.end();
    });
  }

  async metrics(): Promise<Metrics | undefined> {
    const answer = await this.get('/metrics');
    return answer?.status === 200 ? parseMetrics(answer.body) : undefined;
  }

  async ready(): Promise<boolean> {
    return (await this.get('/readyz'))?.status === 200;
  }
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class Metrics {
  readonly samples: Sample[];
  readonly text: string;

  constructor(samples: Sample[], text: string) {
    this.samples = samples;
    this.text = text;
  }

  /** Sum of every sample of `name` whose labels match `where` (a predicate). */
  sum(name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
    return this.samples
      .filter((s) => s.name === name && where(s.labels))
      .reduce((total, s) => total + s.value, 0);
  }
}

/** Prometheus text exposition format, the subset prom-client writes. */
export function parseMetrics(text: string): Metrics {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] ?? ''] = (pair[2] ?? '').replace(/\\(.)/g, '$1');
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[4]) });
  }
  return new Metrics(samples, text);
}

/** Writes the operator makes to the API server (its Lease excluded: standbys try to acquire it). */
export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'apply']);

export function requestCount(
  metrics: Metrics,
  filter: (labels: Record<string, string>) => boolean = () => true,
): number {
  return metrics.sum('rest_client_requests_total', filter);
}

export function writeCount(metrics: Metrics): number {
  return requestCount(metrics, (l) => WRITE_VERBS.has(l.verb ?? '') && l.resource !== 'leases');
}
