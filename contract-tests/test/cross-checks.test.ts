// Beyond Pact: a pact can only ask for what the contracts it travels under can say. Every
// message interaction must fit its topic's Avro schema (the example Pact builds from the
// matchers, completed with neutral fillers for fields the consumer does not state, must
// encode), every HTTP interaction the provider's OpenAPI document (request and response).
import { describe, expect, it } from '@jest/globals';
import { processorApiDocument } from '@ledgerline/generated/openapi/processor.document';
import { loadPacts, type PactHttpInteraction, type PactMessage } from '../src/files.js';
import { checkHttpAgainstOpenApi, checkMessageAgainstAvro } from '../src/openapi-check.js';

const pacts = loadPacts();

describe('every pact fits the contracts it travels under', () => {
  it('every message interaction fits its topic’s Avro schema', () => {
    const problems = pacts.flatMap(({ pact }) =>
      (pact.messages ?? []).flatMap((message) =>
        checkMessageAgainstAvro(message).map(
          (p) => `${pact.consumer.name} <- ${pact.provider.name} "${message.description}": ${p}`,
        ),
      ),
    );
    expect(problems).toEqual([]);
    expect(pacts.flatMap((p) => p.pact.messages ?? []).length).toBeGreaterThan(0);
  });

  it('every HTTP interaction fits the provider’s OpenAPI document', () => {
    const problems = pacts.flatMap(({ pact }) =>
      (pact.interactions ?? []).flatMap((http) =>
        checkHttpAgainstOpenApi(pact.provider.name, http).map(
          (p) => `${pact.consumer.name} <- ${pact.provider.name} "${http.description}": ${p}`,
        ),
      ),
    );
    expect(problems).toEqual([]);
    // The console's pacts with the four services (the only HTTP consumer today).
    expect(pacts.flatMap((p) => p.pact.interactions ?? []).length).toBeGreaterThan(20);
  });
});

describe('the cross-checks catch what the contracts cannot carry', () => {
  const stepPosted = (contents: Record<string, unknown>): PactMessage => ({
    description: 'a step posted',
    contents,
    metadata: { topic: 'ledger.step-posted', key: '0a6f4c8e-5b1d-4e2a-9c3f-7d8e9f0a1b2c' },
  });

  it('accepts a partial event whose stated fields fit the schema', () => {
    expect(
      checkMessageAgainstAvro(
        stepPosted({ sequence: 0, postedAt: '2026-03-01T09:31:00.000Z', step: 'DEBIT' }),
      ),
    ).toEqual([]);
  });

  it('names a field the schema does not have, a wrong type and an unknown symbol', () => {
    expect(checkMessageAgainstAvro(stepPosted({ postingId: 'x' }))).toEqual([
      '$.postingId: ledgerline.ledger.v1.PaymentStepPosted has no field "postingId"',
    ]);
    expect(checkMessageAgainstAvro(stepPosted({ sequence: '0' })).join()).toContain('$.sequence');
    expect(checkMessageAgainstAvro(stepPosted({ step: 'TRANSFER' })).join()).toContain('$.step');
    expect(checkMessageAgainstAvro(stepPosted({ postedAt: 'yesterday' })).join()).toContain(
      '$.postedAt',
    );
  });

  const examples = (processorApiDocument['components'] as Record<string, Record<string, unknown>>)[
    'examples'
  ] as Record<string, { value: unknown }>;
  const createPayment = (body: unknown): PactHttpInteraction => ({
    description: 'a payment request',
    request: {
      method: 'POST',
      path: '/v1/payments',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'order-2026-0042' },
      body,
    },
    response: { status: 202, body: examples['PaymentPending']!.value },
  });
  const validBody = {
    payerAccountId: '8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e',
    payeeAccountId: '5c7d9e1f-2a3b-4c5d-8e6f-7a8b9c0d1e2f',
    amountMinor: 12_500,
    currency: 'EUR',
  };

  it('accepts an HTTP interaction that matches the OpenAPI document', () => {
    expect(checkHttpAgainstOpenApi('processor', createPayment(validBody))).toEqual([]);
  });

  it('names the request field and the unknown operation an HTTP interaction gets wrong', () => {
    const wrongType = checkHttpAgainstOpenApi(
      'processor',
      createPayment({ ...validBody, amountMinor: '12500' }),
    );
    expect(wrongType.join()).toContain('/amountMinor');
    const unknownField = checkHttpAgainstOpenApi(
      'processor',
      createPayment({ ...validBody, priority: 'high' }),
    );
    expect(unknownField.join()).toContain('unknown field "priority"');
    const noSuchPath = checkHttpAgainstOpenApi('processor', {
      ...createPayment(validBody),
      request: { method: 'DELETE', path: '/v1/payments' },
    });
    expect(noSuchPath).toEqual(['DELETE /v1/payments is not an operation of processor']);
  });

  const getPayment = (status: number, body?: unknown): PactHttpInteraction => ({
    description: 'a payment',
    request: { method: 'GET', path: '/v1/payments/3f2b8c1e-5a4d-4e6f-9b7a-1c2d3e4f5a6b' },
    response: { status, ...(body === undefined ? {} : { body }) },
  });

  it('accepts a response that states only the fields its consumer reads', () => {
    expect(
      checkHttpAgainstOpenApi(
        'processor',
        getPayment(200, { status: 'COMPLETED', steps: [{ step: 'DEBIT', status: 'POSTED' }] }),
      ),
    ).toEqual([]);
    // A bodyless pact relies on the status alone.
    expect(checkHttpAgainstOpenApi('processor', getPayment(404))).toEqual([]);
  });

  it('names a response field the contract does not have, a wrong type, a foreign status', () => {
    expect(
      checkHttpAgainstOpenApi('processor', getPayment(200, { state: 'COMPLETED' })).join(),
    ).toContain('state');
    expect(
      checkHttpAgainstOpenApi('processor', getPayment(200, { amountMinor: '12500' })).join(),
    ).toContain('/amountMinor');
    expect(
      checkHttpAgainstOpenApi('processor', getPayment(200, { status: 'SETTLED' })).join(),
    ).toContain('/status');
    expect(checkHttpAgainstOpenApi('processor', getPayment(418))).toEqual([
      'response: status 418 is not in the contract',
    ]);
  });
});
