// The ledger on the real stack: LedgerCommands produced to Kafka with the generated producer,
// outcomes read back from the ledger's topics, rows checked in PostgreSQL.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { transactionIdFor } from '../src/domain/ids.js';
import { ledgerChecksum, verifyProjection } from '../src/store/verify.js';
import {
  compensationCommand,
  creditCommand,
  debitCommand,
  fundCommand,
  openAccountCommand,
  refundCommand,
  startHarness,
  type Harness,
  type Published,
} from './support/ledger-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('ledger-posting');
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

function posted(all: Published[], transactionId: string): Published | undefined {
  return all.find(
    (p) => p.topic === 'ledger.step-posted' && p.value['transactionId'] === transactionId,
  );
}

function balanceIn(event: Published | undefined): unknown {
  const balances = event?.value['balances'] as { balanceMinor: number }[] | undefined;
  return balances?.[0]?.balanceMinor;
}

async function balanceOf(accountId: string): Promise<number> {
  const { rows } = await h.owner.query<{ balance_minor: string }>(
    'SELECT balance_minor::text FROM ledger.balances WHERE account_id = $1',
    [accountId],
  );
  return Number(rows[0]?.balance_minor);
}

async function openAndFund(accountIds: string[], fundsMinor: number): Promise<void> {
  await h.send(accountIds.map((id) => openAccountCommand(id)));
  if (fundsMinor > 0) await h.send(accountIds.map((id) => fundCommand(id, fundsMinor)));
  await h.waitFor(
    (all) =>
      accountIds.every(
        (id) =>
          all.some(
            (p) =>
              p.topic === 'ledger.step-posted' &&
              p.value['accountId'] === id &&
              p.value['step'] === 'ADJUSTMENT',
          ) || fundsMinor === 0,
      ) &&
      accountIds.every((id) =>
        all.some((p) => p.value['accountId'] === id && p.topic === 'ledger.account-opened'),
      ),
    'accounts opened and funded',
  );
}

test('a payment is debited and credited, another is compensated, and a refund moves money back, with the balance after every step', async () => {
  const alice = randomUUID();
  const bob = randomUUID();
  await openAndFund([alice, bob], 0);
  await h.send([fundCommand(alice, 10_000)]);
  const p1 = randomUUID();
  const p2 = randomUUID();
  const debit1 = transactionIdFor(p1, 'DEBIT', 0);
  const debit2 = transactionIdFor(p2, 'DEBIT', 0);
  const credit1 = transactionIdFor(p1, 'CREDIT', 0);
  const refundDebit1 = transactionIdFor(p1, 'REFUND_DEBIT', 1);
  const refundCredit1 = transactionIdFor(p1, 'REFUND_CREDIT', 1);
  const compensation2 = transactionIdFor(p2, 'COMPENSATION', 0);

  await h.send([debitCommand(p1, alice, bob, 3_000), debitCommand(p2, alice, bob, 1_000)]);
  await h.waitFor((all) => posted(all, debit2) !== undefined, 'both debits');
  await h.send([
    creditCommand(p1, bob, 3_000, debit1),
    compensationCommand(p2, alice, 1_000, debit2),
  ]);
  await h.waitFor((all) => posted(all, credit1) !== undefined, 'credit of p1');
  await h.send([refundCommand('REFUND_DEBIT', p1, 1, alice, bob, 500, credit1)]);
  await h.waitFor((all) => posted(all, refundDebit1) !== undefined, 'refund debit');
  await h.send([refundCommand('REFUND_CREDIT', p1, 1, alice, bob, 500, refundDebit1)]);
  const all = await h.waitFor(
    (events) =>
      posted(events, refundCredit1) !== undefined && posted(events, compensation2) !== undefined,
    'refund credit and compensation',
  );

  expect(balanceIn(posted(all, debit1))).toBe(7_000);
  expect(balanceIn(posted(all, debit2))).toBe(6_000);
  expect(balanceIn(posted(all, compensation2))).toBe(7_000);
  expect(balanceIn(posted(all, credit1))).toBe(3_000);
  expect(balanceIn(posted(all, refundDebit1))).toBe(2_500);
  expect(balanceIn(posted(all, refundCredit1))).toBe(7_500);
  expect(posted(all, compensation2)?.value['referencesTransactionId']).toBe(debit2);
  expect(posted(all, debit1)?.value['entries']).toHaveLength(2);
  expect(posted(all, debit1)?.key).toBe(p1);
  expect(await balanceOf(alice)).toBe(7_500);
  expect(await balanceOf(bob)).toBe(2_500);
  expect(await verifyProjection(h.owner)).toEqual([]);
});

