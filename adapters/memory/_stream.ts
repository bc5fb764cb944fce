/**
 * The ready-task stream of the memory queue and its consumer groups, shaped
 * like a Redis stream: entries in arrival order, one cursor per group for
 * entries never delivered to it, and a pending list per group recording the
 * owner, delivery count and idle time of every delivery not yet completed.
 * Completing a delivery removes its entry for every group (XACK + XDEL).
 *
 * @module
 */

import type { Delivery, DeliveryRef, ReclaimResult } from "../../src/queue.ts";

/** Compact the stream once it holds this many removed slots (and more than live ones). */
const COMPACT_MIN_HOLES = 1024;

/**
 * A task as stored in the stream (ready) or in the delayed schedule: the
 * delivery's task fields, without what a delivery adds (its id, count and
 * ready time), which the stream and the schedule keep themselves.
 */
export type StoredTask = Pick<
  Delivery,
  "id" | "name" | "body" | "attempt" | "reservationTimeout" | "dispatchedAt" | "unique" | "malformed"
>;

/** One stream entry: a ready task, removed when its delivery completes. */
export interface Entry {
  deliveryId: string;
  /** Position in the stream array; updated by compaction. */
  index: number;
  task: StoredTask;
  readyAt: number;
  removed: boolean;
}

/** One delivery in a group's pending list. */
export interface Pending {
  entry: Entry;
  consumer: string;
  deliveryCount: number;
  /** Last delivery, reclaim or heartbeat: idle time is measured from here. */
  lastSeen: number;
  /** The stored entry was removed while this delivery was pending. */
  gone: boolean;
}

/** A consumer group: its cursor, pending list and members. */
export interface Group {
  /** Stream position of the next entry never delivered to this group. */
  cursor: number;
  /** Live entries before `cursor` (delivered to this group, not yet removed). */
  liveBeforeCursor: number;
  /** Where the next reclaim scan starts. */
  reclaimCursor: number;
  pending: Map<string, Pending>;
  /** Consumer name → delivery ids it owns. */
  consumers: Map<string, Set<string>>;
  /** Pending deliveries whose entry was removed, reported by the next reclaim. */
  lost: Set<string>;
}

/**
 * Entries in an array with removed slots set to null, compacted once the
 * removed outnumber the live, so append, delivery and removal are O(1)
 * amortised and a group's cursor is a plain index.
 */
export class TaskStream {
  #slots: (Entry | null)[] = [];
  #live = 0;
  #holes = 0;
  #nextId = 1;
  #groups = new Map<string, Group>();

  /** Number of entries in the stream. */
  get live(): number {
    return this.#live;
  }

