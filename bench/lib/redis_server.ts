/**
 * Start and stop a private `redis-server` for the benchmark: loopback only,
 * a free port, no persistence. The server is stopped by its own pid; no
 * other server is ever touched.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect } from "node:net";

/** A running private Redis server. */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  port: number;
  pid: number;
  /** Command-line arguments the server was started with. */
  args: string[];
  /** Stop the server (SIGTERM, then SIGKILL after 2 s). */
  stop(): Promise<void>;
}

/** Ask the kernel for a free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let buf = "";
    sock.setTimeout(500, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once("error", () => resolve(false));
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      buf += d.toString();
      if (buf.includes("\r\n")) {
        sock.destroy();
        resolve(buf.startsWith("+PONG"));
      }
    });
  });
}

/**
 * Start `redis-server` on a free loopback port with `--save "" --appendonly no`.
 * @param bin path of the redis-server binary
 * @returns the running server
 * @throws Error when the server does not answer PING within 5 s
 */
export async function startRedis(bin = "redis-server"): Promise<PrivateRedis> {
  const port = await freePort();
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--save", "",
    "--appendonly", "no",
    "--protected-mode", "yes",
    "--daemonize", "no",
    "--loglevel", "warning",
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ["ignore", "ignore", "inherit"] });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`redis-server exited at start (port ${port})`);
    if (await ping(port)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!(await ping(port))) {
    child.kill("SIGKILL");
    throw new Error(`redis-server on port ${port} did not answer PING`);
  }
  const pid = child.pid ?? -1;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    args,
    stop(): Promise<void> {
      if (exited) return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(() => child.kill("SIGKILL"), 2000);
        child.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
        child.kill("SIGTERM");
      });
    },
  };
}
