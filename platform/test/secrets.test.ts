// Fail closed: outside development a service names every missing or development secret and
// refuses to start; the deploy step refuses development role passwords the same way.
import { rolePasswordsFromEnv, roleDatabaseUrl, type ServiceDatabase } from '../src/deploy.js';
import { assertProductionSecrets, developmentSecretProblems } from '../src/secrets.js';

const PRODUCTION = { LEDGERLINE_ENV: 'production' };
const GOOD_LEDGER_URL = 'postgres://ledger_app:Xq9-long-random@db.internal:5432/ledgerline';

describe('a service outside development', () => {
  it('refuses to start with every secret missing, naming each one', () => {
    expect(() =>
      assertProductionSecrets(PRODUCTION, 'audit', ['audit_app', 'audit_reader']),
    ).toThrow(
      'audit refuses to start with LEDGERLINE_ENV=production: AUDIT_APP_DATABASE_URL is missing; AUDIT_READER_DATABASE_URL is missing',
    );
  });

  it('refuses the development role password, an empty one and the local admin password', () => {
    expect(
      developmentSecretProblems(
        {
          LEDGER_APP_DATABASE_URL: 'postgres://ledger_app:ledger_app_dev@db/ledgerline',
          AUDIT_APP_DATABASE_URL: 'postgres://audit_app@db/ledgerline',
          AUDIT_READER_DATABASE_URL: 'postgres://audit_reader:postgres@db/ledgerline',
        },
        ['ledger_app', 'audit_app', 'audit_reader'],
      ),
    ).toEqual([
      'LEDGER_APP_DATABASE_URL holds the development password',
      'AUDIT_APP_DATABASE_URL has no password',
      'AUDIT_READER_DATABASE_URL holds the development password',
    ]);
  });

  it('refuses to hold the admin DATABASE_URL beside its own role URL', () => {
    expect(
      developmentSecretProblems(
        {
          LEDGER_APP_DATABASE_URL: GOOD_LEDGER_URL,
          DATABASE_URL: 'postgres://admin:S3cret-admin@db/ledgerline',
        },
        ['ledger_app'],
      ),
    ).toEqual([
      'DATABASE_URL (the deploy step’s admin URL) is set: a service gets only its role URLs',
    ]);
  });

  it('needs Kafka credentials once Kafka uses TLS, and none while it is plaintext', () => {
    const base = { LEDGER_APP_DATABASE_URL: GOOD_LEDGER_URL };
    expect(developmentSecretProblems(base, ['ledger_app'])).toEqual([]);
    expect(developmentSecretProblems({ ...base, KAFKA_SSL: 'true' }, ['ledger_app'])).toEqual([
      'Kafka uses TLS without a credential: KAFKA_SASL_MECHANISM or KAFKA_SSL_CERT_FILE is missing',
    ]);
    expect(
      developmentSecretProblems({ ...base, KAFKA_SASL_MECHANISM: 'scram-sha-512' }, ['ledger_app']),
    ).toEqual(['KAFKA_SASL_USERNAME is missing', 'KAFKA_SASL_PASSWORD is missing']);
    expect(
      developmentSecretProblems(
        {
          ...base,
          KAFKA_SASL_MECHANISM: 'scram-sha-512',
          KAFKA_SASL_USERNAME: 'ledger',
          KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka',
        },
        ['ledger_app'],
      ),
    ).toEqual([]);
    expect(
      developmentSecretProblems(
        { ...base, KAFKA_SSL_CERT_FILE: '/c.pem', KAFKA_SSL_KEY_FILE: '/k.pem' },
        ['ledger_app'],
      ),
    ).toEqual([]);
  });

  it('needs Schema Registry credentials once its URL says https', () => {
    const base = { LEDGER_APP_DATABASE_URL: GOOD_LEDGER_URL };
    expect(
      developmentSecretProblems({ ...base, SCHEMA_REGISTRY_URL: 'http://registry:8081' }, [
        'ledger_app',
      ]),
    ).toEqual([]);
    expect(
      developmentSecretProblems({ ...base, SCHEMA_REGISTRY_URL: 'https://registry:8081' }, [
        'ledger_app',
      ]),
    ).toEqual([
      'the Schema Registry uses TLS without a credential: SCHEMA_REGISTRY_PASSWORD is missing',
    ]);
    expect(
      developmentSecretProblems(
        { ...base, SCHEMA_REGISTRY_URL: 'https://ledger:Reg-1234-secret@registry:8081' },
        ['ledger_app'],
      ),
    ).toEqual([]);
  });

  it('starts when every secret is its own', () => {
    expect(() =>
      assertProductionSecrets(
        { ...PRODUCTION, LEDGER_APP_DATABASE_URL: GOOD_LEDGER_URL },
        'ledger',
        ['ledger_app'],
      ),
    ).not.toThrow();
  });

  it('in development, derives its role URL from the platform database and the development password', () => {
    const url = new URL(
      roleDatabaseUrl(
        { DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:15432/ledgerline' },
        'ledger_app',
      ),
    );
    expect([url.username, url.password, url.host, url.pathname]).toEqual([
      'ledger_app',
      'ledger_app_dev',
      '127.0.0.1:15432',
      '/ledgerline',
    ]);
    expect(() => roleDatabaseUrl(PRODUCTION, 'ledger_app')).toThrow(
      'LEDGER_APP_DATABASE_URL is required outside development',
    );
  });
});

describe('the deploy step outside development', () => {
  const services: ServiceDatabase[] = [
    {
      service: 'audit',
      schema: 'audit',
      appRole: 'audit_app',
      roles: [
        { name: 'audit_app', login: true },
        { name: 'audit_reader', login: true },
        { name: 'ledger_reader', login: false },
      ],
      migrationsDir: '/nonexistent',
    },
  ];

  it('refuses missing and development role passwords, naming each variable', () => {
    expect(() =>
      rolePasswordsFromEnv({ ...PRODUCTION, AUDIT_APP_PASSWORD: 'audit_app_dev' }, services),
    ).toThrow(
      'refusing to deploy with development secrets: AUDIT_APP_PASSWORD is the development default; AUDIT_READER_PASSWORD is missing',
    );
  });

  it('takes the configured passwords, and development defaults only in development', () => {
    expect(
      rolePasswordsFromEnv(
        { ...PRODUCTION, AUDIT_APP_PASSWORD: 'a-1', AUDIT_READER_PASSWORD: 'r-2' },
        services,
      ),
    ).toEqual({ audit_app: 'a-1', audit_reader: 'r-2' });
    expect(rolePasswordsFromEnv({}, services)).toEqual({
      audit_app: 'audit_app_dev',
      audit_reader: 'audit_reader_dev',
    });
  });
});
