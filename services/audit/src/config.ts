// The audit service's settings: environment first, then the platform's endpoints. Outside
// development every secret must be its own (no development password, no admin URL), checked
// first, naming each one.
import { readFileSync } from 'node:fs';
import { intSetting, isDevelopment, platformEndpoints } from '@ledgerline/platform/config';
import { roleDatabaseUrl } from '@ledgerline/platform/deploy';
import { assertProductionSecrets } from '@ledgerline/platform/secrets';
import type { ServiceConfig } from '@ledgerline/platform/service/define-service';
import { AUDIT_APP_ROLE, AUDIT_READER_ROLE } from './database.js';
import { developmentSigningKey, signingKeyFromPem, type SigningKey } from './domain/anchor.js';

export interface AuditConfig extends ServiceConfig {
  /**
   * audit_app's URL (AUDIT_APP_DATABASE_URL): the trail's only writer, for the consumer. The
   * service holds no other database credential than these two; migrations are the deploy
   * step's (npm run migrate).
   */
  databaseUrl: string;
  /** audit_reader's URL (AUDIT_READER_DATABASE_URL): SELECT only, for the query API. */
  readerDatabaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  /** '' in production; a unique `t-...` prefix per test run. */
  topicPrefix: string;
  port: number;
  host: string;
  /** Development registers missing schemas and creates missing topics on start. */
  development: boolean;
  /** A checkpoint of the chain head every this many records. */
  checkpointEvery: number;
  /** Most messages appended in one PostgreSQL transaction. */
  batchSizeMax: number;
  /** Signs every checkpoint published to audit.checkpoints; its public key verifies them. */
  signingKey: SigningKey;
}

export function auditConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AuditConfig {
  // The signing key is a secret too: its problem is named with the others, then thrown alone
  // (in development, where only a contradictory setting fails).
  let signingKey: SigningKey | undefined;
  let signingKeyProblem: unknown;
  try {
    signingKey = signingKeyFromEnv(env);
  } catch (error) {
    signingKeyProblem = error;
  }
  assertProductionSecrets(
    env,
    'audit',
    [AUDIT_APP_ROLE, AUDIT_READER_ROLE],
    signingKeyProblem instanceof Error ? [signingKeyProblem.message] : [],
  );
  if (signingKey === undefined) throw signingKeyProblem;
  const endpoints = platformEndpoints(env);
  return {
    databaseUrl: roleDatabaseUrl(env, AUDIT_APP_ROLE),
    readerDatabaseUrl: roleDatabaseUrl(env, AUDIT_READER_ROLE),
    kafkaBrokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
    topicPrefix: env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    port: intSetting(env, 'AUDIT_PORT', 8084, 0, 65_535),
    host: env['AUDIT_HOST'] ?? '127.0.0.1',
    development: isDevelopment(env),
    checkpointEvery: intSetting(env, 'AUDIT_CHECKPOINT_EVERY', 1_000, 1, 1_000_000),
    batchSizeMax: intSetting(env, 'AUDIT_BATCH_SIZE_MAX', 2_000, 1, 10_000),
    signingKey,
  };
}

/**
 * The checkpoint signing key: a PKCS#8 PEM Ed25519 private key in AUDIT_SIGNING_KEY_FILE (or
 * inline in AUDIT_SIGNING_KEY). Development falls back to the development key, derived from a
 * public string; production refuses to start without a key of its own, or with that one.
 */
export function signingKeyFromEnv(env: NodeJS.ProcessEnv): SigningKey {
  const file = env['AUDIT_SIGNING_KEY_FILE'];
  const inline = env['AUDIT_SIGNING_KEY'];
  if (file && inline) {
    throw new Error('set AUDIT_SIGNING_KEY_FILE or AUDIT_SIGNING_KEY, not both');
  }
  const pem = file ? readFileSync(file, 'utf8') : inline;
  const development = isDevelopment(env);
  if (!pem) {
    if (development) return developmentSigningKey();
    throw new Error(
      'AUDIT_SIGNING_KEY_FILE is required outside development: checkpoints must be signed ' +
        'with a key only the audit service holds (openssl genpkey -algorithm ed25519)',
    );
  }
  const key = signingKeyFromPem(pem);
  if (!development && key.keyId === developmentSigningKey().keyId) {
    throw new Error('the development audit signing key is public and refused in production');
  }
  return key;
}
