// Where the local stack keeps its state, logs and download cache, and which ports it uses.
// Everything is derived from the environment once, so a test can run an isolated stack by
// passing another LEDGERLINE_HOME and other ports.
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackError } from './errors.js';

export const KAFKA_VERSION = '4.1.2';
export const APICURIO_VERSION = '3.3.3';
export const LOG4J_VERSION = '2.24.3';
// Pinned explicitly: Kafka's poms ask for slf4j-api 1.7.36, which cannot see the slf4j2 binding.
export const SLF4J_VERSION = '2.0.17';

export const POSTGRES_USER = 'postgres';
export const POSTGRES_PASSWORD = 'postgres';
export const LEDGER_DATABASE = 'ledgerline';
export const REGISTRY_DATABASE = 'registry';
export const LOOPBACK_HOST = '127.0.0.1';

export type ComponentName = 'postgres' | 'kafka' | 'registry';

export interface StackPorts {
  kafka: number;
  kafkaController: number;
  registry: number;
  registryManagement: number;
  postgres: number;
}

/** Endpoints supplied from outside; a component named here is not started locally. */
export interface ExternalEndpoints {
  kafkaBrokers?: string[];
  schemaRegistryUrl?: string;
  databaseUrl?: string;
}

export interface StackConfig {
  repoRoot: string;
  home: string;
  cacheDir: string;
  dirs: { kafka: string; registry: string; postgres: string; logs: string };
  logFiles: Record<ComponentName, string>;
  pidFiles: Record<ComponentName, string>;
  lockFile: string;
  endpointsFile: string;
  ports: StackPorts;
  external: ExternalEndpoints;
  env: NodeJS.ProcessEnv;
}

const DEFAULT_PORTS: StackPorts = {
  kafka: 19092,
  kafkaController: 19093,
  registry: 18081,
  registryManagement: 19000,
  postgres: 15432,
};

const PORT_ENV: Record<keyof StackPorts, string> = {
  kafka: 'LEDGERLINE_KAFKA_PORT',
  kafkaController: 'LEDGERLINE_KAFKA_CONTROLLER_PORT',
  registry: 'LEDGERLINE_REGISTRY_PORT',
  registryManagement: 'LEDGERLINE_REGISTRY_MANAGEMENT_PORT',
  postgres: 'LEDGERLINE_POSTGRES_PORT',
};

// stack/src/paths.ts -> repository root
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function resolveStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const home = resolve(nonEmpty(env.LEDGERLINE_HOME) ?? join(REPO_ROOT, '.ledgerline'));
  const cacheDir = resolve(
    nonEmpty(env.LEDGERLINE_CACHE) ?? join(homedir(), '.cache', 'ledgerline'),
  );
  const dirs = {
    kafka: join(home, 'kafka'),
    registry: join(home, 'registry'),
    postgres: join(home, 'postgres'),
    logs: join(home, 'logs'),
  };
  const ports = resolvePorts(env);
  const kafkaBrokers = nonEmpty(env.KAFKA_BROKERS)
    ?.split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  return {
    repoRoot: REPO_ROOT,
    home,
    cacheDir,
    dirs,
    logFiles: {
      postgres: join(dirs.logs, 'postgres.log'),
      kafka: join(dirs.logs, 'kafka.log'),
      registry: join(dirs.logs, 'registry.log'),
    },
    pidFiles: {
      postgres: join(dirs.postgres, 'postgres.pid'),
      kafka: join(dirs.kafka, 'kafka.pid'),
      registry: join(dirs.registry, 'registry.pid'),
    },
    lockFile: join(home, 'stack.lock'),
    endpointsFile: join(home, 'stack.json'),
    ports,
    external: {
      kafkaBrokers: kafkaBrokers && kafkaBrokers.length > 0 ? kafkaBrokers : undefined,
      schemaRegistryUrl: nonEmpty(env.SCHEMA_REGISTRY_URL),
      databaseUrl: nonEmpty(env.DATABASE_URL),
    },
    env,
  };
}

function resolvePorts(env: NodeJS.ProcessEnv): StackPorts {
  const ports = { ...DEFAULT_PORTS };
  for (const key of Object.keys(PORT_ENV) as (keyof StackPorts)[]) {
    const name = PORT_ENV[key];
    const raw = nonEmpty(env[name]);
    if (raw === undefined) continue;
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new StackError(`${name} must be a TCP port (1-65535), got '${raw}'`);
    }
    ports[key] = port;
  }
  const distinct = new Set(Object.values(ports));
  if (distinct.size !== Object.values(ports).length) {
    throw new StackError(`stack ports must be distinct, got ${JSON.stringify(ports)}`);
  }
  return ports;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/** Marker that every process of this stack carries on its command line (used by stop/status). */
export function homeMarker(config: StackConfig): string {
  return `${config.home}/`;
}
