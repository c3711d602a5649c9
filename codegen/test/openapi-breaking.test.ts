// Breaking changes for a client of the processor API: each case edits a copy of the previous
// document and states which rules (if any) a client built against the previous one would hit.
import {
  OpenApiDocumentError,
  findBreakingChanges,
  type BreakingChange,
} from '../src/compat/openapi.js';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `path` inside `doc`; fails the test when it is not there. */
function at(doc: JsonObject, ...path: (string | number)[]): JsonObject {
  let node: unknown = doc;
  for (const token of path) {
    const next: unknown =
      isObject(node) || Array.isArray(node) ? (node as JsonObject)[token] : undefined;
    if (!isObject(next) && !Array.isArray(next)) throw new Error(`nothing at ${path.join('/')}`);
    node = next;
  }
  return node as JsonObject;
}

const json = (schema: unknown) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function previousDocument(): JsonObject {
  return {
    openapi: '3.1.0',
    info: { title: 'processor', version: '1.0.0' },
    paths: {
      '/v1/payments': {
        post: {
          operationId: 'createPayment',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: true,
              schema: { type: 'string', maxLength: 64 },
            },
          ],
          requestBody: { required: true, content: json(ref('PaymentRequest')) },
          responses: {
            '202': {
              description: 'accepted',
              headers: { Location: { schema: { type: 'string' } } },
              content: json(ref('Payment')),
            },
            '409': {
              description: 'conflict',
              content: { 'application/problem+json': { schema: ref('Problem') } },
            },
          },
        },
        get: {
          operationId: 'listPayments',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'a page',
              content: json({
                type: 'object',
                required: ['items'],
                properties: {
                  items: { type: 'array', items: ref('Payment') },
                  nextCursor: { type: ['string', 'null'] },
                },
              }),
            },
          },
        },
      },
      '/v1/payments/{paymentId}': {
        parameters: [
          {
            name: 'paymentId',
            in: 'path',
            required: true,
            schema: { type: 'string', format: 'uuid' },
          },
        ],
        get: {
          operationId: 'getPayment',
          responses: {
            '200': { description: 'the payment', content: json(ref('Payment')) },
            '404': {
              description: 'unknown',
              content: { 'application/problem+json': { schema: ref('Problem') } },
            },
          },
        },
      },
      '/v1/payments/{paymentId}/refunds': {
        post: {
          operationId: 'refundPayment',
          requestBody: { required: false, content: json(ref('RefundRequest')) },
          responses: { '202': { description: 'accepted', content: json(ref('Payment')) } },
        },
      },
    },
    components: {
      schemas: {
        PaymentRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['payerAccountId', 'payeeAccountId', 'amountMinor', 'currency'],
          properties: {
            payerAccountId: { type: 'string', format: 'uuid' },
            payeeAccountId: { type: 'string', format: 'uuid' },
            amountMinor: {
              type: 'integer',
              format: 'int64',
              minimum: 1,
              maximum: 1_000_000_000_000,
            },
            currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
            memo: { type: 'string', maxLength: 140 },
            paymentId: { type: 'string', format: 'uuid', readOnly: true },
          },
        },
        RefundRequest: {
          type: 'object',
          properties: { amountMinor: { type: 'integer', minimum: 1 }, reason: { type: 'string' } },
        },
        Payment: {
          type: 'object',
          required: ['paymentId', 'status', 'amountMinor', 'currency'],
          properties: {
            paymentId: { type: 'string', format: 'uuid' },
            status: { type: 'string', enum: ['PENDING', 'COMPLETED', 'REJECTED'] },
            amountMinor: { type: 'integer', format: 'int64' },
            currency: { type: 'string' },
            rejectionReason: { type: 'string' },
            refunds: { type: 'array', items: ref('Payment') },
          },
        },
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
          },
        },
      },
    },
  };
}

