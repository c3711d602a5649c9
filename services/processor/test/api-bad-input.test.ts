// The invalid space of the processor API, case by case: every bad request gets a clear 4xx
// problem+json and leaves no payment, no refund, no idempotency key and no outbox row.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { startProcessor, type RunningProcessor } from '../src/service.js';
import { createTestBed, validPayment, type ProcessorTestBed } from './support.js';

interface BadRequest {
  readonly name: string;
  readonly method?: 'GET' | 'POST';
  readonly path?: string;
  readonly body?: unknown;
  /** Sent as is (not JSON-encoded) when set. */
  readonly rawBody?: string;
  readonly contentType?: string | null;
  readonly idempotencyKey?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
  readonly status: number;
  readonly type?: string;
  /** A JSON pointer (or parameter pointer) the problem's errors[] must name. */
  readonly pointer?: string;
}

const problemBase = 'https://ledgerline.dev/problems/';
const payer = randomUUID();
const with_ = (patch: Record<string, unknown>): Record<string, unknown> => ({
  ...validPayment(),
  payerAccountId: payer,
  ...patch,
});
const without = (field: string): Record<string, unknown> => {
  const body = with_({});
  delete body[field];
  return body;
};
const manyKeys = (count: number, keyLength = 4, value = 'v'): Record<string, string> =>
  Object.fromEntries(
    Array.from({ length: count }, (_, index) => [String(index).padStart(keyLength, 'k'), value]),
  );

