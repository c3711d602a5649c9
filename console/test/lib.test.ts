// The console's pure parts: money formatting and parsing without floats, running balances in
// each account type's sign convention, the saga timeline, Avro field lists and diffs, and the
// metrics parser.
import {
  balanceDelta,
  formatMinor,
  parseMinor,
  runningBalances,
  type AccountType,
} from '../web/lib/money.js';
import { parseMetrics, samplesOf } from '../web/lib/prometheus.js';
import { problemLine } from '../web/lib/problem.js';
import { diffSchemas, schemaFields } from '../web/lib/schema-fields.js';
import {
  paymentTimeline,
  postedTransactionIds,
  type AuditRecord,
  type Payment,
  type Transaction,
} from '../web/lib/timeline.js';

describe('money', () => {
  it.each([
    [0, 'EUR', '0.00 EUR'],
    [5, 'EUR', '0.05 EUR'],
    [1250, 'EUR', '12.50 EUR'],
    [-123456, 'EUR', '-1,234.56 EUR'],
    [9007199254740990, 'EUR', '90,071,992,547,409.90 EUR'],
    [1500, 'JPY', '1,500 JPY'],
    [1234, 'BHD', '1.234 BHD'],
  ])('formats %d %s as %s', (minor, currency, text) => {
    expect(formatMinor(minor, currency)).toBe(text);
  });

  it('refuses to format what is not an integer amount', () => {
    expect(() => formatMinor(12.5, 'EUR')).toThrow(/not an amount/);
  });

  it.each([
    ['12.50', 'EUR', 1250],
    ['12.5', 'EUR', 1250],
    ['1,000', 'EUR', 100000],
    [' 7 ', 'EUR', 700],
    ['1500', 'JPY', 1500],
    ['12.505', 'EUR', undefined],
    ['1.5', 'JPY', undefined],
    ['0', 'EUR', undefined],
    ['-3', 'EUR', undefined],
    ['1e3', 'EUR', undefined],
    ['', 'EUR', undefined],
    ['99999999999999999', 'EUR', undefined],
  ])('reads %j of %s as %s minor units', (text, currency, minor) => {
    expect(parseMinor(text, currency)).toBe(minor);
  });

  const types: AccountType[] = ['ASSET', 'LIABILITY', 'EQUITY', 'REVENUE', 'EXPENSE'];
  it.each(types)('a %s account: a debit and a credit of the same amount cancel out', (type) => {
    const credit = balanceDelta(type, 'CREDIT', 700);
    expect(balanceDelta(type, 'DEBIT', 700)).toBe(-credit);
    expect(credit).toBe(['LIABILITY', 'EQUITY', 'REVENUE'].includes(type) ? 700 : -700);
  });

  it('runs the balance from the opening balance, entry by entry', () => {
    const entries = [
      { direction: 'CREDIT' as const, amountMinor: 100_000 },
      { direction: 'DEBIT' as const, amountMinor: 1_250 },
      { direction: 'CREDIT' as const, amountMinor: 250 },
    ];
    expect(runningBalances('LIABILITY', 0, entries)).toEqual([100_000, 98_750, 99_000]);
    expect(runningBalances('ASSET', 5, entries)).toEqual([-99_995, -98_745, -98_995]);
    expect(runningBalances('LIABILITY', 0, [])).toEqual([]);
  });
});

describe('problems', () => {
  it.each([
    [
      { title: 'Authentication required', detail: 'The credential is unknown.' },
      401,
      '401 Authentication required: The credential is unknown.',
    ],
    [
      {
        title: 'The statement is malformed',
        errors: [{ line: 3, message: 'amount_minor is not an integer' }],
      },
      422,
      '422 The statement is malformed (line 3: amount_minor is not an integer)',
    ],
    [
      {
        title: 'The request is invalid',
        errors: [{ pointer: '/amountMinor', message: 'must be >= 1' }],
      },
      400,
      '400 The request is invalid (/amountMinor: must be >= 1)',
    ],
    [undefined, 502, 'HTTP 502'],
    [{}, 500, 'HTTP 500'],
  ])('reads %j (%d) as one line', (problem, status, line) => {
    expect(problemLine(problem, status)).toBe(line);
  });
});

