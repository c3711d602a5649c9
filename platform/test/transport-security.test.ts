// Transport security settings: what each environment variable turns into for kafkajs, the
// registry client and node-postgres, and that a setting which cannot be honoured stops the
// service at start naming the variable. Then the registry path for real: a service's serde
// and readiness probe through an https proxy with basic auth in front of the shared registry.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ledgerlineDeadLetterTopic,
  paymentsStatusChangedProducer,
  paymentsStatusChangedConsumer,
} from '@ledgerline/generated/topics';
import { createCertificateAuthority, issueServerCertificate } from '@ledgerline/stack/certificates';
import { platformEndpoints } from '../src/config.js';
import { EventSerde } from '../src/events/serde.js';
import { prefixedTopic } from '../src/events/topic.js';
import { dependencyProbes } from '../src/http/readiness.js';
import {
  kafkaSecurity,
  postgresConnection,
  registryConnection,
  registryRequest,
  TransportConfigError,
  type ReadTextFile,
} from '../src/transport-security.js';

/** Files by name, as a test stand-in for the file system; anything else does not exist. */
function files(contents: Record<string, string>): ReadTextFile {
  return (file) => {
    const text = contents[file];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${file}'`);
    return text;
  };
}

describe('Kafka client security from the environment', () => {
  const read = files({ '/etc/kafka/ca.pem': 'CA PEM', '/run/secrets/kafka': 's3cret\n' });

  test('nothing set is the local plaintext broker: no TLS, no SASL', () => {
    expect(kafkaSecurity({}, { read })).toEqual({ ssl: undefined, sasl: undefined });
  });

  test('SCRAM turns TLS on by itself and verifies the broker with the given CA', () => {
    const security = kafkaSecurity(
      {
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        KAFKA_SASL_USERNAME: 'ledger',
        KAFKA_SASL_PASSWORD: 'pw',
        KAFKA_SSL_CA_FILE: '/etc/kafka/ca.pem',
      },
      { read },
    );
    expect(security).toEqual({
      ssl: { rejectUnauthorized: true, ca: ['CA PEM'] },
      sasl: { mechanism: 'scram-sha-512', username: 'ledger', password: 'pw' },
    });
  });

  test('TLS without a CA file trusts the system CAs (AWS MSK), and the password may come from a file', () => {
    const security = kafkaSecurity(
      {
        KAFKA_SSL: 'true',
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'ledger',
        KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka',
      },
      { read },
    );
    expect(security.ssl).toEqual({ rejectUnauthorized: true });
    expect(security.sasl).toEqual({
      mechanism: 'scram-sha-256',
      username: 'ledger',
      password: 's3cret',
    });
  });

  test('SASL over plaintext only when KAFKA_SSL=false says so', () => {
    const security = kafkaSecurity(
      {
        KAFKA_SSL: 'false',
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
      },
      { read },
    );
    expect(security.ssl).toBeUndefined();
    expect(security.sasl?.mechanism).toBe('scram-sha-256');
  });

  test.each([
    [
      { KAFKA_SASL_MECHANISM: 'plain' },
      /KAFKA_SASL_MECHANISM=plain is not one of scram-sha-256, scram-sha-512, oauthbearer/,
    ],
    [
      { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' },
      /needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
    ],
    [
      { KAFKA_SSL_CA_FILE: '/nowhere/ca.pem' },
      /KAFKA_SSL_CA_FILE=\/nowhere\/ca.pem cannot be read/,
    ],
    [
      { KAFKA_SSL_CERT_FILE: '/etc/kafka/ca.pem' },
      /KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE are set together/,
    ],
    [{ KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: '/etc/kafka/ca.pem' }, /KAFKA_SSL=false contradicts/],
    [{ KAFKA_SSL: 'yes' }, /KAFKA_SSL=yes must be true or false/],
    [{ KAFKA_SASL_MECHANISM: 'oauthbearer' }, /needs KAFKA_SASL_OAUTHBEARER_PROVIDER/],
  ])('%j is refused at start with a message naming the variable', (env, message) => {
    expect(() => kafkaSecurity(env, { read })).toThrow(TransportConfigError);
    expect(() => kafkaSecurity(env, { read })).toThrow(message);
  });

  test('OAUTHBEARER imports the token provider module once, on the first authentication', async () => {
    const imported: string[] = [];
    let issued = 0;
    const security = kafkaSecurity(
      { KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_PROVIDER: '@acme/msk-token' },
      {
        read,
        importModule: async (specifier) => {
          imported.push(specifier);
          return { default: async () => ({ value: `token-${++issued}` }) };
        },
      },
    );
    expect(imported).toEqual([]); // nothing loaded before a connection needs it
    const sasl = security.sasl as {
      mechanism: string;
      oauthBearerProvider: () => Promise<{ value: string }>;
    };
    expect(sasl.mechanism).toBe('oauthbearer');
    expect(security.ssl).toEqual({ rejectUnauthorized: true });
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'token-1' });
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'token-2' });
    expect(imported).toEqual(['@acme/msk-token']);
  });

  test('OAUTHBEARER loads a provider file by path, and a provider without a token fails the login clearly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledgerline-oauth-'));
    try {
      const good = join(dir, 'good.mjs');
      const empty = join(dir, 'empty.mjs');
      await writeFile(
        good,
        'export async function oauthBearerProvider() { return { value: "jwt-from-file" }; }\n',
      );
      await writeFile(empty, 'export default async () => ({});\n');
      const provider = (file: string) =>
        (
          kafkaSecurity({
            KAFKA_SASL_MECHANISM: 'oauthbearer',
            KAFKA_SASL_OAUTHBEARER_PROVIDER: file,
          }).sasl as {
            oauthBearerProvider: () => Promise<{ value: string }>;
          }
        ).oauthBearerProvider;
      expect(await provider(good)()).toEqual({ value: 'jwt-from-file' });
      await expect(provider(empty)()).rejects.toThrow(/returned no \{ value: token \}/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Schema Registry credentials and TLS from the environment', () => {
  const read = files({ '/etc/registry/ca.pem': 'REGISTRY CA' });

  test('user-info in the URL becomes basic auth and leaves the URL', () => {
    const connection = registryConnection(
      'https://svc%40ledger:p%3Ass@registry.example/apis/ccompat/v7/',
      {},
    );
    expect(connection.url).toBe('https://registry.example/apis/ccompat/v7');
    expect(connection.auth).toEqual({ username: 'svc@ledger', password: 'p:ss' });
    expect(connection.agent).toBeUndefined();
  });

  test('SCHEMA_REGISTRY_USERNAME/PASSWORD win over user-info, and a CA file gives a verifying https agent', () => {
    const connection = registryConnection(
      'https://old:old@registry.example/apis/ccompat/v7',
      {
        SCHEMA_REGISTRY_USERNAME: 'ledger',
        SCHEMA_REGISTRY_PASSWORD: 'secret',
        SCHEMA_REGISTRY_CA_FILE: '/etc/registry/ca.pem',
      },
      read,
    );
    expect(connection.auth).toEqual({ username: 'ledger', password: 'secret' });
    expect(connection.agent).toBeInstanceOf(https.Agent);
    expect(connection.agent?.options).toMatchObject({
      ca: ['REGISTRY CA'],
      rejectUnauthorized: true,
    });
  });

  test('the serde hands the bare URL and the verifying agent to the registry client (credentials: proven through the proxy below)', () => {
    const serde = new EventSerde({
      registryUrl: 'https://registry.example/apis/ccompat/v7',
      autoRegister: false,
      registry: registryConnection(
        'https://u:p@registry.example/apis/ccompat/v7',
        { SCHEMA_REGISTRY_CA_FILE: '/etc/registry/ca.pem' },
        read,
      ),
    });
    // mappersmith keeps the manifest it was built with: host, basic-auth middleware, agent.
    const manifest = (
      serde.registry as unknown as {
        api: {
          _manifest: {
            host: string;
            gatewayConfigs: { HTTP: { configure: () => { agent: https.Agent } } };
          };
        };
      }
    ).api._manifest;
    expect(manifest.host).toBe('https://registry.example/apis/ccompat/v7');
    expect(manifest.gatewayConfigs.HTTP.configure().agent.options).toMatchObject({
      ca: ['REGISTRY CA'],
    });
  });

  test.each([
    [
      { SCHEMA_REGISTRY_CA_FILE: '/etc/registry/ca.pem' },
      'http://registry.example',
      /need an https SCHEMA_REGISTRY_URL/,
    ],
    [{ SCHEMA_REGISTRY_USERNAME: 'u' }, 'https://registry.example', /set together or not at all/],
    [{}, 'ftp://registry.example', /must be http or https/],
  ])('%j with %s is refused at start', (env, url, message) => {
    expect(() => registryConnection(url, env, read)).toThrow(message);
  });
});

