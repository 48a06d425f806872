// A TCP proxy between the operator and kube-apiserver that injects network faults without touching
// TLS (bytes pass through untouched, the operator still verifies the server's certificate):
// - latency: every chunk, both ways, is delivered `ms` later (order kept);
// - cut: every open connection is reset (a crashed load balancer);
// - freeze: open connections stay up but deliver nothing more (a half-dead connection; only a client
//   that puts deadlines on silent watches notices);
// - refuse: new connections are closed at once (the API server unreachable).
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
}

export class FaultProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  readonly #target: { host: string; port: number };
  #latencyMs = 0;
  #refusing = false;
  port = 0;
  connectionsAccepted = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolveListen) => proxy.#server.listen(0, '127.0.0.1', resolveListen));
    const address = proxy.#server.address();
    if (!address || typeof address === 'string') throw new Error('fault proxy has no port');
    proxy.port = address.port;
    return proxy;
  }

  #accept(client: Socket): void {
    if (this.#refusing) {
      client.destroy();
      return;
    }
    this.connectionsAccepted++;
    const upstream = connect(this.#target.port, this.#target.host);
    const pair: Pair = { client, upstream, frozen: false };
    this.#pairs.add(pair);
    this.#relay(client, upstream, pair);
    this.#relay(upstream, client, pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  }

  /** Copies `from` to `to`, each chunk delayed by the current latency, never reordered. */
  #relay(from: Socket, to: Socket, pair: Pair): void {
    let nextAt = 0;
    from.on('data', (chunk: Buffer) => {
      if (pair.frozen) return;
      const at = Math.max(Date.now() + this.#latencyMs, nextAt);
      nextAt = at;
      const deliver = () => {
        if (!pair.frozen && !to.destroyed) to.write(chunk);
      };
      const wait = at - Date.now();
      if (wait <= 0) deliver();
      else setTimeout(deliver, wait);
    });
  }

  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  cut(): void {
    for (const pair of this.#pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
  }

  freeze(): void {
    for (const pair of this.#pairs) pair.frozen = true;
  }

  refuse(on: boolean): void {
    this.#refusing = on;
  }

  openConnections(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolveClose) => this.#server.close(() => resolveClose()));
  }
}
