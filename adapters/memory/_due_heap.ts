/**
 * A binary min-heap of items ordered by due time, then by insertion order,
 * so delayed tasks due at the same millisecond are promoted in the order
 * they were scheduled.
 *
 * @module
 */

/** An item scheduled for a due time (epoch milliseconds). */
export interface Due<T> {
  dueAt: number;
  seq: number;
  value: T;
}

/** Min-heap on `(dueAt, seq)`: push and pop are O(log n), peek is O(1). */
export class DueHeap<T> {
  #items: Due<T>[] = [];
  #seq = 0;

  /** Number of scheduled items. */
  get size(): number {
    return this.#items.length;
  }

  /** The earliest item, or undefined when empty. */
  peek(): Due<T> | undefined {
    return this.#items[0];
  }

  /** Schedule `value` at `dueAt`. */
  push(dueAt: number, value: T): void {
    const items = this.#items;
    items.push({ dueAt, seq: this.#seq++, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  /** Remove and return the earliest item, or undefined when empty. */
  pop(): Due<T> | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && before(items[left], items[smallest])) smallest = left;
      if (right < items.length && before(items[right], items[smallest])) smallest = right;
      if (smallest === i) break;
      [items[i], items[smallest]] = [items[smallest], items[i]];
      i = smallest;
    }
    return top;
  }
}

function before<T>(a: Due<T>, b: Due<T>): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
}
