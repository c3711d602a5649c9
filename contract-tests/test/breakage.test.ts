// Proof that the net catches breakage: a provider changes a field a consumer relies on
// (rename, remove, change type) in its writer schema or in the event it builds, or in what its
// API answers, and the verification fails naming the consumer, the interaction and the field;
// a change no consumer relies on, and that Avro can carry, passes. Nothing here touches
// contracts/ or services/: the changes are applied to copies of the writer schema, to the
// built event, and to the running service's answers on their way to the verifier.
import { describe, expect, it } from '@jest/globals';
import { eventFacts } from '@ledgerline/audit/domain/keys';
import { ledgerCommandsTopic, ledgerStepPostedTopic } from '@ledgerline/generated/topics';
import { strictView, UnstatedFieldError } from '../src/avro-json.js';
import { ledgerProvider } from '../src/providers/ledger.js';
import { processorProvider } from '../src/providers/processor.js';
import {
  addField,
  editRecord,
  removeField,
  renameField,
  renameKey,
  retypeField,
} from '../src/schema-edit.js';
import { VERIFY_TIMEOUT_MS } from '../src/http-verify.js';
import { failures, verifyProvider } from '../src/verify.js';

const DEBIT_POSTED = `interaction "a payment's DEBIT step posted" (ledger.step-posted)`;

/** The processor's pact with the ledger, verified against a changed ledger. */
async function processorSeesLedger(change: {
  writerSchema?: Parameters<typeof editRecord>[0];
  mutate?: (value: Record<string, unknown>) => unknown;
}): Promise<string[]> {
  const verification = await verifyProvider(ledgerProvider, {
    consumers: ['processor'],
    writerSchema: (topic) => (topic === 'ledger.step-posted' ? change.writerSchema : undefined),
    mutate: (topic, value) =>
      topic === 'ledger.step-posted' && change.mutate
        ? change.mutate(value as Record<string, unknown>)
        : value,
  });
  return failures(verification);
}

const stepPosted = ledgerStepPostedTopic.valueSchema;

describe('a provider change that breaks what a consumer relies on fails verification', () => {
  it('renaming transactionId in PaymentStepPosted fails the processor, naming the field', async () => {
    const failed = await processorSeesLedger({
      writerSchema: editRecord(
        stepPosted,
        'PaymentStepPosted',
        renameField('transactionId', 'postingId'),
      ),
      mutate: (value) => renameKey(value, 'transactionId', 'postingId'),
    });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain("consumer processor's pact with ledger");
    expect(failed[0]).toContain(DEBIT_POSTED);
    expect(failed[0]).toContain(
      '$.transactionId: the writer has no field "transactionId" and the reader no default',
    );
  });

  it('no longer setting paymentId (null is valid Avro) fails the processor on $.paymentId', async () => {
    const failed = await processorSeesLedger({
      mutate: (value) => ({ ...value, paymentId: null }),
    });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain("consumer processor's pact with ledger");
    expect(failed[0]).toContain(DEBIT_POSTED);
    // Pact prints the null it got as ''.
    expect(failed[0]).toMatch(/\$\.paymentId -> Expected '' to match/);
  });

  it('changing sequence from long to string fails the processor, naming the field', async () => {
    const failed = await processorSeesLedger({
      writerSchema: editRecord(stepPosted, 'PaymentStepPosted', retypeField('sequence', 'string')),
      mutate: (value) => ({ ...value, sequence: String(value['sequence']) }),
    });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain(DEBIT_POSTED);
    expect(failed[0]).toContain('$.sequence');
  });

  it('building an event the writer schema refuses names the field', async () => {
    const failed = await processorSeesLedger({
      mutate: (value) => ({ ...value, postedAt: 'yesterday' }),
    });
    expect(failed[0]).toContain(DEBIT_POSTED);
    expect(failed[0]).toContain('$.postedAt');
  });

  it('retyping a field inside a command branch fails the ledger, naming the nested field', async () => {
    const verification = await verifyProvider(processorProvider, {
      consumers: ['ledger'],
      writerSchema: (topic) =>
        topic === 'ledger.commands'
          ? editRecord(
              ledgerCommandsTopic.valueSchema,
              'CreditStepRequested',
              retypeField('debitTransactionId', 'long'),
            )
          : undefined,
      mutate: (topic, value) => {
        const v = value as { command: Record<string, Record<string, unknown>> };
        const credit = v.command['ledgerline.payments.v1.CreditStepRequested'];
        if (topic !== 'ledger.commands' || credit === undefined) return value;
        return {
          ...v,
          command: {
            'ledgerline.payments.v1.CreditStepRequested': { ...credit, debitTransactionId: 7 },
          },
        };
      },
    });
    // Avro resolves whole schemas: a reader that cannot resolve the new writer schema cannot
    // read any command written with it, so every interaction on the topic fails, each naming
    // the field.
    const failed = failures(verification);
    expect(failed).toHaveLength(5);
    expect(failed.join('\n')).toContain(
      `consumer ledger's pact with processor: interaction "a CREDIT step command (CreditStepRequested)" (ledger.commands) fails`,
    );
    for (const failure of failed) {
      expect(failure).toContain(
        `$.command['ledgerline.payments.v1.CreditStepRequested'].debitTransactionId: cannot read "long" as "string"`,
      );
    }
  });
});