const badPayments: BadRequest[] = [
  { name: 'malformed JSON', rawBody: '{"payerAccountId": "', status: 400 },
  { name: 'a JSON array instead of an object', body: [with_({})], status: 400 },
  { name: 'JSON null', rawBody: 'null', status: 400 },
  { name: 'an empty body', rawBody: '', status: 400, pointer: '/body' },
  {
    name: 'text/plain instead of JSON',
    rawBody: JSON.stringify(with_({})),
    contentType: 'text/plain',
    status: 415,
    type: `${problemBase}unsupported-media-type`,
  },
  {
    name: 'an unknown field',
    body: with_({ colour: 'red' }),
    status: 400,
    type: `${problemBase}validation-failed`,
    pointer: '/colour',
  },
  {
    name: 'a __proto__ member',
    rawBody: JSON.stringify(with_({})).replace(/}$/, ',"__proto__":{"admin":true}}'),
    status: 400,
  },
  // JSON.parse keeps the last of two members with one name; a proxy or a signature check in
  // front of the service may keep the first. The edge refuses the ambiguity.
  {
    name: 'the amount named twice',
    rawBody: JSON.stringify(with_({ amountMinor: 1 })).replace(
      '"amountMinor":1',
      '"amountMinor":1,"amountMinor":9999900',
    ),
    status: 400,
    type: `${problemBase}malformed-body`,
    pointer: '/amountMinor',
  },
  {
    name: 'the payee named twice, once through an escape',
    rawBody: JSON.stringify(with_({})).replace(/}$/, `,"payee\\u0041ccountId":"${randomUUID()}"}`),
    status: 400,
    type: `${problemBase}malformed-body`,
    pointer: '/payeeAccountId',
  },
  {
    name: 'a body declared gzip that is not',
    rawBody: JSON.stringify(with_({})),
    headers: { 'content-encoding': 'gzip' },
    status: 400,
    type: `${problemBase}malformed-body`,
  },
  {
    name: 'JSON declared as UTF-16',
    rawBody: JSON.stringify(with_({})),
    contentType: 'application/json; charset=utf-16',
    status: 415,
    type: `${problemBase}unsupported-media-type`,
  },
  {
    name: 'the amount as a string',
    body: with_({ amountMinor: '12500' }),
    status: 400,
    pointer: '/amountMinor',
  },
  { name: 'a zero amount', body: with_({ amountMinor: 0 }), status: 400, pointer: '/amountMinor' },
  {
    name: 'a negative amount',
    body: with_({ amountMinor: -100 }),
    status: 400,
    pointer: '/amountMinor',
  },
  {
    name: 'a fractional amount',
    body: with_({ amountMinor: 12.5 }),
    status: 400,
    pointer: '/amountMinor',
  },
  {
    name: 'an amount beyond 2^53 - 2',
    rawBody: JSON.stringify(with_({ amountMinor: 1 })).replace(
      '"amountMinor":1',
      '"amountMinor":9007199254740993',
    ),
    status: 400,
    pointer: '/amountMinor',
  },
  {
    name: 'an amount that overflows a double',
    rawBody: JSON.stringify(with_({ amountMinor: 1 })).replace(
      '"amountMinor":1',
      '"amountMinor":1e400',
    ),
    status: 400,
    pointer: '/amountMinor',
  },
  { name: 'no amount', body: without('amountMinor'), status: 400, pointer: '/amountMinor' },
  { name: 'no currency', body: without('currency'), status: 400, pointer: '/currency' },
  {
    name: 'a lower-case currency',
    body: with_({ currency: 'eur' }),
    status: 400,
    pointer: '/currency',
  },
  {
    name: 'the currency as a number',
    body: with_({ currency: 978 }),
    status: 400,
    pointer: '/currency',
  },
  {
    name: 'an unknown currency',
    body: with_({ currency: 'XYZ' }),
    status: 422,
    type: `${problemBase}unknown-currency`,
    pointer: '/currency',
  },
  {
    name: 'a currency without minor units (gold)',
    body: with_({ currency: 'XAU' }),
    status: 422,
    type: `${problemBase}unknown-currency`,
  },
  {
    name: 'the same payer and payee',
    body: with_({ payeeAccountId: payer }),
    status: 422,
    type: `${problemBase}same-account`,
    pointer: '/payeeAccountId',
  },
  {
    name: 'the same account spelled in another case',
    body: with_({ payeeAccountId: payer.toUpperCase() }),
    status: 422,
    type: `${problemBase}same-account`,
  },
  {
    name: 'a payer that is not a UUID',
    body: with_({ payerAccountId: 'acc-42' }),
    status: 400,
    pointer: '/payerAccountId',
  },
  {
    name: 'the nil UUID as payee',
    body: with_({ payeeAccountId: '00000000-0000-0000-0000-000000000000' }),
    status: 422,
    pointer: '/payeeAccountId',
  },
  { name: 'a null payer', body: with_({ payerAccountId: null }), status: 400 },
  {
    name: 'a description over 500 characters',
    body: with_({ description: 'x'.repeat(501) }),
    status: 400,
    pointer: '/description',
  },
  {
    name: 'metadata with 21 keys',
    body: with_({ metadata: manyKeys(21) }),
    status: 400,
    pointer: '/metadata',
  },
  {
    name: 'a metadata value over 256 characters',
    body: with_({ metadata: { note: 'y'.repeat(257) } }),
    status: 400,
  },
  {
    name: 'a metadata value that is not a string',
    body: with_({ metadata: { count: 3 } }),
    status: 400,
  },
  // Text PostgreSQL cannot store answered 500 before (schemathesis); the edge's text rule
  // refuses it for every string field, member names included.
  {
    name: 'a metadata value with U+0000',
    body: with_({ metadata: { invoice: '2026\u00000042' } }),
    status: 400,
    type: `${problemBase}validation-failed`,
    pointer: '/metadata/invoice',
  },
  {
    name: 'a metadata key with an unpaired surrogate',
    body: with_({ metadata: { 'note\ud800': 'x' } }),
    status: 400,
    type: `${problemBase}validation-failed`,
    pointer: '/metadata/note\ud800',
  },
  {
    name: 'a description with U+0000',
    body: with_({ description: 'Coffee\u0000' }),
    status: 400,
    pointer: '/description',
  },
  {
    name: 'metadata over 4096 bytes in total',
    body: with_({ metadata: manyKeys(20, 64, 'é'.repeat(128)) }),
    status: 422,
    type: `${problemBase}validation-failed`,
    pointer: '/metadata',
  },
  {
    name: 'a body over 16 KiB',
    body: with_({ description: 'z'.repeat(20 * 1024) }),
    status: 413,
  },
  {
    name: 'no Idempotency-Key',
    body: with_({}),
    idempotencyKey: null,
    status: 400,
    pointer: '/headers/idempotency-key',
  },
  {
    name: 'an Idempotency-Key of 7 characters',
    body: with_({}),
    idempotencyKey: 'abcdefg',
    status: 400,
    pointer: '/headers/idempotency-key',
  },
  {
    name: 'an Idempotency-Key of 129 characters',
    body: with_({}),
    idempotencyKey: 'k'.repeat(129),
    status: 400,
    pointer: '/headers/idempotency-key',
  },
  {
    name: 'an Idempotency-Key with a space',
    body: with_({}),
    idempotencyKey: 'key with spaces',
    status: 400,
    pointer: '/headers/idempotency-key',
  },
];