const schemas = (doc: JsonObject) => at(doc, 'components', 'schemas');
const props = (doc: JsonObject, schema: string) => at(schemas(doc), schema, 'properties');
const CREATE = '/paths/~1v1~1payments/post';
const CREATE_BODY = `${CREATE}/requestBody/content/application~1json/schema`;
const GET_ONE = '/paths/~1v1~1payments~1{paymentId}/get';
const GET_ONE_BODY = `${GET_ONE}/responses/200/content/application~1json/schema`;
const LIST = '/paths/~1v1~1payments/get';

interface Case {
  name: string;
  edit: (next: JsonObject) => void;
  /** Expected rules, in report order; empty for a compatible change. */
  rules: string[];
  /** A pointer and a field that must be among the changes. */
  pointer?: string;
  field?: string;
}

const COMPATIBLE_CASES: Case[] = [
  { name: 'an unchanged document', edit: () => {}, rules: [] },
  {
    name: 'a new endpoint',
    edit: (next) => {
      at(next, 'paths')['/v1/accounts'] = { get: { responses: { '200': { description: 'ok' } } } };
    },
    rules: [],
  },
  {
    name: 'a new operation on an existing path',
    edit: (next) => {
      at(next, 'paths', '/v1/payments/{paymentId}')['delete'] = {
        responses: { '204': { description: 'gone' } },
      };
    },
    rules: [],
  },
  {
    name: 'a new optional request field',
    edit: (next) => {
      props(next, 'PaymentRequest')['reference'] = { type: 'string' };
    },
    rules: [],
  },
  {
    name: 'a new optional query parameter',
    edit: (next) => {
      (at(next, 'paths', '/v1/payments', 'get')['parameters'] as unknown[]).push({
        name: 'status',
        in: 'query',
        schema: { type: 'string' },
      });
    },
    rules: [],
  },
  {
    name: 'a new response field',
    edit: (next) => {
      props(next, 'Payment')['createdAt'] = { type: 'string', format: 'date-time' };
    },
    rules: [],
  },
  {
    name: 'a new currency accepted in requests',
    edit: (next) => {
      props(next, 'PaymentRequest')['currency'] = {
        type: 'string',
        enum: ['EUR', 'USD', 'GBP', 'CHF'],
      };
    },
    rules: [],
  },
  {
    name: 'a longer memo accepted in requests',
    edit: (next) => {
      props(next, 'PaymentRequest')['memo'] = { type: 'string', maxLength: 280 };
    },
    rules: [],
  },
  {
    name: 'an optional response field made required',
    edit: (next) => {
      (at(schemas(next), 'Payment')['required'] as string[]).push('rejectionReason');
    },
    rules: [],
  },
  {
    name: 'a renamed path parameter (same URL for clients)',
    edit: (next) => {
      const paths = at(next, 'paths');
      const item = paths['/v1/payments/{paymentId}'];
      delete paths['/v1/payments/{paymentId}'];
      paths['/v1/payments/{id}'] = item;
      at(item as JsonObject, 'parameters', 0)['name'] = 'id';
    },
    rules: [],
  },
  {
    name: 'a new error status and a removed error status',
    edit: (next) => {
      const responses = at(next, 'paths', '/v1/payments', 'post', 'responses');
      responses['422'] = { description: 'invalid' };
      delete responses['409'];
    },
    rules: [],
  },
  {
    name: 'a 202 response documented as the 2XX range',
    edit: (next) => {
      const responses = at(next, 'paths', '/v1/payments/{paymentId}/refunds', 'post', 'responses');
      const accepted = responses['202'];
      delete responses['202'];
      responses['2XX'] = accepted;
    },
    rules: [],
  },
  {
    name: 'an integer request field widened to number',
    edit: (next) => {
      at(props(next, 'RefundRequest'), 'amountMinor')['type'] = 'number';
    },
    rules: [],
  },
  {
    name: 'a response enum value removed (clients know all the remaining ones)',
    edit: (next) => {
      at(props(next, 'Payment'), 'status')['enum'] = ['PENDING', 'COMPLETED'];
    },
    rules: [],
  },
  {
    name: 'a field removed from an open request object (ignored by the server)',
    edit: (next) => {
      delete props(next, 'RefundRequest')['reason'];
    },
    rules: [],
  },
  {
    name: 'a required readOnly request field (clients never send it)',
    edit: (next) => {
      (at(schemas(next), 'PaymentRequest')['required'] as string[]).push('paymentId');
    },
    rules: [],
  },
];

