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

/** What one HTTP server lets clients hold (see `listen` in http/app.ts). */
export interface HttpServerLimits {
  /** Longest wait for a request's complete headers, from its first byte; then 408 and close. */
  headersTimeoutMs: number;
  /** Longest wait for a whole request, body included (bodies are at most 64 KiB). */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  keepAliveTimeoutMs: number;
  /** Connections served at once; further connections are closed as they are accepted. */
  connectionsMax: number;
  /** How often expired requests are looked for: the slack on both timeouts. */
  checkIntervalMs: number;
  /**
   * Connections the kernel queues until the service accepts them (capped by net.core.somaxconn).
   * Node's default, 511, overflows when a burst of clients connects while the event loop is busy:
   * the kernel then drops their SYNs, and they retry 1, 3, 7… s later, so an overloaded service
   * answers seconds late or never instead of refusing at once with a 503.
   */
  listenBacklog: number;
  /**
   * Handles the listening socket is accepted from. libuv accepts one connection per handle per
   * turn of the event loop, so a busy service with one handle reads a burst of new connections
   * seconds late (platform/src/http/accept-handles.ts).
   */
  acceptHandles: number;
}

/**
 * HTTP server limits from HTTP_HEADERS_TIMEOUT_MS (10 s), HTTP_REQUEST_TIMEOUT_MS (30 s),
 * HTTP_KEEP_ALIVE_TIMEOUT_MS (65 s), HTTP_CONNECTIONS_MAX (2048), HTTP_LISTEN_BACKLOG (4096) and
 * HTTP_ACCEPT_HANDLES (32).
 * Node's own defaults (60 s for headers, 300 s per request, no connection bound) let a slow
 * client hold a connection for minutes; a payment API's clients send a few hundred bytes.
 */
export function httpServerLimits(env: NodeJS.ProcessEnv = process.env): HttpServerLimits {
  const headersTimeoutMs = intSetting(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 120_000);
  const requestTimeoutMs = intSetting(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    // Node refuses this too; say which settings to fix.
    throw new Error(
      `HTTP_REQUEST_TIMEOUT_MS=${requestTimeoutMs} must not be below HTTP_HEADERS_TIMEOUT_MS=${headersTimeoutMs}`,
    );
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: intSetting(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 65_000, 1_000, 600_000),
    connectionsMax: intSetting(env, 'HTTP_CONNECTIONS_MAX', 2_048, 1, 65_535),
    checkIntervalMs: Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
    listenBacklog: intSetting(env, 'HTTP_LISTEN_BACKLOG', 4_096, 1, 65_535),
    acceptHandles: intSetting(env, 'HTTP_ACCEPT_HANDLES', 32, 1, 64),
  };
}

/** Bounds PostgreSQL enforces on every session of a pool (0 disables one, as in PostgreSQL). */
export interface DatabaseTimeouts {
  /** A statement running longer is cancelled (SQLSTATE 57014). */
  statementTimeoutMs: number;
  /** A session idle inside an open transaction longer is terminated (SQLSTATE 25P03). */
  idleInTransactionTimeoutMs: number;
}

/**
 * From DATABASE_STATEMENT_TIMEOUT_MS (30 s) and DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS (60 s).
 * The services' statements take milliseconds; PostgreSQL's defaults (no bound) let one runaway
 * query or forgotten transaction hold connections and row locks until someone notices.
 */
export function databaseTimeouts(env: NodeJS.ProcessEnv = process.env): DatabaseTimeouts {
  return {
    statementTimeoutMs: intSetting(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 0, 3_600_000),
    idleInTransactionTimeoutMs: intSetting(
      env,
      'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS',
      60_000,
      0,
      3_600_000,
    ),
  };
}

/**
 * DATABASE_CONNECT_TIMEOUT_MS (5 s): the longest a request waits for a pooled PostgreSQL
 * connection (a free one, or a new session) before it fails. node-postgres waits forever by
 * default; with PostgreSQL unreachable or every connection busy, a payment request would hang
 * until the client gives up instead of getting a 503 it can retry.
 */
export function databaseConnectTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return intSetting(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5_000, 100, 60_000);
}

/** Development mode registers missing schemas and creates topics on start. */
export function isDevelopment(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env['LEDGERLINE_ENV'] ?? 'development') === 'development';
}
