// No log line carries a credential: authorization headers, API keys, JWTs, passwords and the
// password inside a connection string are masked wherever they appear in the line (a logged
// object at any depth, an error message, a stack trace), while what an operator needs to follow
// a payment stays readable.
import { Writable } from 'node:stream';
import { DEFAULT_ENDPOINTS } from '../src/config.js';
import { createLogger, redactSecrets } from '../src/log.js';

const API_KEY = `llk_0123456789abcdef_${'S'.repeat(43)}`;
const JWT =
  'eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcGVyYXRvci03Iiwic2NvcGUiOiJhZGp1c3RtZW50czp3cml0ZSJ9.c2lnbmF0dXJlLWJ5dGVz';
const SECRETS = ['s3cret-Pa55', 'S'.repeat(43), JWT, 'postgres:postgres@', 'hunter2'];

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe('log lines', () => {
  const previousLevel = process.env['LOG_LEVEL'];
  beforeAll(() => {
    process.env['LOG_LEVEL'] = 'debug';
  });
  afterAll(() => {
    if (previousLevel === undefined) delete process.env['LOG_LEVEL'];
    else process.env['LOG_LEVEL'] = previousLevel;
  });

  it('mask an authorization header, an API key and a JWT wherever they sit in the object', () => {
    const { lines, stream } = capture();
    const log = createLogger('ledger', stream);
    log.info(
      {
        req: { headers: { authorization: `Bearer ${API_KEY}`, 'idempotency-key': 'funding-0001' } },
        upstream: { headers: { Authorization: `Bearer ${JWT}` } },
        apiKey: API_KEY,
        paymentId: '5f0c2a8e-0000-4000-8000-000000000001',
        amountMinor: 1250,
      },
      'adjustment requested',
    );
    expect(lines).toHaveLength(1);
    expectNoSecret(lines[0]!);
    const line = JSON.parse(lines[0]!) as {
      req: { headers: Record<string, string> };
      upstream: { headers: Record<string, string> };
      apiKey: string;
      paymentId: string;
      amountMinor: number;
      msg: string;
    };
    expect(line.req.headers['authorization']).toBe('[redacted]');
    expect(line.upstream.headers['Authorization']).toBe('[redacted]');
    expect(line.apiKey).toBe('[redacted]');
    // What an operator follows a payment by stays.
    expect(line.req.headers['idempotency-key']).toBe('funding-0001');
    expect(line.paymentId).toBe('5f0c2a8e-0000-4000-8000-000000000001');
    expect(line.amountMinor).toBe(1250);
    expect(line.msg).toBe('adjustment requested');
  });

  it('mask the password of a connection string in configuration, error messages and stacks', () => {
    const { lines, stream } = capture();
    const log = createLogger('processor', stream).child({ component: 'store' });
    const url = 'postgres://processor_app:s3cret-Pa55@db.internal:5432/ledgerline';
    log.warn({ config: { databaseUrl: url, appRolePassword: 'hunter2' } }, 'starting');
    log.error({ err: new Error(`connect ECONNREFUSED for ${url}`) }, `cannot reach ${url}`);
    log.debug('libpq: host=db.internal user=processor_app password=s3cret-Pa55 sslmode=require');
    expect(lines).toHaveLength(3);
    for (const line of lines) expectNoSecret(line);
    const [config, failure, libpq] = lines.map(
      (l) =>
        JSON.parse(l) as {
          msg: string;
          config?: { databaseUrl: string; appRolePassword: string };
          err?: { stack: string };
        },
    );
    // The rest of the URL still says where the service was connecting.
    expect(config!.config).toEqual({
      databaseUrl: 'postgres://processor_app:[redacted]@db.internal:5432/ledgerline',
      appRolePassword: '[redacted]',
    });
    expect(failure!.msg).toContain('processor_app:[redacted]@db.internal:5432');
    expect(failure!.err?.stack).toContain('processor_app:[redacted]@db.internal');
    expect(libpq!.msg).toBe(
      'libpq: host=db.internal user=processor_app password=[redacted] sslmode=require',
    );
  });
});

describe('redactSecrets', () => {
  it('masks the default development DATABASE_URL that npm start used to print', () => {
    expect(redactSecrets(DEFAULT_ENDPOINTS.databaseUrl)).toBe(
      'postgres://postgres:[redacted]@127.0.0.1:15432/ledgerline',
    );
  });

  it('keeps an API key’s id (which key it was) and drops its secret', () => {
    expect(redactSecrets(`revoked ${API_KEY}`)).toBe('revoked llk_0123456789abcdef_[redacted]');
  });

  it('leaves ordinary text alone: URLs without credentials, ids, amounts, reasons', () => {
    for (const text of [
      'http://127.0.0.1:18081/apis/ccompat/v7',
      'kafka 127.0.0.1:19092 ready',
      '{"paymentId":"5f0c2a8e-0000-4000-8000-000000000001","amountMinor":1250,"currency":"EUR"}',
      '{"keyId":"0123456789abcdef","scopes":["payments:write"],"reason":"top-up"}',
      'Idempotency-Key funding-0001 replayed',
    ])
      expect(redactSecrets(text)).toBe(text);
  });
});
