// What a service is, declared once: its name, its database, its pools, the topics it needs and,
// from the parts the runner hands it, its consumers, workers and HTTP API. How every service
// starts and stops lives in runner.ts, so a service.ts holds no start-up or stop code.
import type { Kafka, Admin } from 'kafkajs';
import type { Pool } from '../db.js';
import { deployDatabase, developmentPassword, type ServiceDatabase } from '../deploy.js';
import type { EventSerde } from '../events/serde.js';
import type { AnyTopic } from '../events/topic.js';
import type { ApiAppOptions } from '../http/app.js';
import type { ConsumerHealth } from '../consumer-health.js';
import type { Logger } from '../log.js';
import type { MetricsRegistry } from '../metrics.js';
import type { OutboxRelay } from '../outbox.js';
import { startService, type RunningService } from './runner.js';

/** The settings every service has; a service's own config extends these. */
export interface ServiceConfig {
  /** The service's app role URL (<SERVICE>_APP_DATABASE_URL); never the admin's. */
  readonly databaseUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  /** '' in production; a unique prefix per test run keeps parallel environments apart. */
  readonly topicPrefix: string;
  /** 0 = any free port. */
  readonly port: number;
  /** Interface to listen on; loopback unless told otherwise (containers: 0.0.0.0). */
  readonly host?: string;
  /** Development registers missing schemas and creates missing topics on start. */
  readonly development: boolean;
}

/** What the runner has connected before the service assembles its parts. */
export interface ServiceContext<C extends ServiceConfig> {
  readonly config: C;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  /** The app role's pool: consumers, relay, API keys. */
  readonly pool: Pool;
  /** The SELECT-only pool when the service declares one (audit's API), else the app pool. */
  readonly readerPool: Pool;
  readonly kafka: Kafka;
  /** One admin client: topic creation and the readiness probe. */
  readonly admin: Admin;
  readonly serde: EventSerde;
  /** The relay of the service's outbox; nudge it after writing to the outbox. */
  readonly relay: OutboxRelay;
}

/** A consumer the runner starts, stops and probes for readiness. */
export interface ServiceConsumer {
  readonly health: Pick<ConsumerHealth, 'name' | 'verdict'>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Anything else that runs beside the consumers (a reader, a periodic job). */
export interface ServiceWorker {
  readonly name: string;
  start?(): Promise<void>;
  stop(): Promise<void>;
}

export type ServiceHttp = Pick<
  ApiAppOptions,
  | 'document'
  | 'operations'
  | 'handlers'
  | 'accountBoundOperations'
  | 'keyConfirmingOperations'
  | 'bodyLimitBytes'
  | 'backpressure'
>;

export interface ServiceParts<E extends object> {
  readonly http: ServiceHttp;
  readonly consumers?: readonly ServiceConsumer[];
  /**
   * Join the consumer group after the API listens, without waiting: requests are accepted while
   * the group is (re)joined, which after a crash waits for the dead member to expire.
   */
  readonly joinInBackground?: boolean;
  readonly workers?: readonly ServiceWorker[];
  /** Extra fields of the running handle (reconciliation's reconciler). */
  readonly exposed?: E;
}

export interface PoolSpec<C> {
  max?: number | ((config: C) => number);
  applicationName?: string;
}

export interface ServiceDefinition<C extends ServiceConfig, E extends object> {
  readonly name: string;
  readonly database: ServiceDatabase;
  readonly pool?: PoolSpec<C>;
  /** A second, SELECT-only pool for the API; readiness probes PostgreSQL through it. */
  readonly readerPool?: PoolSpec<C> & { role: string; url: (config: C) => string };
  /** Topics it consumes, created on start in development. */
  readonly topics?: (config: C, serde: EventSerde) => readonly AnyTopic[];
  /**
   * Topics it writes (those the contract names it a producer of: `topicsProducedBy`). Created on
   * start in development, and their schemas looked up on start (in development registered): a
   * schema missing from the registry fails the start, not the first message, and no message
   * waits on a registration.
   */
  readonly produces?: (config: Pick<ServiceConfig, 'topicPrefix'>) => readonly AnyTopic[];
  readonly relay?: (config: C) => { enabled?: boolean; batchSizeMax?: number; idlePollMs?: number };
  /** Longest graceful stop on a signal before the process exits anyway. */
  readonly shutdownMsMax?: number;
  assemble(context: ServiceContext<C>): ServiceParts<E> | Promise<ServiceParts<E>>;
}

export interface DefinedService<C extends ServiceConfig, E extends object> {
  readonly definition: ServiceDefinition<C, E>;
  start(config: C, log?: Logger): Promise<RunningService<E>>;
  /**
   * The service's part of the deploy step, for tests, benches and replay (`npm run migrate`
   * deploys every service at once): its roles, its migrations, its schema handed to the owner.
   */
  migrate(adminUrl: string, appRolePassword?: string): Promise<void>;
}

export function defineService<C extends ServiceConfig, E extends object = object>(
  definition: ServiceDefinition<C, E>,
): DefinedService<C, E> {
  const loginRoles = definition.database.roles.filter((r) => r.login).map((r) => r.name);
  return {
    definition,
    start: (config, log) => startService(definition, config, log),
    async migrate(adminUrl, appRolePassword) {
      const passwords = Object.fromEntries(
        loginRoles.map((role) => [role, developmentPassword(role)]),
      );
      if (appRolePassword !== undefined) passwords[definition.database.appRole] = appRolePassword;
      await deployDatabase(adminUrl, [definition.database], passwords);
    },
  };
}