describe('metrics', () => {
  it('reads samples with labels, skipping comments and bad lines', () => {
    const samples = parseMetrics(
      [
        '# HELP ledgerline_consumer_lag_messages Messages behind',
        '# TYPE ledgerline_consumer_lag_messages gauge',
        'ledgerline_consumer_lag_messages{group="ledger",topic="ledger.commands",partition="0"} 3',
        'ledgerline_consumer_lag_messages{group="ledger",topic="ledger.commands",partition="1"} 4',
        'ledgerline_outbox_backlog{service="processor"} 0',
        'odd_metric{reason="say \\"hi\\""} 1.5',
        'not a sample',
        'nan_metric NaN',
      ].join('\n'),
    );
    const lag = samplesOf(samples, 'ledgerline_consumer_lag_messages');
    expect(lag.map((s) => s.value)).toEqual([3, 4]);
    expect(lag[1]?.labels).toEqual({ group: 'ledger', topic: 'ledger.commands', partition: '1' });
    expect(samplesOf(samples, 'odd_metric')[0]?.labels['reason']).toBe('say "hi"');
    expect(samplesOf(samples, 'nan_metric')).toEqual([]);
  });
});

const entryRecord = {
  type: 'record',
  name: 'ledgerline.ledger.v1.Entry',
  fields: [
    { name: 'accountId', type: { type: 'string', logicalType: 'uuid' }, doc: 'The account.' },
    { name: 'amountMinor', type: 'long' },
  ],
};
const v1 = {
  type: 'record',
  name: 'ledgerline.ledger.v1.Posted',
  fields: [
    { name: 'eventId', type: { type: 'string', logicalType: 'uuid' }, doc: 'Unique id.' },
    { name: 'entries', type: { type: 'array', items: entryRecord } },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'legacy', type: 'int' },
  ],
};

describe('Avro fields', () => {
  it('lists every field with its type, doc and default, nested records included', () => {
    expect(schemaFields(v1)).toEqual([
      { path: 'eventId', type: 'string (uuid)', doc: 'Unique id.', defaultValue: null },
      { path: 'entries', type: 'array<Entry>', doc: '', defaultValue: null },
      {
        path: 'entries[].accountId',
        type: 'string (uuid)',
        doc: 'The account.',
        defaultValue: null,
      },
      { path: 'entries[].amountMinor', type: 'long', doc: '', defaultValue: null },
      { path: 'note', type: 'null | string', doc: '', defaultValue: 'null' },
      { path: 'legacy', type: 'int', doc: '', defaultValue: null },
    ]);
  });

  it('names union branches of records by their record', () => {
    const command = {
      type: 'record',
      name: 'Command',
      fields: [
        {
          name: 'command',
          type: [
            { type: 'record', name: 'a.Open', fields: [{ name: 'id', type: 'string' }] },
            { type: 'record', name: 'a.Close', fields: [{ name: 'id', type: 'string' }] },
          ],
        },
      ],
    };
    expect(schemaFields(command).map((f) => f.path)).toEqual([
      'command',
      'command<Open>.id',
      'command<Close>.id',
    ]);
  });

  it('diffs two versions field by field', () => {
    const v2 = {
      ...v1,
      fields: [
        { name: 'eventId', type: { type: 'string', logicalType: 'uuid' }, doc: 'Unique id, v2.' },
        { name: 'entries', type: { type: 'array', items: entryRecord } },
        { name: 'note', type: ['null', 'string'], default: 'none' },
        { name: 'currency', type: 'string', default: 'EUR' },
      ],
    };
    expect(diffSchemas(v1, v2)).toEqual([
      { path: 'eventId', change: 'doc', before: 'Unique id.', after: 'Unique id, v2.' },
      { path: 'note', change: 'default', before: 'null', after: '"none"' },
      { path: 'currency', change: 'added', before: null, after: 'string' },
      { path: 'legacy', change: 'removed', before: 'int', after: null },
    ]);
    expect(diffSchemas(v1, v1)).toEqual([]);
  });
});

