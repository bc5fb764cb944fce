/**
 * The monitor as a plain fetch handler under `Bun.serve`, with a demo
 * runner producing work so the dashboard has something to show.
 *
 *   ./node_modules/.bin/bun run examples/monitor-bun.ts          # in-memory queue
 *   REDIS_URL=redis://127.0.0.1:6379 ./node_modules/.bin/bun run examples/monitor-bun.ts
 *
 * Then open http://127.0.0.1:3000/tasks/ (PORT changes the port).
 */
import { createMonitorHandler } from "../adapters/hono/mod.ts";
import { startDemo } from "./_monitor_demo.ts";

declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout?: number;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { port: number; stop(closeActive?: boolean): Promise<void> };
};

const demo = await startDemo();

const monitor = createMonitorHandler({
  runner: demo.runner,
  basePath: "/tasks",
  // Acceptable only because this server listens on loopback; authenticate in production.
  actions: true,
  authorize: () => true,
});

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 3000),
  // The live stream sends a frame every second; Bun's default 10 s idle timeout is fine,
  // but 0 keeps slow intervals (sseInterval > 10 s) open too.
  idleTimeout: 0,
  fetch: (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/") return Response.redirect(new URL("/tasks/", url).toString(), 302);
    return monitor(request);
  },
});
console.log(`Monitoring ${demo.where}: http://127.0.0.1:${server.port}/tasks/  (Ctrl-C to stop)`);

const shutdown = async () => {
  console.log("stopping…");
  await server.stop(true);
  await demo.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
