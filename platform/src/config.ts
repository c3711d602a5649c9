// Where the platform's parts are. Environment first (production, docker compose), then the
// endpoints the local stack launcher wrote, then the documented defaults.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export interface PlatformEndpoints {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  databaseUrl: string;
}

export const DEFAULT_ENDPOINTS: PlatformEndpoints = {
  kafkaBrokers: ['127.0.0.1:19092'],
  schemaRegistryUrl: 'http://127.0.0.1:18081/apis/ccompat/v7',
  databaseUrl: 'postgres://postgres:postgres@127.0.0.1:15432/ledgerline',
};

export function ledgerlineHome(env: NodeJS.ProcessEnv = process.env): string {
  return env['LEDGERLINE_HOME'] ?? path.join(REPO_ROOT, '.ledgerline');
}

function launcherEndpoints(env: NodeJS.ProcessEnv): Partial<PlatformEndpoints> {
  try {
    return JSON.parse(
      readFileSync(path.join(ledgerlineHome(env), 'stack.json'), 'utf8'),
    ) as Partial<PlatformEndpoints>;
  } catch {
    return {};
  }
}

export function platformEndpoints(env: NodeJS.ProcessEnv = process.env): PlatformEndpoints {
  const launched = launcherEndpoints(env);
  return {
    kafkaBrokers:
      env['KAFKA_BROKERS']
        ?.split(',')
        .map((b) => b.trim())
        .filter(Boolean) ??
      launched.kafkaBrokers ??
      DEFAULT_ENDPOINTS.kafkaBrokers,
    schemaRegistryUrl:
      env['SCHEMA_REGISTRY_URL'] ??
      launched.schemaRegistryUrl ??
      DEFAULT_ENDPOINTS.schemaRegistryUrl,
    databaseUrl: env['DATABASE_URL'] ?? launched.databaseUrl ?? DEFAULT_ENDPOINTS.databaseUrl,
  };
}

/** Reads an integer setting with bounds, failing loudly on nonsense. */
export function intSetting(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw} is not an integer in ${min}..${max}`);
  }
  return value;
}

/** Development mode registers missing schemas and creates topics on start. */
export function isDevelopment(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env['LEDGERLINE_ENV'] ?? 'development') === 'development';
}