test('a debit beyond the balance is rejected with INSUFFICIENT_FUNDS and writes no entries', async () => {
  const carol = randomUUID();
  await openAndFund([carol], 0);
  await h.send([fundCommand(carol, 1_000)]);
  const payment = randomUUID();
  await h.send([debitCommand(payment, carol, randomUUID(), 1_001)]);
  const all = await h.waitFor(
    (events) => events.some((p) => p.topic === 'ledger.posting-rejected' && p.key === payment),
    'the rejection',
  );
  const rejection = all.find((p) => p.topic === 'ledger.posting-rejected' && p.key === payment);
  expect(rejection?.value).toMatchObject({
    paymentId: payment,
    step: 'DEBIT',
    reason: 'INSUFFICIENT_FUNDS',
    accountId: carol,
    transactionId: transactionIdFor(payment, 'DEBIT', 0),
  });
  const entries = await h.owner.query(
    'SELECT 1 FROM ledger.entries e JOIN ledger.transactions t USING (transaction_id) WHERE t.payment_id = $1',
    [payment],
  );
  expect(entries.rowCount).toBe(0);
  expect(await balanceOf(carol)).toBe(1_000);
});

test('entries and transactions refuse UPDATE and DELETE, as ledger_app and as the owner', async () => {
  const app = new pg.Client({
    connectionString: (() => {
      const url = new URL(h.env.databaseUrl);
      url.username = 'ledger_app';
      url.password = 'ledger_app_dev';
      return url.toString();
    })(),
  });
  await app.connect();
  try {
    for (const client of [app, h.owner]) {
      await expect(
        client.query('UPDATE ledger.entries SET amount_minor = amount_minor + 1'),
      ).rejects.toThrow(/permission denied|append-only/);
      await expect(client.query('DELETE FROM ledger.entries')).rejects.toThrow(
        /permission denied|append-only/,
      );
      await expect(client.query('DELETE FROM ledger.transactions')).rejects.toThrow(
        /permission denied|append-only/,
      );
      await expect(client.query('TRUNCATE ledger.entries CASCADE')).rejects.toThrow(
        /permission denied|append-only/,
      );
    }
  } finally {
    await app.end();
  }
  // The owner really is refused by the trigger, not by a missing privilege.
  await expect(
    h.owner.query('UPDATE ledger.entries SET amount_minor = amount_minor'),
  ).rejects.toThrow(/append-only/);
});

test('a redelivered command re-emits the identical outcome and writes nothing', async () => {
  const dave = randomUUID();
  await openAndFund([dave], 0);
  await h.send([fundCommand(dave, 2_000)]);
  const payment = randomUUID();
  const debit = debitCommand(payment, dave, randomUUID(), 800);
  const debitId = transactionIdFor(payment, 'DEBIT', 0);
  await h.send([debit]);
  await h.waitFor((all) => posted(all, debitId) !== undefined, 'the debit');
  const counts = async () =>
    (
      await h.owner.query<{ t: string; e: string; r: string }>(
        `SELECT (SELECT count(*) FROM ledger.transactions)::text AS t,
                (SELECT count(*) FROM ledger.entries)::text AS e,
                (SELECT count(*) FROM ledger.rejections)::text AS r`,
      )
    ).rows[0];
  const before = await counts();

  await h.send([debit]);
  const all = await h.waitFor(
    (events) => events.filter((p) => p.value['transactionId'] === debitId).length === 2,
    'the re-emitted outcome',
  );
  const [first, again] = all.filter((p) => p.value['transactionId'] === debitId);
  expect(again?.value).toEqual(first?.value);
  expect(await counts()).toEqual(before);
  expect(await balanceOf(dave)).toBe(1_200);

  // Same step key, different content: a DUPLICATE_CONFLICT, recorded, nothing posted.
  await h.send([
    {
      ...debit,
      commandId: randomUUID(),
      command: debitCommand(payment, dave, randomUUID(), 900).command,
    },
  ]);
  await h.waitFor(
    (events) =>
      events.some(
        (p) =>
          p.topic === 'ledger.posting-rejected' &&
          p.value['reason'] === 'DUPLICATE_CONFLICT' &&
          p.key === payment,
      ),
    'the conflict',
  );
  const conflicts = await h.owner.query(
    'SELECT 1 FROM ledger.command_conflicts WHERE payment_id = $1',
    [payment],
  );
  expect(conflicts.rowCount).toBe(1);
  expect(await balanceOf(dave)).toBe(1_200);
});