const payer = '8a1e4c2b-7d3f-4b5a-9c6e-2f1a3b4c5d6e';
const payee = '5c7d9e1f-2a3b-4c5d-8e6f-7a8b9c0d1e2f';
const clearing = 'c1a2b3c4-d5e6-5f70-8a91-b2c3d4e5f607';
const debitTx = '9d4e2f1a-6b5c-5d7e-8f9a-0b1c2d3e4f5a';
const paymentId = '3f2b8c1e-5a4d-4e6f-9b7a-1c2d3e4f5a6b';

const payment: Payment = {
  id: paymentId,
  status: 'COMPENSATED',
  payerAccountId: payer,
  payeeAccountId: payee,
  amountMinor: 12500,
  currency: 'EUR',
  description: 'Invoice 42',
  metadata: {},
  refundedMinor: 0,
  refundableMinor: 0,
  steps: [
    {
      step: 'DEBIT',
      sequence: 0,
      refundId: null,
      status: 'POSTED',
      transactionId: debitTx,
      reason: null,
      at: '2026-01-15T10:00:00.100Z',
    },
    {
      step: 'CREDIT',
      sequence: 0,
      refundId: null,
      status: 'REJECTED',
      transactionId: null,
      reason: 'ACCOUNT_FROZEN',
      at: '2026-01-15T10:00:00.200Z',
    },
  ],
  rejectionReason: 'ACCOUNT_FROZEN',
  createdAt: '2026-01-15T10:00:00.000Z',
  updatedAt: '2026-01-15T10:00:00.300Z',
};

function record(
  sequence: number,
  topic: string,
  eventType: string,
  payload: Record<string, unknown>,
  transactionId: string | null = null,
): AuditRecord {
  return {
    sequence,
    id: `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
    topic,
    partition: 1,
    offset: String(100 + sequence),
    eventType,
    eventId: `10000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
    correlationId: paymentId,
    paymentId,
    accountId: payer,
    transactionId,
    producer:
      topic.startsWith('ledger.step') || topic.startsWith('ledger.posting')
        ? 'ledger'
        : 'processor',
    payload: payload as AuditRecord['payload'],
    recordedAt: `2026-01-15T10:00:0${sequence}.000Z`,
    previousHash: '0'.repeat(64),
    hash: '1'.repeat(64),
  };
}

const trail: AuditRecord[] = [
  record(3, 'ledger.posting-rejected', 'ledgerline.ledger.v1.PostingRejected', {
    step: 'CREDIT',
    reason: 'ACCOUNT_FROZEN',
    detail: 'account is FROZEN',
    occurredAt: '2026-01-15T10:00:00.200Z',
  }),
  record(1, 'ledger.commands', 'ledgerline.payments.v1.PaymentRequested', {
    commandId: 'c-1',
    occurredAt: '2026-01-15T10:00:00.000Z',
    command: { 'ledgerline.payments.v1.PaymentRequested': { paymentId } },
  }),
  record(
    2,
    'ledger.step-posted',
    'ledgerline.ledger.v1.PaymentStepPosted',
    { step: 'DEBIT', transactionId: debitTx, postedAt: '2026-01-15T10:00:00.100Z' },
    debitTx,
  ),
  record(4, 'ledger.commands', 'ledgerline.payments.v1.RefundRequested', {
    commandId: 'c-2',
    command: { 'ledgerline.payments.v1.RefundRequested': { step: 'REFUND_DEBIT' } },
  }),
  record(5, 'payments.status-changed', 'ledgerline.payments.v1.PaymentStatusChanged', {
    from: 'COMPENSATING',
    to: 'COMPENSATED',
    reason: 'COMPENSATION_POSTED',
  }),
  record(
    6,
    'reconciliation.discrepancy-detected',
    'ledgerline.reconciliation.v1.DiscrepancyDetected',
    { kind: 'CLEARING_NOT_ZERO', detail: 'clearing is 5' },
  ),
  record(7, 'audit.checkpoints', 'ledgerline.audit.v1.ChainCheckpoint', {}),
];