describe('a provider change no consumer relies on passes', () => {
  it('dropping the optional refundId (readers default it to null) passes', async () => {
    expect(
      await processorSeesLedger({
        writerSchema: editRecord(stepPosted, 'PaymentStepPosted', removeField('refundId')),
        mutate: ({ refundId: _dropped, ...rest }) => rest,
      }),
    ).toEqual([]);
  });

  it('adding an optional field passes', async () => {
    expect(
      await processorSeesLedger({
        writerSchema: editRecord(
          stepPosted,
          'PaymentStepPosted',
          addField({ name: 'settlementDate', type: ['null', 'string'], default: null }),
        ),
        mutate: (value) => ({ ...value, settlementDate: '2026-03-02' }),
      }),
    ).toEqual([]);
  });

  it('different balances and amounts (values the processor does not read) pass', async () => {
    expect(
      await processorSeesLedger({
        mutate: (value) => ({
          ...value,
          amountMinor: 1,
          balances: [],
          currency: 'JPY',
        }),
      }),
    ).toEqual([]);
  });
});

/** The console's pact with the processor, verified against a processor whose answers changed. */
async function consoleSeesProcessor(
  change: (request: string, body: Record<string, unknown>) => unknown,
): Promise<string[]> {
  const verification = await verifyProvider(processorProvider, {
    consumers: ['console'],
    changeResponse: (request, body) =>
      /^GET \/v1\/payments\/[0-9a-f-]{36}$/.test(request)
        ? change(request, body as Record<string, unknown>)
        : body,
  });
  return failures(verification);
}

describe('an API change breaks the console’s HTTP pact, or not', () => {
  it(
    'renaming Payment.status in the processor’s answer fails the console, naming it',
    async () => {
      const failed = await consoleSeesProcessor((_, body) => renameKey(body, 'status', 'state'));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toContain("consumer console's pact with processor");
      expect(failed[0]).toContain('interaction "a completed payment" (HTTP GET /v1/payments/');
      expect(failed[0]).toContain('$ -> Actual map is missing the following keys: status');
    },
    VERIFY_TIMEOUT_MS,
  );

  it(
    'an amount as a string fails the console, naming the field',
    async () => {
      const failed = await consoleSeesProcessor((_, body) => ({
        ...body,
        amountMinor: String(body['amountMinor']),
      }));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toContain('$.amountMinor');
    },
    VERIFY_TIMEOUT_MS,
  );

  it(
    'dropping metadata and adding a field (neither read by the console) passes',
    async () => {
      expect(
        await consoleSeesProcessor((_, { metadata: _dropped, ...rest }) => ({
          ...rest,
          settlementDate: '2026-03-02',
        })),
      ).toEqual([]);
    },
    VERIFY_TIMEOUT_MS,
  );
});

describe('a pact must state every field its consumer reads', () => {
  it("audit's handler reading a field the pact leaves out fails the consumer test", () => {
    // Audit indexes step-posted events by transactionId: a pact without it is incomplete.
    const partial = strictView({
      eventId: '4f77b7e7-66cb-503b-9d8e-ab44d4a99c00',
      correlationId: '0a6f4c8e-5b1d-4e2a-9c3f-7d8e9f0a1b2c',
      paymentId: '0a6f4c8e-5b1d-4e2a-9c3f-7d8e9f0a1b2c',
      accountId: '11111111-2222-4333-8444-555555555555',
    });
    expect(() => eventFacts('ledger.step-posted', partial)).toThrow(UnstatedFieldError);
    expect(() => eventFacts('ledger.step-posted', partial)).toThrow('$.transactionId');
  });
});
