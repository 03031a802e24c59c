// How evenly a quantity (connections, requests) spreads over processes.

export interface Spread {
  counts: number[];
  /** Each count as a fraction of the total. */
  shares: number[];
  /** Largest share over smallest; Infinity when a process got none. */
  maxOverMin: number;
}

export function spread(counts: number[]): Spread {
  const total = counts.reduce((a, b) => a + b, 0);
  const shares = counts.map((c) => (total === 0 ? 0 : c / total));
  const max = Math.max(...counts);
  const min = Math.min(...counts);
  return { counts, shares, maxOverMin: min === 0 ? (max === 0 ? 1 : Infinity) : max / min };
}

export const formatRatio = (r: number) => (Number.isFinite(r) ? r.toFixed(2) : '∞');

export const formatShares = (s: Spread) => s.shares.map((x) => (x * 100).toFixed(1)).join(' / ');
