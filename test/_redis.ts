/**
 * Test harness: private `redis-server` processes on free loopback ports (or
 * unix sockets), started per test file and stopped by pid. Never touches the
 * shared server on 6379. Works on Node, Deno and Bun (`node:` built-ins only).
 *
 * @module
 */
import { after, before } from "node:test";
import { createClient, type RedisClientType } from "@redis/client";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createConnection, createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Servers still running when the test process exits (a failed `after`, a
// crash) are killed with it, so no redis-server outlives its test file.
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const c of live) {
        try {
          c.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    });
  }
}

/** Options for {@linkcode startRedis}. */
export interface StartRedisOptions {
  /** Enable AOF with this fsync policy (and a private data dir). */
  appendonly?: "always" | "everysec";
  /** Listen on a unix socket (in a private temp dir) instead of TCP. */
  unixSocket?: boolean;
  /** Extra `redis-server` arguments, e.g. `["--maxmemory-policy", "allkeys-lru"]`. */
  args?: string[];
  /** Fixed port (used by restart to come back on the same port). */
  port?: number;
  /** How long to wait for PING, in milliseconds. @default 10000 */
  startTimeout?: number;
}

/** A running private Redis server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` or `unix://<path>`. */
  url: string;
  /** TCP port (0 with a unix socket). */
  port: number;
  /** Unix socket path, when started with `unixSocket`. */
  socket?: string;
  /** Process id of the current server process. */
  pid: number;
  /** Private working directory (AOF files, socket). */
  dir: string;
  /** Stop the server (SIGTERM, then SIGKILL) and remove its directory. */
  stop(): Promise<void>;
  /** Send a signal to the server process (SIGKILL, SIGSTOP, SIGCONT...). */
  kill(signal: NodeJS.Signals): void;
  /** Stop (if running) and start again on the same port/socket and dir. */
  restart(): Promise<void>;
}

/** Find a free TCP port on 127.0.0.1 (never 6379). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const addr = srv.address();
        const p = typeof addr === "object" && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    // Cluster nodes also bind port + 10000: keep both in range.
    if (port !== 6379 && port < 55_000) return port;
  }
}

function ping(target: { port: number; socket?: string }, timeout: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = target.socket
      ? createConnection({ path: target.socket })
      : createConnection({ host: "127.0.0.1", port: target.port });
    let buf = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeout);
    sock.on("error", () => done(false));
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      buf += d.toString();
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Start a private redis-server with `--save "" --appendonly no` (unless AOF is
 * asked for) and wait until it answers PING.
 *
 * @param options What kind of server.
 * @returns The running server.
 * @throws Error when redis-server is missing or does not answer in time.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "tr-redis-"));
  const port = options.unixSocket ? 0 : options.port ?? await freePort();
  const socket = options.unixSocket ? join(dir, "redis.sock") : undefined;
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--save", "",
    "--dir", dir,
    "--daemonize", "no",
    "--loglevel", "warning",
    "--enable-debug-command", "local",
  ];
  if (options.appendonly) {
    args.push("--appendonly", "yes", "--appendfsync", options.appendonly);
  } else {
    args.push("--appendonly", "no");
  }
  if (socket) args.push("--unixsocket", socket, "--unixsocketperm", "700");
  args.push(...(options.args ?? []));
  const startTimeout = options.startTimeout ?? 10_000;

  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn("redis-server", args, { stdio: ["ignore", "ignore", "pipe"] });
    track(child);
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += d.toString()));
    let spawnError: Error | undefined;
    child.once("error", (e) => (spawnError = e));
    const deadline = Date.now() + startTimeout;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot start redis-server: ${spawnError.message}`);
      if (child.exitCode !== null) {
        throw new Error(`redis-server exited with ${child.exitCode}: ${stderr.trim()}`);
      }
      if (await ping({ port, socket }, 200)) {
        server.pid = child.pid!;
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    throw new Error(`redis-server on port ${port} did not answer PING within ${startTimeout} ms`);
  };

  const stopProcess = async (): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = exited(child);
    // A stopped (SIGSTOP) server cannot handle SIGTERM until continued.
    try {
      process.kill(child.pid!, "SIGCONT");
    } catch { /* already gone */ }
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
    await gone;
    clearTimeout(timer);
  };

  const server: RedisServer = {
    url: socket ? `unix://${socket}` : `redis://127.0.0.1:${port}`,
    port,
    socket,
    pid: 0,
    dir,
    async stop() {
      await stopProcess();
      rmSync(dir, { recursive: true, force: true });
    },
    kill(signal) {
      process.kill(child.pid!, signal);
    },
    async restart() {
      await stopProcess();
      await launch();
    },
  };
  await launch();
  return server;
}

/** A running private Redis Cluster. */
export interface RedisClusterServers {
  /** Node URLs (`redis://127.0.0.1:<port>`), one per master. */
  urls: string[];
  /** The servers, one per master. */
  nodes: RedisServer[];
  /** Stop every node. */
  stop(): Promise<void>;
}

/**
 * Start `masters` nodes with `--cluster-enabled yes` and join them with
 * `redis-cli --cluster create ... --cluster-yes`, waiting until the cluster
 * state is ok on every node.
 *
 * @param masters Number of master nodes. @default 3
 * @returns The running cluster.
 * @throws Error when the cluster cannot be formed.
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterServers> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedis({
          args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"],
        }),
      );
    }
    const created = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"],
      { encoding: "utf8", timeout: 30_000 },
    );
    if (created.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    }
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      for (;;) {
        const info = spawnSync("redis-cli", ["-p", String(node.port), "cluster", "info"], { encoding: "utf8" });
        if (info.stdout.includes("cluster_state:ok")) break;
        if (Date.now() > deadline) throw new Error(`cluster did not become ok: ${info.stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
  return {
    urls: nodes.map((n) => n.url),
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/** Run `redis-cli` against a server and return its stdout (trimmed). */
export function redisCli(server: { port: number; socket?: string }, ...args: string[]): string {
  const target = server.socket ? ["-s", server.socket] : ["-p", String(server.port)];
  const out = spawnSync("redis-cli", [...target, ...args], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(`redis-cli ${args.join(" ")} failed: ${out.stderr}`);
  return out.stdout.trim();
}

/** A client of {@linkcode usePrivateRedis}'s server: `createClient({ url })`'s type. */
// deno-lint-ignore ban-types
export type PrivateRedisClient = RedisClientType<{}, {}, {}, 3, {}>;

/**
 * A private server for the enclosing test file or `describe` block: started
 * in its `before` hook, stopped in its `after` hook. `connect()` opens a
 * client on it (errors while the server is down are the test's to observe,
 * not unhandled).
 */
export function usePrivateRedis(options: StartRedisOptions = {}): {
  readonly server: RedisServer;
  connect(): Promise<PrivateRedisClient>;
} {
  let server: RedisServer | undefined;
  before(async () => {
    server = await startRedis(options);
  });
  after(async () => {
    await server?.stop();
  });
  const started = (): RedisServer => {
    if (!server) throw new Error("usePrivateRedis: read before its before() hook ran");
    return server;
  };
  return {
    get server() {
      return started();
    },
    async connect() {
      const client: PrivateRedisClient = createClient({ url: started().url });
      client.on("error", () => {});
      await client.connect();
      return client;
    },
  };
}
