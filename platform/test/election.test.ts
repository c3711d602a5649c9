// Instances of one service coordinate through PostgreSQL session advisory locks, on a real
// server: one elected worker runs while the others stand by, and a standby takes over when the
// holder's session ends (its process died); an instance knows whether it started alone.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { platformEndpoints } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { announceInstance, electedWorker } from '../src/service/election.js';

const log = createLogger('election-test');
const pools: pg.Pool[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function instancePool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: platformEndpoints().databaseUrl, max: 3 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

test('one of two instances runs the elected worker; a lost session stands it down and one takes over', async () => {
  const name = `test.elected.${randomUUID()}`;
  const running = new Set<string>();
  let overlaps = 0;
  const stood: string[] = [];
  const instance = (id: string) =>
    electedWorker({
      name,
      pool: instancePool(),
      log,
      retryMs: 50,
      worker: {
        name: id,
        start: async () => {
          if (running.size > 0) overlaps += 1;
          running.add(id);
        },
        stop: async () => {
          stood.push(id);
          running.delete(id);
        },
      },
    });
  const workers = { a: instance('a'), b: instance('b') };
  try {
    await workers.a.start?.();
    await workers.b.start?.();
    await sleep(300);
    expect([...running]).toEqual(['a']);

    // The holder's session ends, as it does when its process dies or its connection is cut.
    const observer = instancePool();
    const holderPid = async () =>
      (
        await observer.query<{ pid: number }>(
          `SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
              AND l.classid = hashtext('ledgerline')::oid AND l.objid = hashtext($1)::oid`,
          [name],
        )
      ).rows.map((r) => r.pid);
    const [lost] = await holderPid();
    expect(lost).toBeDefined();
    await observer.query('SELECT pg_terminate_backend($1)', [lost]);
    await waitUntil(() => stood.includes('a'), 'a stood down after losing its session');
    await waitUntil(() => running.size === 1, 'an instance elected again');
    const [again] = await holderPid();
    expect(again).toBeDefined();
    expect(again).not.toBe(lost);

    // A graceful stop of the holder hands over to the other.
    const holder = [...running][0] as 'a' | 'b';
    const other = holder === 'a' ? 'b' : 'a';
    await workers[holder].stop();
    await waitUntil(() => running.has(other), `${other} elected after ${holder} stopped`);
    expect(overlaps).toBe(0);
  } finally {
    await workers.a.stop();
    await workers.b.stop();
  }
  expect(running.size).toBe(0);
}, 60_000);

test('an instance knows whether it started alone', async () => {
  const name = `test.instances.${randomUUID()}`;
  const first = await announceInstance(instancePool(), name);
  const second = await announceInstance(instancePool(), name);
  expect([first.alone, second.alone]).toEqual([true, false]);
  await first.worker.stop();
  await second.worker.stop();
  const third = await announceInstance(instancePool(), name);
  expect(third.alone).toBe(true);
  await third.worker.stop();
});
