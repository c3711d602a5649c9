// The console's settings, read once from the environment; tests and `npm start` pass a
// ConsoleConfig with the URLs of the services they started.
import { intSetting, platformEndpoints } from '@ledgerline/platform/config';

/** The platform services the console is a client of, by the name the browser uses. */
export const CONSOLE_SERVICES = ['processor', 'ledger', 'reconciliation', 'audit'] as const;
export type ConsoleService = (typeof CONSOLE_SERVICES)[number];

export interface ConsoleConfig {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Base URL of each service's HTTP API. */
  readonly services: Readonly<Record<ConsoleService, string>>;
  /** The registry's Confluent API, for schema versions and the compatibility check. */
  readonly schemaRegistryUrl: string;
  /** '' in production; registry subjects follow the topics' prefix. */
  readonly topicPrefix: string;
  /** SCHEMA_REGISTRY_* credentials and TLS settings, as the platform reads them. */
  readonly registryEnv: Readonly<Record<string, string | undefined>>;
}

const DEFAULT_PORTS: Readonly<Record<ConsoleService, [string, number]>> = {
  processor: ['PROCESSOR_PORT', 8081],
  ledger: ['LEDGER_PORT', 8082],
  reconciliation: ['RECONCILIATION_PORT', 8083],
  audit: ['AUDIT_PORT', 8084],
};

export function consoleConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ConsoleConfig {
  const services = Object.fromEntries(
    CONSOLE_SERVICES.map((service) => {
      const [portVariable, port] = DEFAULT_PORTS[service];
      const url =
        env[`CONSOLE_${service.toUpperCase()}_URL`] ??
        `http://127.0.0.1:${intSetting(env, portVariable, port, 1, 65_535)}`;
      return [service, url.replace(/\/+$/, '')];
    }),
  ) as Record<ConsoleService, string>;
  return {
    host: env['CONSOLE_HOST'] ?? '127.0.0.1',
    port: intSetting(env, 'CONSOLE_PORT', 8080, 0, 65_535),
    services,
    schemaRegistryUrl: platformEndpoints(env).schemaRegistryUrl,
    topicPrefix: env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    registryEnv: env,
  };
}
