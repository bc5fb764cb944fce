/**
 * A gate: a promise that waiters share until someone opens it once.
 *
 * @module
 */

/** A promise and the function that resolves it. */
export interface Gate {
  /** Resolves when the gate is opened. */
  promise: Promise<void>;
  /** Open the gate. */
  resolve: () => void;
}

/**
 * Create a closed gate.
 *
 * @returns The gate.
 */
export function newGate(): Gate {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Open a gate, if there is one.
 *
 * @param gate The gate or null.
 */
export function openGate(gate: Gate | null): void {
  gate?.resolve();
}
