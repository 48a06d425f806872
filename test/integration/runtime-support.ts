// Support for the runtime's integration tests (not a test file itself): a TCP proxy in front of the
// real kube-apiserver, so tests can break, freeze or refuse connections the way a flaky network or a
// load balancer does, and a KubeConfig pointing through it. TLS passes through untouched.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { testKubeConfig } from '../support/kube.ts';

export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ client: Socket; upstream: Socket }>();
  #refusing = false;
  port = 0;

  private constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => {
      if (this.#refusing) {
        client.destroy();
        return;
      }
      const upstream = connect(target.port, target.host);
      const pair = { client, upstream };
      this.#pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.#pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    const address = proxy.#server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    proxy.port = address.port;
    return proxy;
  }

  /** Resets every open connection (like a crashed load balancer). */
  cut(): void {
    for (const { client, upstream } of this.#pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** Existing connections stay open but deliver nothing more (a half-dead connection); new ones work. */
  freeze(): void {
    for (const { client, upstream } of this.#pairs) {
      upstream.unpipe(client);
      upstream.pause();
    }
    this.#pairs.clear();
  }

  /** While true, new connections are closed at once. */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  openConnections(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The test control plane's API server address. */
export function apiServerAddress(kubeConfig: KubeConfig = testKubeConfig()): { host: string; port: number } {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error('test kubeconfig has no current cluster');
  const url = new URL(server);
  return { host: url.hostname, port: Number(url.port || 443) };
}

/** The admin KubeConfig, but reaching the API server through `proxy`. */
export function kubeConfigThrough(proxy: TcpProxy): KubeConfig {
  const base = testKubeConfig();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: base.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${proxy.port}` })),
    users: base.users,
    contexts: base.contexts,
    currentContext: base.currentContext,
  });
  return kc;
}
