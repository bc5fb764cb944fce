/**
 * A small TCP proxy on loopback for network faults a test can switch at any
 * moment: `pass` forwards both ways, `blackhole` keeps every socket open but
 * silently drops the bytes (a partition nobody is told about), and `cut()`
 * resets every open connection (new ones are accepted again at once).
 *
 * Runs inside the test process with `node:net`, so it works on Node, Deno and
 * Bun alike; no root, no netem, no iptables.
 *
 * @module
 */
import net from "node:net";

/** How the proxy treats traffic right now. */
export type ProxyMode = "pass" | "blackhole";

/** A running proxy in front of one TCP target. */
export class FaultProxy {
  /** Loopback port the clients connect to. */
  readonly port: number;
  #server: net.Server;
  #mode: ProxyMode = "pass";
  #pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  /** Connections accepted since start (reconnects show up here). */
  accepted = 0;

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /**
   * Start a proxy on a free loopback port forwarding to `targetPort`.
   *
   * @param targetPort Port of the real server on 127.0.0.1.
   * @returns The running proxy.
   */
  static async start(targetPort: number): Promise<FaultProxy> {
    const holder: { proxy?: FaultProxy } = {};
    const server = net.createServer((client) => holder.proxy!.#accept(client, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address() as net.AddressInfo;
    holder.proxy = new FaultProxy(server, address.port);
    return holder.proxy;
  }

  /** Current mode. */
  get mode(): ProxyMode {
    return this.#mode;
  }

  /** Open client connections. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Switch mode; existing and new connections follow it at once. */
  setMode(mode: ProxyMode): void {
    this.#mode = mode;
    for (const pair of this.#pairs) {
      if (mode === "pass") {
        pair.client.resume();
        pair.upstream.resume();
      } else {
        pair.client.pause();
        pair.upstream.pause();
      }
    }
  }

  /** Reset every open connection (both sides see the socket die). */
  cut(): void {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket, targetPort: number): void {
    this.accepted++;
    const upstream = net.connect(targetPort, "127.0.0.1");
    const pair = { client, upstream };
    this.#pairs.add(pair);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    if (this.#mode === "blackhole") {
      client.pause();
      upstream.pause();
    }
  }
}
