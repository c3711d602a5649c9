// A job run periodically beside a service's consumers: one run at a time, each starting
// intervalMs after the previous one ended; a failed run is logged and retried next interval.
// Stopping wakes the wait, lets a run in progress finish, and runs no new one.
import type { Logger } from '../log.js';
import type { ServiceWorker } from './define-service.js';

export function periodicWorker(options: {
  name: string;
  /** 0 = never runs. */
  intervalMs: number;
  run: () => Promise<unknown>;
  log: Logger;
}): ServiceWorker {
  let running = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> = Promise.resolve();
  const sleep = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.intervalMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  return {
    name: options.name,
    start() {
      if (options.intervalMs === 0) return Promise.resolve();
      running = true;
      loop = (async () => {
        while (running) {
          await sleep();
          wake = undefined;
          if (!running) break;
          try {
            await options.run();
          } catch (error) {
            options.log.error(
              { err: error, job: options.name },
              'periodic run failed; retrying next interval',
            );
          }
        }
      })();
      return Promise.resolve();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
  };
}
