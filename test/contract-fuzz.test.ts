// The project's own contract fuzzer (issue 16): the four services run in-process on the real
// Kafka, registry and PostgreSQL, and for every operation of every OpenAPI document in
// contracts/openapi/ requests are generated from the operation's parameter and body schemas,
// valid ones (with ids that exist) and invalid ones (wrong types, missing or unknown fields,
// overlong strings, malformed JSON, wrong media type). Every answer must have a status the
// operation documents, never 5xx, a body that matches the documented schema for that status
// (problem+json for errors) and documented headers; undeclared methods on declared paths get
// 405 with Allow. Cases per operation: LEDGERLINE_FUZZ_RUNS (default 20, valid and invalid
// each); seed: LEDGERLINE_FUZZ_SEED (default fixed, printed).
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { apiContracts } from '@ledgerline/generated/openapi/contracts';
import type { OpenApiDocument, OpenApiOperation } from '@ledgerline/platform/http/openapi';
import { ContractValidator } from '@ledgerline/platform/http/validation';
import { declaredMethods } from '@ledgerline/platform/http/app';
import {
  createPayment,
  startPlatform,
  type InProcessPlatform,
  openPayerAndPayee,
} from '@ledgerline/testkit/platform';

type Json = Record<string, unknown>;
const RUNS = Number(process.env['LEDGERLINE_FUZZ_RUNS'] ?? 20);
const SEED = Number(process.env['LEDGERLINE_FUZZ_SEED'] ?? 20261205);

let platform: InProcessPlatform;
const known: Record<string, string> = {};

beforeAll(async () => {
  platform = await startPlatform('contract-fuzz', { audit: true, reconciliation: true });
  const { payer, payee } = await openPayerAndPayee(platform.ledgerApi, 1_000_000, 'fuzz');
  const payment = await createPayment(platform.processorApi, {
    payerAccountId: payer,
    payeeAccountId: payee,
    amountMinor: 100,
    currency: 'EUR',
  });
  Object.assign(known, { accountId: payer, paymentId: payment.id });
}, 180_000);

afterAll(async () => {
  await platform?.stop();
}, 120_000);

function resolve(document: OpenApiDocument, node: unknown): Json {
  let current = node as Json;
  for (let depth = 0; depth < 10 && typeof current?.['$ref'] === 'string'; depth++)
    current = (current['$ref'] as string)
      .slice(2)
      .split('/')
      .reduce<unknown>((n, t) => (n as Json)[t], document) as Json;
  return current;
}