describe('PostgreSQL TLS with libpq sslmode semantics', () => {
  const read = files({ '/etc/pg/ca.pem': 'PG CA' });
  const url = 'postgres://ledger:pw@db.example:5432/ledgerline';

  test('no sslmode and no CA: plaintext, as the local stack runs', () => {
    expect(postgresConnection(url, {}, read)).toEqual({ connectionString: url, ssl: false });
  });

  test('verify-full with sslrootcert in the URL: the chain is verified, the ssl parameters leave the URL', () => {
    const connection = postgresConnection(
      `${url}?sslmode=verify-full&sslrootcert=/etc/pg/ca.pem&application_name=x`,
      {},
      read,
    );
    expect(connection.connectionString).toBe(`${url}?application_name=x`);
    expect(connection.ssl).toEqual({ rejectUnauthorized: true, ca: ['PG CA'] });
  });

  test('a CA file in DATABASE_SSL_CA_FILE (or PGSSLROOTCERT) alone means verify-full', () => {
    for (const name of ['DATABASE_SSL_CA_FILE', 'PGSSLROOTCERT']) {
      expect(postgresConnection(url, { [name]: '/etc/pg/ca.pem' }, read).ssl).toEqual({
        rejectUnauthorized: true,
        ca: ['PG CA'],
      });
    }
  });

  test('verify-ca verifies the chain but not the name; require without a CA encrypts only', () => {
    const verifyCa = postgresConnection(
      url,
      { PGSSLMODE: 'verify-ca', DATABASE_SSL_CA_FILE: '/etc/pg/ca.pem' },
      read,
    ).ssl as { rejectUnauthorized: boolean; checkServerIdentity: () => unknown };
    expect(verifyCa.rejectUnauthorized).toBe(true);
    expect(verifyCa.checkServerIdentity()).toBeUndefined();
    expect(postgresConnection(`${url}?sslmode=require`, {}, read).ssl).toEqual({
      rejectUnauthorized: false,
    });
  });

  test.each([
    [`${url}?sslmode=prefer`, {}, /sslmode=prefer is not supported/],
    [url, { PGSSLMODE: 'verify-ca' }, /verify-ca needs a CA file/],
    [
      `${url}?sslmode=disable`,
      { DATABASE_SSL_CA_FILE: '/etc/pg/ca.pem' },
      /contradicts the CA file/,
    ],
    [
      url,
      { DATABASE_SSL_CA_FILE: '/missing.pem' },
      /DATABASE_SSL_CA_FILE=\/missing.pem cannot be read/,
    ],
  ])('%s with %j is refused at start', (databaseUrl, env, message) => {
    expect(() => postgresConnection(databaseUrl, env, read)).toThrow(message);
  });
});

