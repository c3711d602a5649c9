// /readyz: each dependency is probed with a bounded wait and reported as the contracts say
// ({ status: up|down, latencyMs, detail }), so every service answers the same way.
import type { Admin } from 'kafkajs';
import type { Queryable } from '../db.js';

export type ReadinessProbes = Record<string, () => Promise<unknown>>;

export interface DependencyCheck {
  status: 'up' | 'down';
  latencyMs: number;
  detail?: string;
}

export interface Readiness {
  status: 'ready' | 'not_ready';
  checks: Record<string, DependencyCheck>;
}

export const PROBE_TIMEOUT_MS = 2_000;

/** The three dependencies every service has: its database, the broker and the registry. */
export function dependencyProbes(options: {
  db: Queryable;
  kafkaAdmin: Admin;
  registryUrl: string;
}): ReadinessProbes {
  return {
    postgres: () => options.db.query('SELECT 1'),
    kafka: () => options.kafkaAdmin.describeCluster(),
    registry: async () => {
      const response = await fetch(`${options.registryUrl}/subjects`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`registry answered HTTP ${response.status}`);
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
  return {
    status: results.every((r) => r.status === 'up') ? 'ready' : 'not_ready',
    checks,
  };
}
