/**
 * The monitor as a plain fetch handler under `Deno.serve`, with a demo
 * runner producing work so the dashboard has something to show.
 *
 *   ./node_modules/.bin/deno run -A examples/monitor-deno.ts     # in-memory queue
 *   REDIS_URL=redis://127.0.0.1:6379 ./node_modules/.bin/deno run -A examples/monitor-deno.ts
 *
 * Then open http://127.0.0.1:3000/tasks/ (PORT changes the port).
 */
import { createMonitorHandler } from "../adapters/hono/mod.ts";
import { startDemo } from "./_monitor_demo.ts";

declare const Deno: {
  serve(
    options: { hostname: string; port: number; signal?: AbortSignal; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void> };
  env: { get(name: string): string | undefined };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

const demo = await startDemo();
const port = Number(Deno.env.get("PORT") ?? 3000);

// No Hono app of our own: the handler answers everything under /tasks.
const monitor = createMonitorHandler({
  runner: demo.runner,
  basePath: "/tasks",
  // Acceptable only because this server listens on loopback; authenticate in production.
  actions: true,
  authorize: () => true,
});

const abort = new AbortController();
const server = Deno.serve(
  {
    hostname: "127.0.0.1",
    port,
    signal: abort.signal,
    onListen: (addr) => console.log(`Monitoring ${demo.where}: http://127.0.0.1:${addr.port}/tasks/  (Ctrl-C to stop)`),
  },
  (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/") return Response.redirect(new URL("/tasks/", url), 302);
    return monitor(request);
  },
);

const shutdown = async () => {
  console.log("stopping…");
  abort.abort();
  await demo.stop();
  await server.finished;
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