describe('a service reaches the registry through TLS and basic auth', () => {
  let proxy: https.Server;
  let proxyUrl: string;
  let dir: string;
  let caFile: string;
  const seen: { authorized: boolean; path: string }[] = [];

  beforeAll(async () => {
    // An https front for the shared (plain http) registry that demands basic auth, like a
    // managed registry does; requests it accepts are passed through unchanged.
    const upstream = new URL(platformEndpoints().schemaRegistryUrl);
    const ca = createCertificateAuthority('Ledgerline test registry CA');
    const certificate = issueServerCertificate(ca, {
      commonName: 'localhost',
      hosts: ['127.0.0.1'],
    });
    dir = await mkdtemp(join(tmpdir(), 'ledgerline-registry-tls-'));
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.certificatePem);
    const expected = `Basic ${Buffer.from('ledger:registry-secret').toString('base64')}`;
    proxy = https.createServer(
      { cert: certificate.certificatePem, key: certificate.privateKeyPem },
      (request, response) => {
        const authorized = request.headers.authorization === expected;
        seen.push({ authorized, path: request.url ?? '' });
        if (!authorized) {
          response.writeHead(401, { 'content-type': 'application/json' }).end('{"error_code":401}');
          return;
        }
        const { authorization: _authorization, host: _host, ...headers } = request.headers;
        const forwarded = http.request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: request.method,
            path: request.url,
            headers,
          },
          (answer) => {
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(response);
          },
        );
        forwarded.on('error', () => response.writeHead(502).end());
        request.pipe(forwarded);
      },
    );
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}${upstream.pathname}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function serdeWith(password: string): EventSerde {
    return new EventSerde({
      registryUrl: proxyUrl,
      autoRegister: true,
      registry: registryConnection(proxyUrl, {
        SCHEMA_REGISTRY_USERNAME: 'ledger',
        SCHEMA_REGISTRY_PASSWORD: password,
        SCHEMA_REGISTRY_CA_FILE: caFile,
      }),
    });
  }

  test('a payment event registers, encodes and decodes through the https registry with credentials', async () => {
    const prefix = `t-registry-tls-${randomUUID().slice(0, 8)}.`;
    const serde = serdeWith('registry-secret');
    const paymentId = randomUUID();
    const value = {
      eventId: randomUUID(),
      correlationId: paymentId,
      occurredAt: new Date('2026-03-01T09:30:00.000Z'),
      paymentId,
      version: 3,
      from: 'DEBITED' as const,
      to: 'COMPLETED' as const,
      reason: null,
      rejectionReason: null,
      payerAccountId: randomUUID(),
      payeeAccountId: randomUUID(),
      amountMinor: 12_345,
      currency: 'EUR',
      refundedMinor: 0,
    };
    const encoded = await paymentsStatusChangedProducer(serde, { topicPrefix: prefix }).encode(
      paymentId,
      value,
    );
    // A second serde (another process) reads the writer schema by id through the proxy.
    const decoded = await paymentsStatusChangedConsumer(serdeWith('registry-secret'), {
      topicPrefix: prefix,
    }).decode({
      partition: 0,
      offset: '0',
      key: encoded.key,
      value: encoded.value,
      headers: {},
      timestamp: '0',
    });
    expect(decoded.value).toMatchObject({
      paymentId,
      amountMinor: 12_345,
      currency: 'EUR',
      to: 'COMPLETED',
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((request) => request.authorized)).toBe(true);
  });

  test('a wrong registry password is refused and nothing is registered', async () => {
    const topic = prefixedTopic(
      ledgerlineDeadLetterTopic,
      `t-registry-denied-${randomUUID().slice(0, 8)}.`,
    );
    await expect(serdeWith('wrong').prepare(topic)).rejects.toThrow(/401/);
    const answer = await registryRequest(
      registryConnection(platformEndpoints().schemaRegistryUrl, {}),
      'GET',
      '/subjects',
      { timeoutMs: 10_000 },
    );
    const subjects = JSON.parse(answer.text) as string[];
    expect(subjects).not.toContain(topic.valueSubject);
  });

  test('readiness probes the registry with the same credentials and TLS', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      SCHEMA_REGISTRY_USERNAME: 'ledger',
      SCHEMA_REGISTRY_PASSWORD: 'registry-secret',
      SCHEMA_REGISTRY_CA_FILE: caFile,
    });
    try {
      const probes = dependencyProbes({
        // Only the registry probe runs here.
        db: {} as never,
        kafkaAdmin: {} as never,
        registryUrl: proxyUrl,
      });
      await expect(probes['registry']!()).resolves.toBeUndefined();
      process.env['SCHEMA_REGISTRY_PASSWORD'] = 'wrong';
      const refused = dependencyProbes({
        db: {} as never,
        kafkaAdmin: {} as never,
        registryUrl: proxyUrl,
      });
      await expect(refused['registry']!()).rejects.toThrow(/HTTP 401/);
    } finally {
      for (const name of [
        'SCHEMA_REGISTRY_USERNAME',
        'SCHEMA_REGISTRY_PASSWORD',
        'SCHEMA_REGISTRY_CA_FILE',
      ]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});
