/**
 * Small statistics helpers for the benchmark.
 *
 * @module
 */

/**
 * Percentile by the nearest-rank method.
 * @param sorted values sorted ascending
 * @param p percentile in [0, 100]
 * @returns the value at that rank, NaN for an empty list
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * Median of a list (mean of the two middle values for an even length).
 * @param values any order
 * @returns the median, NaN for an empty list
 */
export function median(values: readonly number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * p50/p95/p99 and max of a sample.
 * @param values any order
 * @returns the summary
 */
export function summary(values: readonly number[]): { p50: number; p95: number; p99: number; max: number; n: number } {
  const s = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1] : NaN,
    n: s.length,
  };
}

/** Current wall-clock time in milliseconds with sub-millisecond precision, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
