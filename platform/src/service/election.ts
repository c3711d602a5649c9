// Coordination between instances of one service through PostgreSQL session advisory locks
// (two-key form, its own key space apart from the outbox relay's one-key locks). A session lock
// is held by a connection: when the holding process dies, PostgreSQL ends the session and the
// lock is free again, so a standby takes over without any timeout of ours.
import type { Pool, PoolClient } from '../db.js';
import type { Logger } from '../log.js';
import type { ServiceWorker } from './define-service.js';

const NAMESPACE = 'ledgerline';

async function tryLock(client: PoolClient, name: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked',
    [NAMESPACE, name],
  );
  return rows[0]?.locked === true;
}

/**
 * Runs `worker` in one instance only: the one holding the lock `name`. The others stand by and
 * try again every `retryMs`; when the holder dies or stops, one of them starts the worker.
 */
export function electedWorker(options: {
  name: string;
  pool: Pool;
  worker: ServiceWorker;
  log: Logger;
  retryMs?: number;
}): ServiceWorker {
  const { name, pool, worker, log, retryMs = 2_000 } = options;
  let stopped = false;
  let holder: PoolClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> = Promise.resolve();
  const release = async (): Promise<void> => {
    const client = holder;
    holder = undefined;
    if (client === undefined) return;
    await worker.stop();
    // Destroying the connection ends the session, which frees the lock whatever state it is in.
    client.release(true);
  };
  const campaign = async (): Promise<void> => {
    if (stopped || holder !== undefined) return;
    let client: PoolClient | undefined;
    try {
      client = await pool.connect();
      if (await tryLock(client, name)) {
        holder = client;
        client = undefined;
        // A lost connection is a lost lock: stop working and campaign again.
        holder.once('error', (error) => {
          log.warn({ err: error, job: name }, 'lost the elected connection; standing by');
          void release();
        });
        log.info({ job: name }, 'elected: running here');
        await worker.start?.();
      }
    } catch (error) {
      log.warn({ err: error, job: name }, 'election attempt failed; trying again');
    } finally {
      client?.release();
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      attempt = campaign().finally(schedule);
    }, retryMs);
  };
  return {
    name,
    async start() {
      attempt = campaign();
      await attempt;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await attempt;
      await release();
    },
  };
}

/**
 * Announces this instance for its lifetime (a shared lock) and tells whether it was the only
 * one alive when it started: only then may it treat work left marked as running as interrupted.
 */
export async function announceInstance(
  pool: Pool,
  name: string,
): Promise<{ alone: boolean; worker: ServiceWorker }> {
  const client = await pool.connect();
  let alone: boolean;
  try {
    alone = await tryLock(client, name);
    if (alone) {
      await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [
        NAMESPACE,
        name,
      ]);
    }
    await client.query('SELECT pg_advisory_lock_shared(hashtext($1), hashtext($2))', [
      NAMESPACE,
      name,
    ]);
  } catch (error) {
    client.release(true);
    throw error;
  }
  // A connection lost later only ends the announcement; nothing to crash for.
  client.on('error', () => undefined);
  return {
    alone,
    worker: { name: `${name} presence`, stop: () => Promise.resolve(client.release(true)) },
  };
}