  /** Append a ready task; it becomes visible to every group. */
  append(task: StoredTask, readyAt: number): Entry {
    const entry: Entry = {
      deliveryId: String(this.#nextId++),
      index: this.#slots.length,
      task,
      readyAt,
      removed: false,
    };
    this.#slots.push(entry);
    this.#live++;
    return entry;
  }

  /** The group called `name`, created at the start of the stream if missing. */
  group(name: string): Group {
    let group = this.#groups.get(name);
    if (!group) {
      group = {
        cursor: 0,
        liveBeforeCursor: 0,
        reclaimCursor: 0,
        pending: new Map(),
        consumers: new Map(),
        lost: new Set(),
      };
      this.#groups.set(name, group);
    }
    return group;
  }

  /** The group called `name` if it exists. */
  findGroup(name: string): Group | undefined {
    return this.#groups.get(name);
  }

  /** Entries not yet delivered to `group` (all of them for a missing group). */
  waiting(group: Group | undefined): number {
    return this.#live - (group?.liveBeforeCursor ?? 0);
  }

  /** The delivery ids `name` owns in `group`, registering the consumer. */
  owned(group: Group, name: string): Set<string> {
    let owned = group.consumers.get(name);
    if (!owned) {
      owned = new Set();
      group.consumers.set(name, owned);
    }
    return owned;
  }

  /** The pending delivery if `consumer` owns it with the same delivery count. */
  owner(group: Group, consumer: string, ref: DeliveryRef): Pending | undefined {
    const pending = group.pending.get(ref.deliveryId);
    if (!pending || pending.consumer !== consumer || pending.deliveryCount !== ref.deliveryCount) {
      return undefined;
    }
    return pending;
  }

  /** Deliver up to `count` entries never delivered to `group` to `consumer`. */
  deliver(group: Group, consumer: string, count: number, now: number): Delivery[] {
    const out: Delivery[] = [];
    const slots = this.#slots;
    if (group.cursor >= slots.length) return out;
    const owned = this.owned(group, consumer);
    while (out.length < count && group.cursor < slots.length) {
      const entry = slots[group.cursor++];
      if (!entry) continue;
      group.liveBeforeCursor++;
      group.pending.set(entry.deliveryId, { entry, consumer, deliveryCount: 1, lastSeen: now, gone: false });
      owned.add(entry.deliveryId);
      out.push(toDelivery(entry, 1));
    }
    return out;
  }

  /** Complete a delivery: drop it from its group and remove its entry. */
  complete(group: Group, pending: Pending): void {
    this.drop(group, pending);
    if (!pending.entry.removed) this.remove(pending.entry);
  }

  /** Drop a delivery from its group's pending list (its entry stays). */
  drop(group: Group, pending: Pending): void {
    const id = pending.entry.deliveryId;
    group.pending.delete(id);
    group.lost.delete(id);
    group.consumers.get(pending.consumer)?.delete(id);
  }

  /** Remove an entry for every group; deliveries of it still pending become lost. */
  remove(entry: Entry): void {
    entry.removed = true;
    this.#slots[entry.index] = null;
    this.#live--;
    this.#holes++;
    for (const group of this.#groups.values()) {
      if (entry.index < group.cursor) group.liveBeforeCursor--;
      const pending = group.pending.get(entry.deliveryId);
      if (pending && pending.entry === entry) {
        pending.gone = true;
        group.lost.add(entry.deliveryId);
      }
    }
    if (this.#holes >= COMPACT_MIN_HOLES && this.#holes > this.#live) this.#compact();
  }

  /** The entry with this delivery id; a linear scan, for test hooks only. */
  find(deliveryId: string): Entry | undefined {
    return this.#slots.find((e) => e !== null && e.deliveryId === deliveryId) ?? undefined;
  }

  /**
   * Give `consumer` up to `count` deliveries of `group` idle for at least
   * their reservation timeout, counting one more delivery each; report and
   * drop pending deliveries whose entry was removed. The scan resumes where
   * the previous one stopped and covers the pending list at most once.
   */
  reclaim(group: Group, consumer: string, count: number, now: number): ReclaimResult {
    const owned = this.owned(group, consumer);
    const lost: string[] = [];
    for (const deliveryId of group.lost) {
      const pending = group.pending.get(deliveryId);
      if (pending) this.drop(group, pending);
      lost.push(deliveryId);
    }
    group.lost.clear();

    const deliveries: Delivery[] = [];
    const total = group.pending.size;
    const end = group.cursor;
    let i = group.reclaimCursor < end ? group.reclaimCursor : 0;
    let visited = 0;
    for (let scanned = 0; scanned < end && visited < total && deliveries.length < count; scanned++) {
      if (i >= end) i = 0;
      const entry = this.#slots[i++];
      if (!entry) continue;
      const pending = group.pending.get(entry.deliveryId);
      if (!pending) continue;
      visited++;
      if (now - pending.lastSeen < entry.task.reservationTimeout) continue;
      if (pending.consumer !== consumer) {
        group.consumers.get(pending.consumer)?.delete(entry.deliveryId);
        owned.add(entry.deliveryId);
        pending.consumer = consumer;
      }
      pending.deliveryCount++;
      pending.lastSeen = now;
      deliveries.push(toDelivery(entry, pending.deliveryCount));
    }
    group.reclaimCursor = i;
    return { deliveries, lost };
  }

  /** Drop removed slots; O(n), run once removed slots outnumber live ones. */
  #compact(): void {
    const old = this.#slots;
    const liveBefore = new Uint32Array(old.length + 1);
    const next: Entry[] = [];
    for (let i = 0; i < old.length; i++) {
      liveBefore[i] = next.length;
      const entry = old[i];
      if (entry) {
        entry.index = next.length;
        next.push(entry);
      }
    }
    liveBefore[old.length] = next.length;
    for (const group of this.#groups.values()) {
      group.cursor = liveBefore[Math.min(group.cursor, old.length)];
      group.reclaimCursor = liveBefore[Math.min(group.reclaimCursor, old.length)];
    }
    this.#slots = next;
    this.#holes = 0;
  }
}

/** The delivery a consumer sees for `entry` (a fresh object each time). */
export function toDelivery(entry: Entry, deliveryCount: number): Delivery {
  const task = entry.task;
  const delivery: Delivery = {
    deliveryId: entry.deliveryId,
    deliveryCount,
    id: task.id,
    name: task.name,
    body: task.body,
    attempt: task.attempt,
    reservationTimeout: task.reservationTimeout,
    dispatchedAt: task.dispatchedAt,
    readyAt: entry.readyAt,
  };
  if (task.unique) delivery.unique = { key: task.unique.key, token: task.unique.token };
  if (task.malformed !== undefined) {
    delivery.malformed = task.malformed;
    delivery.name = "";
    delivery.body = "";
  }
  return delivery;
}
