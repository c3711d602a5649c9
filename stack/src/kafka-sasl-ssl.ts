// An additional SASL_SSL listener for the local Kafka, on request, so that TLS and SCRAM (what
// AWS MSK and most managed Kafka offer) can be exercised without a cloud: set
// LEDGERLINE_KAFKA_SASL_SSL_PORT and the broker also listens there with TLS (a certificate from
// a development CA made on first use, kept under <home>/kafka/tls) and SCRAM-SHA-256/512 for
// one user. Unset, the stack is exactly the plaintext one.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createCertificateAuthority, issueServerCertificate } from './certificates.js';
import { StackError } from './errors.js';
import type { JavaRuntime } from './jvm.js';
import { LOOPBACK_HOST, type StackConfig } from './paths.js';
import { runCommand, waitFor } from './process.js';

export interface SaslSslListener {
  port: number;
  /** PEM of the CA that signed the listener's certificate: what clients trust. */
  caFile: string;
  username: string;
  password: string;
  brokers: string[];
}

const PORT_VARIABLE = 'LEDGERLINE_KAFKA_SASL_SSL_PORT';
const DEFAULT_USERNAME = 'ledgerline';
const DEFAULT_PASSWORD = 'ledgerline-dev-secret';
// SCRAM credentials go through kafka-configs' `[password=...]` syntax: no separators in them.
const CREDENTIAL_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;
const USER_READY_TIMEOUT_MS = 30_000;

function tlsDir(config: StackConfig): string {
  return join(config.dirs.kafka, 'tls');
}

/** The listener the environment asks for, or undefined (the default: no such listener). */
export function saslSslListener(config: StackConfig): SaslSslListener | undefined {
  const raw = config.env[PORT_VARIABLE]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new StackError(`${PORT_VARIABLE} must be a TCP port (1-65535), got '${raw}'`);
  }
  const taken = Object.values(config.ports);
  if (taken.includes(port)) {
    throw new StackError(`${PORT_VARIABLE}=${port} is already one of the stack's ports`);
  }
  const username = config.env.LEDGERLINE_KAFKA_SASL_USERNAME?.trim() || DEFAULT_USERNAME;
  const password = config.env.LEDGERLINE_KAFKA_SASL_PASSWORD?.trim() || DEFAULT_PASSWORD;
  for (const [name, value] of [
    ['LEDGERLINE_KAFKA_SASL_USERNAME', username],
    ['LEDGERLINE_KAFKA_SASL_PASSWORD', password],
  ] as const) {
    if (!CREDENTIAL_PATTERN.test(value)) {
      throw new StackError(`${name} may hold only letters, digits and . _ ~ - (1-128 of them)`);
    }
  }
  return {
    port,
    caFile: join(tlsDir(config), 'ca.pem'),
    username,
    password,
    brokers: [`${LOOPBACK_HOST}:${port}`],
  };
}

/**
 * The CA and the broker's certificate, made once and kept (clients keep trusting the same
 * CA file across restarts). Returns the broker's key and certificate chain as PEM.
 */
