// Takes a sample at once and then at fixed instants (start + k × everyMs, not "everyMs after the
// last one"), so a slow sample does not stretch the timeline; records when each was begun.
import { sleep } from './ports';

export interface Tick<T> {
  /** Seconds since the ticker started, when the sample was begun. */
  t: number;
  value: T;
}

export interface Ticker<T> {
  stop(): Promise<Tick<T>[]>;
}

export function startTicker<T>(everyMs: number, take: () => Promise<T>): Ticker<T> {
  const start = Date.now();
  const ticks: Tick<T>[] = [];
  let running = true;
  const loop = (async () => {
    for (let k = 0; running; k++) {
      await sleep(Math.max(0, start + k * everyMs - Date.now()));
      if (!running) break;
      const at = Date.now();
      ticks.push({ t: (at - start) / 1000, value: await take() });
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return ticks;
    },
  };
}