const badOthers: BadRequest[] = [
  {
    name: 'GET a payment by a malformed id',
    method: 'GET',
    path: '/v1/payments/not-a-uuid',
    status: 400,
  },
  {
    name: 'GET a payment by a urn:uuid id',
    method: 'GET',
    path: `/v1/payments/urn:uuid:${randomUUID()}`,
    status: 400,
  },
  {
    name: 'GET a payment that does not exist',
    method: 'GET',
    path: `/v1/payments/${randomUUID()}`,
    status: 404,
    type: `${problemBase}not-found`,
  },
  {
    name: 'GET a payment by an id with U+0000',
    method: 'GET',
    path: '/v1/payments/%00',
    status: 400,
    pointer: '/path/paymentId',
  },
  {
    name: 'list with U+0000 in the cursor',
    method: 'GET',
    path: '/v1/payments?cursor=abc%00',
    status: 400,
    pointer: '/query/cursor',
  },
  // Number("0x10") is 16: a limit is read only when it is written in decimal digits.
  ...['0x10', '1e1', '01', '%201', '1.0', '', '+5'].map((limit): BadRequest => ({
    name: `list with limit ${JSON.stringify(decodeURIComponent(limit))}`,
    method: 'GET',
    path: `/v1/payments?limit=${limit}`,
    status: 400,
    type: `${problemBase}validation-failed`,
    pointer: '/query/limit',
  })),
  // A path is the contract's as written: no case folding, no trailing slash.
  { name: 'list at /V1/payments', method: 'GET', path: '/V1/payments', status: 404 },
  { name: 'list at /v1/payments/', method: 'GET', path: '/v1/payments/', status: 404 },
  { name: 'list with limit 0', method: 'GET', path: '/v1/payments?limit=0', status: 400 },
  { name: 'list with limit 501', method: 'GET', path: '/v1/payments?limit=501', status: 400 },
  {
    name: 'list with an unknown status',
    method: 'GET',
    path: '/v1/payments?status=PAID',
    status: 400,
  },
  {
    name: 'list with a forged cursor',
    method: 'GET',
    path: `/v1/payments?cursor=${Buffer.from('{"t":"yesterday"}').toString('base64url')}`,
    status: 400,
    pointer: '/query/cursor',
  },
  {
    name: 'list with amountMinorMax below amountMinorMin',
    method: 'GET',
    path: '/v1/payments?amountMinorMin=500&amountMinorMax=499',
    status: 400,
    pointer: '/query/amountMinorMax',
  },
  { name: 'list with amount 0', method: 'GET', path: '/v1/payments?amountMinorMin=0', status: 400 },
  {
    name: 'list with a fractional amount',
    method: 'GET',
    path: '/v1/payments?amountMinorMax=12.5',
    status: 400,
  },
  {
    name: 'list with an unknown query parameter',
    method: 'GET',
    path: '/v1/payments?colour=red',
    status: 400,
  },
  {
    name: 'refund a payment that does not exist',
    path: `/v1/payments/${randomUUID()}/refunds`,
    body: { amountMinor: 100 },
    status: 404,
    type: `${problemBase}not-found`,
  },
  {
    name: 'refund zero',
    path: `/v1/payments/${randomUUID()}/refunds`,
    body: { amountMinor: 0 },
    status: 400,
    pointer: '/amountMinor',
  },
  {
    name: 'refund with an unknown field',
    path: `/v1/payments/${randomUUID()}/refunds`,
    body: { amountMinor: 100, currency: 'EUR' },
    status: 400,
    pointer: '/currency',
  },
  {
    name: 'refund without an Idempotency-Key',
    path: `/v1/payments/${randomUUID()}/refunds`,
    body: {},
    idempotencyKey: null,
    status: 400,
  },
];