export async function ensureListenerCertificate(
  config: StackConfig,
  listener: SaslSslListener,
): Promise<{ keyPem: string; chainPem: string }> {
  const dir = tlsDir(config);
  const keyFile = join(dir, 'broker-key.pem');
  const chainFile = join(dir, 'broker-chain.pem');
  try {
    return {
      keyPem: await readFile(keyFile, 'utf8'),
      chainPem: await readFile(chainFile, 'utf8'),
    };
  } catch {
    // first use: make them
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = createCertificateAuthority('Ledgerline local Kafka CA');
  const broker = issueServerCertificate(ca, {
    commonName: 'localhost',
    hosts: ['localhost', LOOPBACK_HOST],
  });
  const chainPem = `${broker.certificatePem}${ca.certificatePem}`;
  await writeFile(keyFile, broker.privateKeyPem, { mode: 0o600 });
  await writeFile(chainFile, chainPem, { mode: 0o600 });
  // The CA's key is not kept: nothing else is ever signed with it.
  await writeFile(listener.caFile, ca.certificatePem, { mode: 0o644 });
  await chmod(dir, 0o755);
  return { keyPem: broker.privateKeyPem, chainPem };
}

/** One line of a .properties file holds a multi-line PEM through `\n` escapes. */
function propertiesValue(pem: string): string {
  return pem.trim().replace(/\r?\n/g, '\\n');
}

/**
 * Broker properties that add the listener to the plaintext ones. The certificate goes inline
 * (ssl.keystore.key / certificate.chain), because a PEM key *file* must be encrypted for Kafka.
 */
export function saslSslProperties(
  base: { listeners: string; advertisedListeners: string; protocolMap: string },
  listener: SaslSslListener,
  certificate: { keyPem: string; chainPem: string },
): Record<string, string> {
  const address = `SASL_SSL://${LOOPBACK_HOST}:${listener.port}`;
  const prefix = 'listener.name.sasl_ssl';
  const scramLogin = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  return {
    listeners: `${base.listeners},${address}`,
    'advertised.listeners': `${base.advertisedListeners},${address}`,
    'listener.security.protocol.map': `${base.protocolMap},SASL_SSL:SASL_SSL`,
    [`${prefix}.sasl.enabled.mechanisms`]: 'SCRAM-SHA-256,SCRAM-SHA-512',
    [`${prefix}.scram-sha-256.sasl.jaas.config`]: scramLogin,
    [`${prefix}.scram-sha-512.sasl.jaas.config`]: scramLogin,
    [`${prefix}.ssl.keystore.type`]: 'PEM',
    [`${prefix}.ssl.keystore.key`]: propertiesValue(certificate.keyPem),
    [`${prefix}.ssl.keystore.certificate.chain`]: propertiesValue(certificate.chainPem),
    [`${prefix}.ssl.client.auth`]: 'none',
  };
}

/**
 * Creates (or updates) the SCRAM user with kafka-configs over the plaintext listener, then
 * waits until a SCRAM login over TLS succeeds: the credential reaches the broker through the
 * metadata log, a moment after the command returns.
 */
export async function ensureScramUser(
  config: StackConfig,
  plan: { java: JavaRuntime; libsDir: string },
  listener: SaslSslListener,
  log: (message: string) => void,
): Promise<void> {
  // One mechanism per request: KRaft refuses two credentials of one user in one request.
  for (const credential of [
    `SCRAM-SHA-256=[iterations=8192,password=${listener.password}]`,
    `SCRAM-SHA-512=[iterations=8192,password=${listener.password}]`,
  ]) {
    const result = await runCommand(
      plan.java.javaBin,
      [
        '-cp',
        `${plan.libsDir}/*`,
        `-Dlog4j2.configurationFile=${join(config.dirs.kafka, 'log4j2.xml')}`,
        'kafka.admin.ConfigCommand',
        '--bootstrap-server',
        `${LOOPBACK_HOST}:${config.ports.kafka}`,
        '--alter',
        '--add-config',
        credential,
        '--entity-type',
        'users',
        '--entity-name',
        listener.username,
      ],
      { env: config.env, timeoutMs: 120_000, description: 'kafka-configs (SCRAM user)' },
    );
    // Only the error path is logged: the command line it would echo holds the password.
    if (result.exitCode !== 0) {
      await writeFile(
        config.logFiles.kafka,
        result.output.replaceAll(listener.password, '<password>'),
        { flag: 'a' },
      );
      throw new StackError(
        `creating the SCRAM user ${listener.username} failed (exit ${result.exitCode}); ` +
          `see ${config.logFiles.kafka}`,
      );
    }
  }
  const ca = await readFile(listener.caFile, 'utf8');
  await waitFor(() => scramLoginWorks(listener, ca).then((ok) => ok || undefined), {
    timeoutMs: USER_READY_TIMEOUT_MS,
    intervalMs: 250,
    timeoutError: () =>
      new StackError(
        `the SASL_SSL listener on ${listener.port} refused ${listener.username} for ` +
          `${USER_READY_TIMEOUT_MS / 1000} s after the user was created; see ${config.logFiles.kafka}`,
      ),
  });
  log(
    `kafka: SASL_SSL listener on ${LOOPBACK_HOST}:${listener.port} (SCRAM user ${listener.username}, CA ${listener.caFile})`,
  );
}

async function scramLoginWorks(listener: SaslSslListener, ca: string): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'ledgerline-stack-sasl-check',
    brokers: listener.brokers,
    ssl: { ca: [ca], rejectUnauthorized: true },
    sasl: { mechanism: 'scram-sha-512', username: listener.username, password: listener.password },
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    authenticationTimeout: 3_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