test('an undecodable message goes to the dead-letter topic and later commands are still applied', async () => {
  const erin = randomUUID();
  const topic = h.topicName({ name: 'ledger.commands' } as never);
  await h.producer.send({
    topic,
    acks: -1,
    messages: [
      { key: Buffer.from('not avro'), value: Buffer.from('garbage, not the wire format') },
    ],
  });
  await h.send([openAccountCommand(erin)]);
  const all = await h.waitFor(
    (events) =>
      events.some((p) => p.topic === 'ledgerline.dead-letter') &&
      events.some((p) => p.topic === 'ledger.account-opened' && p.key === erin),
    'the dead letter and the later command',
  );
  const deadLetter = all.find((p) => p.topic === 'ledgerline.dead-letter');
  expect(String(deadLetter?.value['reason'])).toMatch(/wire format/);
  expect(deadLetter?.value['consumer']).toBe(`${h.env.topicPrefix}ledger`);
});

test('a command keyed by another account than it touches is dead-lettered with the reason', async () => {
  const frank = randomUUID();
  const command = openAccountCommand(frank);
  await h.send([{ ...command, accountId: randomUUID() }]);
  const all = await h.waitFor(
    (events) =>
      events.some(
        (p) => p.topic === 'ledgerline.dead-letter' && String(p.value['reason']).includes(frank),
      ),
    'the dead letter',
  );
  expect(all.some((p) => p.topic === 'ledger.account-opened' && p.key === frank)).toBe(false);
});

test('a payment whose payer is its payee is dead-lettered and posts nothing', async () => {
  const heidi = randomUUID();
  const ivan = randomUUID();
  await openAndFund([heidi, ivan], 1_000);
  const selfPayment = randomUUID();
  await h.send([debitCommand(selfPayment, heidi, heidi, 300)]);
  // A good payment behind it in the same partition: the partition keeps moving.
  const goodPayment = randomUUID();
  await h.send([debitCommand(goodPayment, heidi, ivan, 200)]);
  const all = await h.waitFor(
    (events) =>
      events.some(
        (p) =>
          p.topic === 'ledgerline.dead-letter' &&
          String(p.value['reason']).includes(`payer and payee are the same account ${heidi}`),
      ) &&
      events.some((p) => p.topic === 'ledger.step-posted' && p.value['paymentId'] === goodPayment),
    'the dead letter and the good payment behind it',
  );
  expect(
    all.some((p) => p.topic.startsWith('ledger.') && p.value['paymentId'] === selfPayment),
  ).toBe(false);
  const entries = await h.owner.query(
    'SELECT 1 FROM ledger.entries e JOIN ledger.transactions t USING (transaction_id) WHERE t.payment_id = $1',
    [selfPayment],
  );
  expect(entries.rowCount).toBe(0);
  expect(await balanceOf(heidi)).toBe(800);
});

test('verify names an account whose projection drifted from its entries, and the checksum sees it', async () => {
  const grace = randomUUID();
  await openAndFund([grace], 0);
  await h.send([fundCommand(grace, 700)]);
  await h.waitFor(
    (events) =>
      events.some((p) => p.topic === 'ledger.step-posted' && p.value['accountId'] === grace),
    'the funding',
  );
  expect(await verifyProjection(h.owner)).toEqual([]);
  const sound = await ledgerChecksum(h.owner);
  expect(await ledgerChecksum(h.owner)).toEqual(sound);
  await h.owner.query(
    'UPDATE ledger.balances SET balance_minor = balance_minor + 1 WHERE account_id = $1',
    [grace],
  );
  try {
    expect(await verifyProjection(h.owner)).toEqual([
      { accountId: grace, projectedMinor: 701, fromEntriesMinor: 700 },
    ]);
    expect((await ledgerChecksum(h.owner)).sha256).not.toBe(sound.sha256);
  } finally {
    await h.owner.query(
      'UPDATE ledger.balances SET balance_minor = balance_minor - 1 WHERE account_id = $1',
      [grace],
    );
  }
});