describe('processor API: bad input changes nothing', () => {
  let bed: ProcessorTestBed;
  let processor: RunningProcessor;

  beforeAll(async () => {
    bed = await createTestBed('processor-bad-input');
    processor = await startProcessor({ ...bed.config, consumerEnabled: false });
  });

  afterAll(async () => {
    await processor?.stop();
    await bed?.close();
  });

  const cases = [
    ...badPayments.map((c) => ({
      ...c,
      method: c.method ?? 'POST',
      path: c.path ?? '/v1/payments',
    })),
    ...badOthers.map((c) => ({ ...c, method: c.method ?? 'POST', path: c.path ?? '/v1/payments' })),
  ];

  /**
   * A POST with its header lines as written, `field` on two lines with `values` (fetch, and
   * Node's header objects, would fold or refuse them), the others once with valid values.
   */
  const postWithRepeatedField = (field: string, values: readonly string[], body: string) =>
    new Promise<{ status: number; contentType: string | undefined; text: string }>(
      (resolve, reject) => {
        const valid: Record<string, string> = {
          Host: new URL(processor.url).host,
          Authorization: `Bearer ${bed.apiKey}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': randomUUID(),
        };
        const lines = Object.entries(valid).flatMap(([name, value]) =>
          name === field ? values.flatMap((v) => [name, v]) : [name, value],
        );
        const request = http.request(`${processor.url}/v1/payments`, {
          method: 'POST',
          headers: [...lines, 'Content-Length', String(Buffer.byteLength(body))],
        });
        request.on('response', (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              contentType: response.headers['content-type'],
              text,
            }),
          );
        });
        request.on('error', reject);
        request.end(body);
      },
    );

  // Node reads the first of two Authorization or Content-Type headers; a proxy in front may
  // read the last. Whichever comes first, the request is refused and nothing is stored.
  it.each([
    { field: 'Authorization', values: () => [`Bearer ${bed.apiKey}`, 'Bearer llk_forged_value'] },
    { field: 'Authorization', values: () => ['Bearer llk_forged_value', `Bearer ${bed.apiKey}`] },
    { field: 'Content-Type', values: () => ['application/json', 'text/plain'] },
    { field: 'Host', values: () => [new URL(processor.url).host, 'elsewhere.example'] },
    {
      field: 'Idempotency-Key',
      values: () => {
        const key = randomUUID();
        return [key, key];
      },
    },
  ])('two $field headers → 400 malformed-request, nothing stored', async ({ field, values }) => {
    const answer = await postWithRepeatedField(field, values(), JSON.stringify(with_({})));
    expect(answer.status).toBe(400);
    expect(answer.contentType).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.text)).toMatchObject({
      type: `${problemBase}malformed-request`,
      detail: `The request carries more than one ${field} header; send one.`,
    });
    expect(await bed.counts()).toEqual({ payments: 0, refunds: 0, keys: 0, outbox: 0 });
  });

  it('has a catalogue of at least 25 bad payment requests', () => {
    expect(badPayments.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('$name → $status problem+json, nothing stored', async (c) => {
    // A valid merchant key: the bad part of each request is its input, not its credential.
    const headers: Record<string, string> = { authorization: `Bearer ${bed.apiKey}` };
    if (c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json';
    Object.assign(headers, c.headers);
    if (c.method === 'POST' && c.idempotencyKey !== null) {
      headers['idempotency-key'] = c.idempotencyKey ?? randomUUID();
    }
    const body =
      c.method === 'GET'
        ? undefined
        : (c.rawBody ?? (c.body === undefined ? '' : JSON.stringify(c.body)));
    const response = await fetch(`${processor.url}${c.path}`, { method: c.method, headers, body });
    const text = await response.text();

    expect({ status: response.status, body: text }).toMatchObject({ status: c.status });
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(text) as {
      type: string;
      title: string;
      status: number;
      errors?: { pointer?: string; message: string }[];
    };
    expect(problem.status).toBe(c.status);
    expect(typeof problem.title).toBe('string');
    expect(problem.type).toMatch(/^(https:\/\/ledgerline\.dev\/problems\/|about:blank)/);
    if (c.type !== undefined) expect(problem.type).toBe(c.type);
    if (c.pointer !== undefined) {
      expect(problem.errors?.map((e) => e.pointer)).toEqual(
        expect.arrayContaining([expect.stringContaining(c.pointer)]),
      );
    }
    expect(await bed.counts()).toEqual({ payments: 0, refunds: 0, keys: 0, outbox: 0 });
  });
});
