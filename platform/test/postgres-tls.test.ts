// PostgreSQL over TLS the way a cloud database (RDS) is reached: sslmode=verify-full with the
// operator's CA file. An isolated embedded PostgreSQL gets ssl=on and a certificate from a
// development CA; the platform's own pool (createPool) must encrypt, verify the chain and the
// host name, and refuse a server it cannot verify.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { resolveStackConfig, startStack, stopStack } from '@ledgerline/stack';
import {
  createCertificateAuthority,
  issueServerCertificate,
  type CertificateAuthority,
} from '@ledgerline/stack/certificates';
import { enablePostgresTls } from '@ledgerline/stack/postgres-tls';
import { isolatedStack, type IsolatedStack } from '../../stack/test/support.js';
import { platformEndpoints } from '../src/config.js';
import { createPool } from '../src/db.js';

let stack: IsolatedStack;
let ca: CertificateAuthority;
let caFile: string;
let otherCaFile: string;
let files: string;
let plainUrl: string;

beforeAll(async () => {
  // Only PostgreSQL is isolated: Kafka and the registry are named as external (unused here).
  const shared = platformEndpoints();
  stack = await isolatedStack({
    KAFKA_BROKERS: shared.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: shared.schemaRegistryUrl,
  });
  const started = await startStack({ env: stack.env });
  plainUrl = started.databaseUrl;
  files = await mkdtemp(join(tmpdir(), 'ledgerline-pg-tls-'));
  ca = createCertificateAuthority('Ledgerline test database CA');
  caFile = join(files, 'ca.pem');
  otherCaFile = join(files, 'other-ca.pem');
  await writeFile(caFile, ca.certificatePem);
  await writeFile(otherCaFile, createCertificateAuthority('Somebody else').certificatePem);
  await useServerCertificate(['localhost', '127.0.0.1']);
}, 300_000);

afterAll(async () => {
  if (stack) {
    await stopStack({ env: stack.env });
    await stack.remove();
  }
  if (files) await rm(files, { recursive: true, force: true });
}, 120_000);

/** Installs a certificate for `hosts` and waits until the server presents it (reload). */
async function useServerCertificate(hosts: string[]): Promise<void> {
  const certificate = issueServerCertificate(ca, { commonName: hosts[0]!, hosts });
  await enablePostgresTls(resolveStackConfig(stack.env), certificate);
  // A bound on the reload, not a speed target: on a busy 2-core machine (a CI run beside other
  // suites) PostgreSQL has taken more than 15 s to present the new certificate.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const presented = await presentedCertificate().catch(() => undefined);
    if (presented?.equals(new X509Certificate(certificate.certificatePem).raw)) return;
    if (Date.now() > deadline) throw new Error('the server did not present the new certificate');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The certificate the server shows to a client that verifies nothing (require). */
async function presentedCertificate(): Promise<Buffer> {
  const pool = createPool(withParameters(plainUrl, { sslmode: 'require' }), { max: 1 });
  try {
    const client = await pool.connect();
    try {
      const socket = (client as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      return socket.getPeerCertificate().raw;
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

function withParameters(url: string, parameters: Record<string, string>): string {
  const copy = new URL(url);
  for (const [name, value] of Object.entries(parameters)) copy.searchParams.set(name, value);
  return copy.toString();
}

/** Connects with the platform's pool and asks the server whether this session is encrypted. */
async function sessionEncryption(url: string): Promise<{ ssl: boolean; version: string }> {
  const pool = createPool(url, { max: 1, applicationName: 'postgres-tls-test' });
  try {
    const { rows } = await pool.query<{ ssl: boolean; version: string }>(
      'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    return rows[0]!;
  } finally {
    await pool.end();
  }
}

/** Runs `work` with extra environment variables, restoring them after. */
async function withEnvironment<T>(variables: Record<string, string>, work: () => Promise<T>) {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await work();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

test('sslmode=verify-full with the CA file in the URL gives an encrypted, verified session', async () => {
  const url = withParameters(plainUrl, { sslmode: 'verify-full', sslrootcert: caFile });
  expect(await sessionEncryption(url)).toEqual({
    ssl: true,
    version: expect.stringMatching(/^TLSv1\.[23]$/),
  });
});

test('DATABASE_SSL_CA_FILE alone means verify-full: the pool encrypts without any URL change', async () => {
  const session = await withEnvironment({ DATABASE_SSL_CA_FILE: caFile }, () =>
    sessionEncryption(plainUrl),
  );
  expect(session.ssl).toBe(true);
});

test('a server whose certificate another CA signed is refused under verify-full', async () => {
  const url = withParameters(plainUrl, { sslmode: 'verify-full', sslrootcert: otherCaFile });
  await expect(sessionEncryption(url)).rejects.toThrow(
    /self[- ]signed|unable to verify|certificate/i,
  );
});

test('verify-full checks the host name (verify-ca does not): a certificate for another host is refused', async () => {
  await useServerCertificate(['ledger-db.internal.example']);
  try {
    await expect(
      sessionEncryption(withParameters(plainUrl, { sslmode: 'verify-full', sslrootcert: caFile })),
    ).rejects.toThrow(/Hostname\/IP does not match|altnames/);
    const verifiedChainOnly = await sessionEncryption(
      withParameters(plainUrl, { sslmode: 'verify-ca', sslrootcert: caFile }),
    );
    expect(verifiedChainOnly.ssl).toBe(true);
  } finally {
    await useServerCertificate(['localhost', '127.0.0.1']);
  }
}, 240_000);