const debitTransaction: Transaction = {
  id: debitTx,
  step: 'DEBIT',
  sequence: 0,
  paymentId,
  refundId: null,
  adjustmentId: null,
  amountMinor: 12500,
  currency: 'EUR',
  entries: [
    { entryId: 'e1', accountId: payer, direction: 'DEBIT', amountMinor: 12500, currency: 'EUR' },
    {
      entryId: 'e2',
      accountId: clearing,
      direction: 'CREDIT',
      amountMinor: 12500,
      currency: 'EUR',
    },
  ],
  referencesTransactionId: null,
  referencedBy: [],
  postedAt: '2026-01-15T10:00:00.100Z',
} as unknown as Transaction;

describe('payment timeline', () => {
  it('orders the request and the trail by time (chain order only breaks ties), with the ledger’s entries on postings', () => {
    const timeline = paymentTimeline(payment, trail, new Map([[debitTx, debitTransaction]]));
    expect(timeline.map((e) => [e.kind, e.title, e.service])).toEqual([
      ['request', 'Payment requested', 'processor'],
      ['command', 'Debit requested', 'processor'],
      ['posted', 'DEBIT posted', 'ledger'],
      ['rejected', 'CREDIT rejected: ACCOUNT_FROZEN', 'ledger'],
      ['command', 'REFUND_DEBIT requested', 'processor'],
      ['status', 'Status COMPENSATING → COMPENSATED', 'processor'],
      ['discrepancy', 'Discrepancy: CLEARING_NOT_ZERO', 'processor'],
      ['other', 'ChainCheckpoint', 'processor'],
    ]);
    const posted = timeline[2];
    expect(posted?.entries).toEqual(debitTransaction.entries);
    expect(posted?.coordinates).toEqual({
      topic: 'ledger.step-posted',
      partition: 1,
      offset: '102',
    });
    expect(posted?.at).toBe('2026-01-15T10:00:00.100Z');
    expect(timeline[3]?.detail).toBe('account is FROZEN');
    expect(timeline[1]?.auditSequence).toBe(1);
  });

  it('shows events in the order they happened, not the order the audit read their topics', () => {
    const late = record(
      8,
      'payments.status-changed',
      'ledgerline.payments.v1.PaymentStatusChanged',
      {
        from: null,
        to: 'PENDING',
        occurredAt: '2026-01-15T10:00:00.000Z',
      },
    );
    const timeline = paymentTimeline(payment, [...trail, late], new Map());
    expect(timeline.slice(0, 3).map((e) => e.title)).toEqual([
      'Payment requested',
      'Debit requested',
      'Status (new) → PENDING',
    ]);
    expect(timeline[2]?.auditSequence).toBe(8);
  });

  it('leaves a posting without entries when the ledger was not asked', () => {
    const timeline = paymentTimeline(payment, trail, new Map());
    expect(timeline.find((e) => e.kind === 'posted')?.entries).toBeNull();
  });

  it('falls back to the processor’s steps without the trail', () => {
    const timeline = paymentTimeline(payment, undefined, new Map([[debitTx, debitTransaction]]));
    expect(timeline.map((e) => [e.kind, e.title, e.coordinates])).toEqual([
      ['request', 'Payment requested', null],
      ['posted', 'DEBIT posted', null],
      ['rejected', 'CREDIT rejected: ACCOUNT_FROZEN', null],
    ]);
    expect(timeline[1]?.entries).toEqual(debitTransaction.entries);
  });

  it('asks the ledger for every posted transaction once', () => {
    expect(postedTransactionIds(payment, trail)).toEqual([debitTx]);
    expect(postedTransactionIds(payment, undefined)).toEqual([debitTx]);
  });
});