const BREAKING_CASES: Case[] = [
  {
    name: 'a removed path',
    edit: (next) => {
      delete at(next, 'paths')['/v1/payments/{paymentId}'];
    },
    rules: ['PATH_REMOVED'],
    pointer: '/paths/~1v1~1payments~1{paymentId}',
  },
  {
    name: 'a removed operation',
    edit: (next) => {
      delete at(next, 'paths', '/v1/payments')['get'];
    },
    rules: ['OPERATION_REMOVED'],
    pointer: LIST,
  },
  {
    name: 'a success status replaced by another',
    edit: (next) => {
      const responses = at(next, 'paths', '/v1/payments', 'post', 'responses');
      responses['201'] = responses['202'];
      delete responses['202'];
    },
    rules: ['RESPONSE_STATUS_REMOVED'],
    pointer: `${CREATE}/responses/202`,
  },
  {
    name: 'a response field removed (reported wherever Payment is returned)',
    edit: (next) => {
      delete props(next, 'Payment')['rejectionReason'];
    },
    // createPayment, listPayments items, getPayment, refundPayment.
    rules: Array<string>(4).fill('RESPONSE_FIELD_REMOVED'),
    pointer: `${CREATE}/responses/202/content/application~1json/schema/properties/rejectionReason`,
    field: 'rejectionReason',
  },
  {
    name: 'a required response field made optional',
    edit: (next) => {
      at(schemas(next), 'Payment')['required'] = ['paymentId', 'status', 'amountMinor'];
    },
    rules: Array<string>(4).fill('RESPONSE_FIELD_MADE_OPTIONAL'),
    pointer: `${CREATE}/responses/202/content/application~1json/schema/properties/currency`,
    field: 'currency',
  },
  {
    name: 'a response field made nullable',
    edit: (next) => {
      at(props(next, 'Payment'), 'currency')['type'] = ['string', 'null'];
    },
    rules: Array<string>(4).fill('RESPONSE_FIELD_MADE_NULLABLE'),
    field: 'currency',
  },
  {
    name: 'a response field made nullable the OpenAPI 3.0 way',
    edit: (next) => {
      at(next, 'paths')['/v1/payments/{paymentId}'] = {
        ...at(next, 'paths', '/v1/payments/{paymentId}'),
        get: {
          responses: {
            '200': {
              description: 'the payment',
              content: json({
                ...at(schemas(next), 'Payment'),
                properties: {
                  ...props(next, 'Payment'),
                  currency: { type: 'string', nullable: true },
                },
              }),
            },
          },
        },
      };
    },
    rules: ['RESPONSE_FIELD_MADE_NULLABLE'],
    pointer: `${GET_ONE_BODY}/properties/currency`,
  },
  {
    name: 'a new required request field',
    edit: (next) => {
      props(next, 'PaymentRequest')['reference'] = { type: 'string' };
      (at(schemas(next), 'PaymentRequest')['required'] as string[]).push('reference');
    },
    rules: ['REQUIRED_REQUEST_FIELD_ADDED'],
    pointer: `${CREATE_BODY}/properties/reference`,
    field: 'reference',
  },
  {
    name: 'an optional request field made required',
    edit: (next) => {
      (at(schemas(next), 'PaymentRequest')['required'] as string[]).push('memo');
    },
    rules: ['REQUEST_FIELD_MADE_REQUIRED'],
    pointer: `${CREATE_BODY}/properties/memo`,
    field: 'memo',
  },
  {
    name: 'a new required query parameter',
    edit: (next) => {
      (at(next, 'paths', '/v1/payments', 'get')['parameters'] as unknown[]).push({
        name: 'accountId',
        in: 'query',
        required: true,
        schema: { type: 'string' },
      });
    },
    rules: ['REQUIRED_PARAMETER_ADDED'],
    pointer: `${LIST}/parameters/query/accountId`,
  },
  {
    name: 'an optional query parameter made required',
    edit: (next) => {
      at(next, 'paths', '/v1/payments', 'get', 'parameters', 1)['required'] = true;
    },
    rules: ['PARAMETER_MADE_REQUIRED'],
    field: 'cursor',
  },
  {
    name: 'a new required header',
    edit: (next) => {
      (at(next, 'paths', '/v1/payments', 'post')['parameters'] as unknown[]).push({
        name: 'X-Tenant-Id',
        in: 'header',
        required: true,
        schema: { type: 'string' },
      });
    },
    rules: ['REQUIRED_PARAMETER_ADDED'],
    pointer: `${CREATE}/parameters/header/X-Tenant-Id`,
  },
  {
    name: 'a currency no longer accepted in requests',
    edit: (next) => {
      at(props(next, 'PaymentRequest'), 'currency')['enum'] = ['EUR', 'USD'];
    },
    rules: ['REQUEST_ENUM_VALUE_REMOVED'],
    pointer: `${CREATE_BODY}/properties/currency`,
    field: 'currency',
  },
  {
    name: 'a new status value in responses',
    edit: (next) => {
      at(props(next, 'Payment'), 'status')['enum'] = [
        'PENDING',
        'COMPLETED',
        'REJECTED',
        'REFUNDED',
      ];
    },
    rules: Array<string>(4).fill('RESPONSE_ENUM_VALUE_ADDED'),
    field: 'status',
  },
  {
    name: 'a request amount changed from integer to string',
    edit: (next) => {
      props(next, 'PaymentRequest')['amountMinor'] = { type: 'string' };
    },
    rules: ['REQUEST_TYPE_CHANGED'],
    pointer: `${CREATE_BODY}/properties/amountMinor`,
    field: 'amountMinor',
  },
  {
    name: 'a request format changed',
    edit: (next) => {
      at(props(next, 'PaymentRequest'), 'payerAccountId')['format'] = 'ulid';
    },
    rules: ['REQUEST_FORMAT_CHANGED'],
    field: 'payerAccountId',
  },
  {
    name: 'a shorter maximum memo length',
    edit: (next) => {
      at(props(next, 'PaymentRequest'), 'memo')['maxLength'] = 70;
    },
    rules: ['REQUEST_MAX_LENGTH_DECREASED'],
    field: 'memo',
  },
  {
    name: 'a lower maximum amount',
    edit: (next) => {
      at(props(next, 'PaymentRequest'), 'amountMinor')['maximum'] = 1_000_000;
    },
    rules: ['REQUEST_MAXIMUM_DECREASED'],
    pointer: `${CREATE_BODY}/properties/amountMinor`,
  },
  {
    name: 'a lower maximum page size on a query parameter',
    edit: (next) => {
      at(next, 'paths', '/v1/payments', 'get', 'parameters', 0, 'schema')['maximum'] = 50;
    },
    rules: ['REQUEST_MAXIMUM_DECREASED'],
    pointer: `${LIST}/parameters/query/limit/schema`,
    field: 'limit',
  },
  {
    name: 'a shorter idempotency key header',
    edit: (next) => {
      at(next, 'paths', '/v1/payments', 'post', 'parameters', 0, 'schema')['maxLength'] = 36;
    },
    rules: ['REQUEST_MAX_LENGTH_DECREASED'],
    field: 'Idempotency-Key',
  },
  {
    name: 'a field removed from a closed request object (unknown fields are rejected)',
    edit: (next) => {
      delete props(next, 'PaymentRequest')['memo'];
    },
    rules: ['REQUEST_FIELD_REMOVED'],
    pointer: `${CREATE_BODY}/properties/memo`,
  },
  {
    name: 'an open request object closed',
    edit: (next) => {
      at(schemas(next), 'RefundRequest')['additionalProperties'] = false;
    },
    rules: ['REQUEST_ADDITIONAL_PROPERTIES_DISALLOWED'],
  },
  {
    name: 'an optional request body made required',
    edit: (next) => {
      at(next, 'paths', '/v1/payments/{paymentId}/refunds', 'post', 'requestBody')['required'] =
        true;
    },
    rules: ['REQUEST_BODY_MADE_REQUIRED'],
    pointer: '/paths/~1v1~1payments~1{paymentId}~1refunds/post/requestBody',
  },
  {
    name: 'a request media type removed',
    edit: (next) => {
      at(next, 'paths', '/v1/payments', 'post', 'requestBody')['content'] = {
        'application/merge-patch+json': { schema: ref('PaymentRequest') },
      };
    },
    rules: ['REQUEST_MEDIA_TYPE_REMOVED'],
  },
  {
    name: 'a response media type removed',
    edit: (next) => {
      at(next, 'paths', '/v1/payments/{paymentId}', 'get', 'responses', '200')['content'] = {
        'application/xml': { schema: ref('Payment') },
      };
    },
    rules: ['RESPONSE_MEDIA_TYPE_REMOVED'],
    pointer: `${GET_ONE}/responses/200/content/application~1json`,
  },
  {
    name: 'a response header removed',
    edit: (next) => {
      at(next, 'paths', '/v1/payments', 'post', 'responses', '202')['headers'] = {};
    },
    rules: ['RESPONSE_HEADER_REMOVED'],
    pointer: `${CREATE}/responses/202/headers/Location`,
  },
  {
    name: 'a response amount widened from integer to number',
    edit: (next) => {
      at(props(next, 'Payment'), 'amountMinor')['type'] = 'number';
    },
    rules: Array<string>(4).fill('RESPONSE_TYPE_CHANGED'),
    field: 'amountMinor',
  },
  {
    name: 'fields removed from a response array item',
    edit: (next) => {
      const page = at(next, 'paths', '/v1/payments', 'get', 'responses', '200', 'content');
      page['application/json'] = {
        schema: {
          type: 'object',
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: { paymentId: { type: 'string', format: 'uuid' } },
              },
            },
            nextCursor: { type: ['string', 'null'] },
          },
        },
      };
    },
    rules: [...Array<string>(5).fill('RESPONSE_FIELD_REMOVED'), 'RESPONSE_FIELD_MADE_OPTIONAL'],
    pointer: `${LIST}/responses/200/content/application~1json/schema/properties/items/items/properties/status`,
    field: 'items[].status',
  },
];

