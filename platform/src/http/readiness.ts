// /readyz: each dependency is probed with a bounded wait and reported as the contracts say
// ({ status: up|down, latencyMs, detail }), so every service answers the same way.
import type { Admin } from 'kafkajs';
import type { Queryable } from '../db.js';
import type { ConsumerHealth } from '../consumer-health.js';
import { registryConnection, registryRequest } from '../transport-security.js';

export type ReadinessProbes = Record<string, () => Promise<unknown>>;

export interface DependencyCheck {
  status: 'up' | 'down';
  latencyMs: number;
  detail?: string;
}

export interface Readiness {
  /** degraded: only the registry is down; cached schemas keep the service working. */
  status: 'ready' | 'degraded' | 'not_ready';
  checks: Record<string, DependencyCheck>;
}

export const PROBE_TIMEOUT_MS = 2_000;

/** The three dependencies every service has: its database, the broker and the registry. */
export function dependencyProbes(options: {
  db: Queryable;
  kafkaAdmin: Admin;
  registryUrl: string;
}): ReadinessProbes {
  // Credentials and TLS from the environment, read once, like the service's own serde.
  const registry = registryConnection(options.registryUrl, process.env);
  return {
    postgres: () => options.db.query('SELECT 1'),
    kafka: () => options.kafkaAdmin.describeCluster(),
    registry: async () => {
      const response = await registryRequest(registry, 'GET', '/subjects', {
        timeoutMs: PROBE_TIMEOUT_MS,
      });
      if (response.status !== 200) throw new Error(`registry answered HTTP ${response.status}`);
    },
  };
}

async function runProbe(
  probe: () => Promise<unknown>,
  timeoutMs: number,
): Promise<DependencyCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      detail: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

export async function checkReadiness(
  probes: ReadinessProbes,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<Readiness> {
  const names = Object.keys(probes).sort();
  const results = await Promise.all(names.map((name) => runProbe(probes[name]!, timeoutMs)));
  const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
  return { status: readinessStatus(checks), checks };
}

/** How long one round of probes answers /readyz: a second is well inside any probe period. */
export const READINESS_MAX_AGE_MS = 1_000;

/**
 * /readyz answers without a credential and each round of probes costs a database connection,
 * a broker request and a registry request: requests that arrive together share one round, and
 * a round answers for READINESS_MAX_AGE_MS after it ends. A flood of /readyz then costs the
 * dependencies at most one round per second per process, not one per request.
 */
export function sharedReadiness(
  probes: ReadinessProbes,
  options: { maxAgeMs?: number; timeoutMs?: number; nowMs?: () => number } = {},
): () => Promise<Readiness> {
  const maxAgeMs = options.maxAgeMs ?? READINESS_MAX_AGE_MS;
  const nowMs = options.nowMs ?? (() => performance.now());
  let last: { endedAtMs: number; readiness: Readiness } | undefined;
  let round: Promise<Readiness> | undefined;
  return () => {
    if (last !== undefined && nowMs() - last.endedAtMs < maxAgeMs) {
      return Promise.resolve(last.readiness);
    }
    round ??= checkReadiness(probes, options.timeoutMs)
      .then((readiness) => {
        last = { endedAtMs: nowMs(), readiness };
        return readiness;
      })
      .finally(() => {
        round = undefined;
      });
    return round;
  };
}

/**
 * Checks whose failure degrades the service without taking it out: every service keeps the
 * schemas it has resolved, so while the registry is away it still encodes and decodes them
 * (a message under a schema it has never seen is retried until the registry is back).
 */
const DEGRADING_CHECKS = new Set(['registry']);

export function readinessStatus(checks: Record<string, DependencyCheck>): Readiness['status'] {
  const down = Object.entries(checks).filter(([, check]) => check.status === 'down');
  if (down.length === 0) return 'ready';
  return down.every(([name]) => DEGRADING_CHECKS.has(name)) ? 'degraded' : 'not_ready';
}

/**
 * One check per consumer, named `consumer:<group>`: down when it crashed, is stuck on a
 * partition or has been (re)joining its group for too long, with the reason as detail.
 */
export function consumerProbes(
  consumers: readonly { health: Pick<ConsumerHealth, 'name' | 'verdict'> }[],
): ReadinessProbes {
  return Object.fromEntries(
    consumers.map(({ health }) => [
      `consumer:${health.name}`,
      async () => {
        const verdict = health.verdict();
        if (!verdict.ok) throw new Error(verdict.detail);
      },
    ]),
  );
}
