/**
 * What every part of a runner works with, built once by the runner and
 * handed to each part's constructor first; a part's own collaborators come
 * after it.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ResolvedRunnerConfig } from "./config.ts";
import type { Logger } from "./logger.ts";
import type { MessageQueue } from "./queue.ts";
import type { Reporter } from "./_report.ts";
import type { StatsCollector } from "./stats.ts";
import type { ResolvedTask } from "./task.ts";

/** The runner as its parts see it. */
export interface EngineContext {
  /** The transport. */
  readonly queue: MessageQueue;
  /** The runner's resolved options. */
  readonly config: ResolvedRunnerConfig;
  /** The runner clock (`config.clock`). */
  readonly clock: Clock;
  /** The runner's logger (`config.logger`). */
  readonly logger: Logger;
  /** Where failures and events go. */
  readonly reporter: Reporter;
  /** The registered tasks, by name (live: tasks may be registered while running). */
  readonly registry: Map<string, ResolvedTask>;
  /** Counts this runner's outcomes until the next stats flush. */
  readonly collector: StatsCollector;
  /** Whether the runner is running (not starting, stopping or idle). */
  isRunning(): boolean;
}