describe('OpenAPI breaking changes', () => {
  test.each([...COMPATIBLE_CASES, ...BREAKING_CASES].map((c) => [c.name, c] as const))(
    '%s',
    (_name, c) => {
      const previous = previousDocument();
      const next = structuredClone(previous);
      c.edit(next);
      const changes = findBreakingChanges(previous, next);
      expect(changes.map((change) => change.rule)).toEqual(c.rules);
      if (c.pointer !== undefined) {
        expect(changes).toContainEqual(expect.objectContaining({ pointer: c.pointer }));
      }
      if (c.field !== undefined) {
        expect(changes).toContainEqual(expect.objectContaining({ field: c.field }));
      }
    },
  );

  test('there are at least 20 cases, breaking and compatible', () => {
    expect(COMPATIBLE_CASES.length + BREAKING_CASES.length).toBeGreaterThanOrEqual(20);
    expect(COMPATIBLE_CASES.length).toBeGreaterThanOrEqual(10);
    expect(BREAKING_CASES.length).toBeGreaterThanOrEqual(10);
  });
});

describe('schema structure', () => {
  const diff = (edit: (next: JsonObject) => void): BreakingChange[] => {
    const previous = previousDocument();
    const next = structuredClone(previous);
    edit(next);
    return findBreakingChanges(previous, next);
  };

  test('a recursive schema (Payment.refunds: Payment[]) is compared once per place, without looping', () => {
    const changes = diff((next) => {
      delete props(next, 'Payment')['rejectionReason'];
    });
    expect(changes.map((c) => c.pointer)).toContain(`${GET_ONE_BODY}/properties/rejectionReason`);
    expect(
      changes.every((c) => !c.pointer.includes('/refunds/items/properties/rejectionReason')),
    ).toBe(true);
  });

  test('a field removed from an allOf member is a removed response field', () => {
    const previous = previousDocument();
    schemas(previous)['RefundedPayment'] = {
      allOf: [
        ref('Payment'),
        { type: 'object', properties: { refundedMinor: { type: 'integer' } } },
      ],
    };
    at(previous, 'paths', '/v1/payments/{paymentId}', 'get', 'responses', '200')['content'] = json(
      ref('RefundedPayment'),
    );
    const next = structuredClone(previous);
    delete at(schemas(next), 'RefundedPayment', 'allOf', 1, 'properties')['refundedMinor'];
    const changes = findBreakingChanges(previous, next);
    expect(changes).toEqual([
      {
        pointer: `${GET_ONE_BODY}/properties/refundedMinor`,
        field: 'refundedMinor',
        rule: 'RESPONSE_FIELD_REMOVED',
        message: 'response field "refundedMinor" was removed',
      },
    ]);
  });

  test('oneOf: a variant removed from a request, a variant added to a response', () => {
    const previous = previousDocument();
    schemas(previous)['Card'] = { type: 'object', properties: { pan: { type: 'string' } } };
    schemas(previous)['Iban'] = { type: 'object', properties: { iban: { type: 'string' } } };
    schemas(previous)['Wallet'] = { type: 'object', properties: { walletId: { type: 'string' } } };
    props(previous, 'PaymentRequest')['instrument'] = { oneOf: [ref('Card'), ref('Iban')] };
    props(previous, 'Payment')['instrument'] = { oneOf: [ref('Card'), ref('Iban')] };
    const next = structuredClone(previous);
    props(next, 'PaymentRequest')['instrument'] = { oneOf: [ref('Iban')] };
    props(next, 'Payment')['instrument'] = { oneOf: [ref('Card'), ref('Iban'), ref('Wallet')] };
    const rules = findBreakingChanges(previous, next).map((c) => [c.rule, c.field]);
    expect(rules).toContainEqual(['REQUEST_VARIANT_REMOVED', 'instrument']);
    expect(rules).toContainEqual(['RESPONSE_VARIANT_ADDED', 'instrument']);
  });

  test('a 2XX range narrowed to one success code keeps the response', () => {
    const previous = previousDocument();
    const responses = at(
      previous,
      'paths',
      '/v1/payments/{paymentId}/refunds',
      'post',
      'responses',
    );
    responses['2XX'] = responses['202'];
    delete responses['202'];
    const next = previousDocument();
    expect(findBreakingChanges(previous, next)).toEqual([]);
  });

  test('every change carries the file when one is given', () => {
    const previous = previousDocument();
    const next = structuredClone(previous);
    delete at(next, 'paths')['/v1/payments/{paymentId}'];
    expect(
      findBreakingChanges(previous, next, { file: 'contracts/openapi/processor.yaml' }),
    ).toEqual([
      expect.objectContaining({ file: 'contracts/openapi/processor.yaml', rule: 'PATH_REMOVED' }),
    ]);
  });
});

describe('unusable documents', () => {
  test('a document that is not OpenAPI 3', () => {
    expect(() => findBreakingChanges({ swagger: '2.0' }, previousDocument())).toThrow(
      expect.objectContaining({ document: 'previous', pointer: '/openapi' }),
    );
  });

  test('a $ref that does not resolve names the document', () => {
    const next = previousDocument();
    delete schemas(next)['Problem'];
    delete schemas(next)['PaymentRequest'];
    expect(() => findBreakingChanges(previousDocument(), next)).toThrow(OpenApiDocumentError);
    expect(() => findBreakingChanges(previousDocument(), next)).toThrow(
      /new document: unresolved \$ref/,
    );
  });

  test('a remote $ref is refused', () => {
    const next = previousDocument();
    at(next, 'paths', '/v1/payments', 'post', 'requestBody')['content'] = json({
      $ref: 'https://example.com/schemas.json#/PaymentRequest',
    });
    expect(() => findBreakingChanges(previousDocument(), next)).toThrow(/only local \$refs/);
  });
});
