/**
 * The monitor mounted in a Hono app served by Node (`@hono/node-server`),
 * with a demo runner producing work so the dashboard has something to show.
 *
 *   ./node_modules/.bin/node examples/monitor-node.ts           # in-memory queue
 *   REDIS_URL=redis://127.0.0.1:6379 ./node_modules/.bin/node examples/monitor-node.ts
 *
 * Then open http://127.0.0.1:3000/tasks/ (PORT changes the port).
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createMonitor } from "../adapters/hono/mod.ts";
import { startDemo } from "./_monitor_demo.ts";

const demo = await startDemo();
const port = Number(process.env.PORT ?? 3000);

const app = new Hono();
app.get("/", (c) => c.redirect("/tasks/"));
app.route(
  "/tasks",
  createMonitor({
    runner: demo.runner,
    // Actions (replay/delete dead letters, pause) with no check at all are
    // only acceptable because this server listens on loopback. In production,
    // authenticate: `authorize: (c) => isOperator(c)`, or a middleware such as
    // `app.use("/tasks/*", basicAuth(...))` in front of the monitor.
    actions: true,
    authorize: () => true,
  }),
);

const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port }, (info) => {
  console.log(`Monitoring ${demo.where}: http://127.0.0.1:${info.port}/tasks/  (Ctrl-C to stop)`);
});

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log("stopping…");
  server.close();
  (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  await demo.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