/** A value that conforms to the schema (the subset the contracts use). */
function valid(document: OpenApiDocument, raw: unknown, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(document, raw);
  if (schema['const'] !== undefined) return fc.constant(schema['const']);
  if (Array.isArray(schema['enum'])) return fc.constantFrom(...(schema['enum'] as unknown[]));
  for (const key of ['oneOf', 'anyOf'])
    if (Array.isArray(schema[key]))
      return fc.oneof(...(schema[key] as unknown[]).map((s) => valid(document, s, depth + 1)));
  if (Array.isArray(schema['allOf'])) return valid(document, (schema['allOf'] as unknown[])[0]);
  const types = Array.isArray(schema['type']) ? (schema['type'] as string[]) : [schema['type']];
  const type = types.find((t) => t !== 'null') ?? types[0];
  switch (type) {
    case 'integer':
      return fc.integer({
        min: Math.max(Number(schema['minimum'] ?? -1e6), -1e9),
        max: Math.min(Number(schema['maximum'] ?? 1e6), 1e9),
      });
    case 'number':
      return fc.double({ min: 0, max: 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valid(document, schema['items'] ?? {}, depth + 1), {
        minLength: Number(schema['minItems'] ?? 0),
        maxLength: Math.min(Number(schema['maxItems'] ?? 3), 3),
      });
    case 'object': {
      const properties = (schema['properties'] ?? {}) as Record<string, unknown>;
      const required = (schema['required'] ?? []) as string[];
      if (depth > 4) return fc.constant({});
      return fc.record(
        Object.fromEntries(
          Object.entries(properties).map(([k, s]) => [k, valid(document, s, depth + 1)]),
        ),
        { requiredKeys: required.filter((k) => k in properties) },
      );
    }
    case 'string':
    default: {
      const format = schema['format'];
      if (format === 'uuid') return fc.uuid({ version: 4 });
      if (format === 'date-time')
        return fc
          .date({ min: new Date('2025-01-01'), max: new Date(), noInvalidDate: true })
          .map((d) => d.toISOString());
      if (format === 'date')
        return fc
          .date({ min: new Date('2025-01-01'), max: new Date(), noInvalidDate: true })
          .map((d) => d.toISOString().slice(0, 10));
      if (typeof schema['pattern'] === 'string')
        return fc.stringMatching(new RegExp(schema['pattern'] as string)).filter((s) => {
          const min = Number(schema['minLength'] ?? 0);
          const max = Number(schema['maxLength'] ?? Infinity);
          return s.length >= min && s.length <= max;
        });
      return fc.string({
        minLength: Number(schema['minLength'] ?? 0),
        maxLength: Math.min(Number(schema['maxLength'] ?? 40), 40),
      });
    }
  }
}

interface FuzzRequest {
  path: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
  contentType?: string;
}

function parametersOf(document: OpenApiDocument, operation: OpenApiOperation): Json[] {
  const item = (document['paths'] as Json)[operation.path] as Json;
  const op = item[operation.method.toLowerCase()] as Json;
  return [
    ...((item['parameters'] as unknown[]) ?? []),
    ...((op['parameters'] as unknown[]) ?? []),
  ].map((p) => resolve(document, p));
}

function requestArbitrary(
  document: OpenApiDocument,
  operation: OpenApiOperation,
): fc.Arbitrary<FuzzRequest> {
  const item = (document['paths'] as Json)[operation.path] as Json;
  const op = item[operation.method.toLowerCase()] as Json;
  const parameters = parametersOf(document, operation);
  const group = (where: string) =>
    fc.record(
      Object.fromEntries(
        parameters
          .filter((p) => p['in'] === where)
          .map((p) => {
            const name = p['name'] as string;
            const arb =
              where === 'path' && known[name] !== undefined
                ? fc.oneof(fc.constant(known[name]!), valid(document, p['schema'] ?? {}))
                : valid(document, p['schema'] ?? {});
            return [name, arb.map(String)];
          }),
      ),
      {
        requiredKeys: parameters
          .filter((p) => p['in'] === where && (p['required'] === true || where === 'path'))
          .map((p) => p['name'] as string),
      },
    ) as fc.Arbitrary<Record<string, string>>;
  const requestBody = op['requestBody'] ? resolve(document, op['requestBody']) : undefined;
  const content = (requestBody?.['content'] ?? {}) as Record<string, Json>;
  const mediaType = Object.keys(content)[0];
  const body: fc.Arbitrary<string | undefined> =
    mediaType === undefined
      ? fc.constant(undefined)
      : mediaType === 'text/csv'
        ? fc
            .array(
              fc.tuple(
                fc.stringMatching(/^[A-Z0-9-]{1,20}$/),
                fc.integer({ min: -99_999, max: 99_999 }).filter((n) => n !== 0),
              ),
              { maxLength: 4 },
            )
            .map(
              (lines) =>
                'reference,amount_minor,currency,value_date\n' +
                lines.map(([r, a], i) => `${r}${i},${a},EUR,2026-01-15\n`).join(''),
            )
        : valid(document, content[mediaType]?.['schema'] ?? {}).map((v) => JSON.stringify(v));
  return fc.record({
    path: group('path'),
    query: group('query'),
    headers: group('header'),
    body,
    contentType: fc.constant(mediaType),
  }) as fc.Arbitrary<FuzzRequest>;
}

/** Valid RFC 3339 syntax that no JavaScript Date holds (it once reached handlers as NaN: 500). */
const LEAP_SECOND = '2026-06-30T23:59:60Z';

/** One way of breaking a request, applied to a valid one. */
const breakers: readonly ((r: FuzzRequest, text: string) => FuzzRequest)[] = [
  (r) => ({ ...r, query: Object.fromEntries(Object.keys(r.query).map((k) => [k, LEAP_SECOND])) }),
  (r, text) => ({
    ...r,
    path: Object.fromEntries(Object.keys(r.path).map((k) => [k, text === '' ? '-' : text])),
  }),
  (r, text) => ({ ...r, query: { ...r.query, [`x${text.length}`]: text } }),
  (r, text) => ({ ...r, query: Object.fromEntries(Object.keys(r.query).map((k) => [k, text])) }),
  (r) => ({ ...r, headers: {} }),
  (r, text) => ({
    ...r,
    headers: Object.fromEntries(Object.keys(r.headers).map((k) => [k, text])),
  }),
  (r) => ({ ...r, body: r.body === undefined ? '{}' : r.body.slice(0, -1) }),
  (r) => ({ ...r, body: r.body === undefined ? undefined : '' }),
  (r) => ({ ...r, contentType: r.contentType === 'text/csv' ? 'application/json' : 'text/plain' }),
  (r, text) => {
    if (r.body === undefined || !r.body.startsWith('{')) return r;
    const body = JSON.parse(r.body) as Json;
    const keys = Object.keys(body);
    const victim = keys[text.length % Math.max(keys.length, 1)];
    if (victim === undefined) return { ...r, body: JSON.stringify({ unknownMember: text }) };
    const variants: unknown[] = [
      text,
      12345,
      null,
      [text],
      { text },
      'x'.repeat(5000),
      LEAP_SECOND,
    ];
    const changed = { ...body, [victim]: variants[text.length % variants.length] };
    if (text.length % 7 === 0) delete changed[victim];
    return {
      ...r,
      body: JSON.stringify({ ...changed, ...(text.length % 3 === 0 ? { extra: 1 } : {}) }),
    };
  },
];

const invalidArbitrary = (arb: fc.Arbitrary<FuzzRequest>) =>
  fc
    .tuple(arb, fc.nat({ max: breakers.length - 1 }), fc.string({ maxLength: 300 }))
    .map(([r, i, text]) => breakers[i]!(r, text));

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function send(
  base: string,
  operation: OpenApiOperation,
  asked: FuzzRequest,
): Promise<Answer> {
  // fetch sends no body with GET; a body on a bodiless POST is sent (the edge refuses it).
  const r = operation.method === 'GET' ? { ...asked, body: undefined } : asked;
  const path = operation.path.replace(/\{([^}]+)\}/g, (_m, name: string) =>
    encodeURIComponent(r.path[name] ?? ''),
  );
  const query = new URLSearchParams(r.query).toString();
  const response = await fetch(`${base}${path}${query ? `?${query}` : ''}`, {
    method: operation.method,
    headers: {
      ...r.headers,
      authorization: `Bearer ${platform.operatorKey}`,
      ...(r.body !== undefined && r.contentType ? { 'content-type': r.contentType } : {}),
    },
    ...(r.body !== undefined ? { body: r.body } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Why a header value does not fit its schema (the subset header schemas use), if it does not. */
function headerProblem(schema: Json, value: string): string | undefined {
  if (Array.isArray(schema['enum']) && !(schema['enum'] as unknown[]).map(String).includes(value))
    return `is not one of ${JSON.stringify(schema['enum'])}`;
  if (schema['type'] === 'integer') {
    if (!/^-?\d+$/.test(value)) return 'is not an integer';
    const n = Number(value);
    if (schema['minimum'] !== undefined && n < Number(schema['minimum'])) return 'is too small';
    if (schema['maximum'] !== undefined && n > Number(schema['maximum'])) return 'is too large';
  }
  if (typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern']).test(value))
    return `does not match ${schema['pattern']}`;
  if (schema['format'] === 'uri-reference' && /\s/.test(value)) return 'is not a URI reference';
  return undefined;
}

/** What is wrong with an answer under the contract; empty when it conforms. */
function findings(
  document: OpenApiDocument,
  validator: ContractValidator,
  operation: OpenApiOperation,
  answer: Answer,
): string[] {
  const found: string[] = [];
  const op = ((document['paths'] as Json)[operation.path] as Json)[
    operation.method.toLowerCase()
  ] as Json;
  const declared = (op['responses'] ?? {}) as Json;
  if (answer.status >= 500 && answer.status !== 503) found.push(`answered ${answer.status}`);
  const response = declared[String(answer.status)];
  if (response === undefined) return [...found, `status ${answer.status} is not documented`];
  const content = (resolve(document, response)['content'] ?? {}) as Json;
  const mediaTypes = Object.keys(content);
  const contentType = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (mediaTypes.length > 0 && !mediaTypes.includes(contentType))
    found.push(`${answer.status} came as ${contentType}, documented ${mediaTypes.join(', ')}`);
  if (answer.status >= 400 && contentType !== 'application/problem+json')
    found.push(`error ${answer.status} is not problem+json`);
  if (contentType.endsWith('json') && operation.method !== 'HEAD') {
    try {
      validator.validateResponse(operation, {
        status: answer.status,
        body: JSON.parse(answer.text) as unknown,
      });
    } catch (error) {
      found.push((error as Error).message);
    }
  }
  const headers = (resolve(document, response)['headers'] ?? {}) as Json;
  for (const [name, raw] of Object.entries(headers)) {
    const header = resolve(document, raw);
    const value = answer.headers.get(name);
    if (value === null) {
      if (header['required'] === true)
        found.push(`${answer.status} lacks the documented header ${name}`);
      continue;
    }
    const problem = headerProblem(resolve(document, header['schema'] ?? {}), value);
    if (problem !== undefined) found.push(`${answer.status} header ${name}: ${value} ${problem}`);
  }
  return found;
}

const serviceUrl = (service: string): string => {
  const url = (platform.urls as unknown as Record<string, string | undefined>)[service];
  if (url === undefined) throw new Error(`${service} is not running`);
  return url;
};

test('every operation of every contract answers only what it documents, valid input or not', async () => {
  const summary: string[] = [];
  const all: string[] = [];
  let cases = 0;
  let index = 0;
  for (const { service, document, operations } of apiContracts) {
    const validator = new ContractValidator(document);
    for (const operation of operations) {
      index += 1;
      const arb = requestArbitrary(document, operation);
      const requests = [
        ...fc.sample(arb, { seed: SEED + index, numRuns: RUNS }),
        ...fc.sample(invalidArbitrary(arb), { seed: SEED + 1000 + index, numRuns: RUNS }),
      ];
      // Every query parameter a leap second, always once: a seed must not decide whether it runs.
      if (requests[0] !== undefined && Object.keys(requests[0].query).length > 0)
        requests.push(breakers[0]!(requests[0], ''));
      const statuses = new Map<number, number>();
      let operationFindings = 0;
      for (const request of requests) {
        const answer = await send(serviceUrl(service), operation, request);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        for (const finding of findings(document, validator, operation, answer)) {
          operationFindings += 1;
          if (all.length < 50)
            all.push(
              `${service} ${operation.operationId}: ${finding} — ${JSON.stringify(request).slice(0, 300)}`,
            );
        }
      }
      cases += requests.length;
      summary.push(
        `${service} ${operation.operationId}: ${requests.length} cases, statuses ${[...statuses]
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}, findings ${operationFindings}`,
      );
    }
    // Undeclared methods on every declared path.
    for (const [path, allowed] of declaredMethods(document))
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].filter(
        (m) => !allowed.includes(m),
      )) {
        cases += 1;
        const response = await fetch(
          `${serviceUrl(service)}${path.replace(/\{[^}]+\}/g, randomUUID())}`,
          {
            method,
          },
        );
        const text = await response.text();
        if (
          response.status !== 405 ||
          response.headers.get('allow') !== allowed.join(', ') ||
          !(response.headers.get('content-type') ?? '').startsWith('application/problem+json')
        )
          all.push(
            `${service} ${method} ${path}: ${response.status} allow=${response.headers.get('allow')} ${text.slice(0, 120)}`,
          );
      }
  }
  process.stdout.write(
    `contract fuzz: seed ${SEED}, ${RUNS} valid + ${RUNS} invalid per operation, ${cases} cases, ${all.length} findings\n${summary.join('\n')}\n${all.join('\n')}\n`,
  );
  expect(all).toEqual([]);
}, 300_000);
