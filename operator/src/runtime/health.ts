import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A check answers true/undefined when fine, or false / a string saying what is wrong. */
export type Check = () => boolean | string | undefined;

/**
 * /healthz (liveness: the process works and no loop is wedged — a failure makes the kubelet restart us),
 * /readyz (readiness: caches synced; a non-leader replica is ready too, it is a warm standby), /metrics.
 * Answers carry only check names and short reasons, never object contents.
 */
export class HealthServer {
  readonly #liveness = new Map<string, Check>();
  readonly #readiness = new Map<string, Check>();
  readonly #registry: Registry | undefined;
  #server: Server | undefined;

  constructor(options: { registry?: Registry } = {}) {
    this.#registry = options.registry;
  }

  addLivenessCheck(name: string, check: Check): void {
    this.#liveness.set(name, check);
  }

  addReadinessCheck(name: string, check: Check): void {
    this.#readiness.set(name, check);
  }

  /** Starts listening; resolves with the bound port (pass 0 for any free port). */
  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Runs a set of checks: [ok, report lines]. */
  static evaluate(checks: Map<string, Check>): { ok: boolean; lines: string[] } {
    let ok = true;
    const lines: string[] = [];
    for (const [name, check] of checks) {
      let result: boolean | string | undefined;
      try {
        result = check();
      } catch (error) {
        result = error instanceof Error ? error.message : 'check threw';
      }
      const fine = result === true || result === undefined;
      if (!fine) ok = false;
      lines.push(fine ? `[+]${name} ok` : `[-]${name} failed: ${result === false ? 'not ok' : result}`);
    }
    return { ok, lines };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez') return this.#report(res, this.#liveness, 'healthz');
    if (path === '/readyz') return this.#report(res, this.#readiness, 'readyz');
    if (path === '/metrics' && this.#registry) {
      try {
        const body = await this.#registry.metrics();
        res.writeHead(200, { 'Content-Type': this.#registry.contentType });
        res.end(body);
      } catch {
        res.writeHead(500).end('metrics collection failed\n');
      }
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  }

  #report(res: ServerResponse, checks: Map<string, Check>, what: string): void {
    const { ok, lines } = HealthServer.evaluate(checks);
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`${lines.join('\n')}${lines.length ? '\n' : ''}${what} ${ok ? 'ok' : 'failed'}\n`);
  }
}
