// `npm run demo`: traffic against a running `npm start`. Opens fresh accounts through the
// ledger's API, drives a few hundred payments through the processor's API (successes,
// rejections for insufficient funds, compensations to a frozen payee), refunds some of the
// completed ones (full and partial), waits for every payment and refund to settle, and prints
// the balances and a table of states. Exits 1 when anything did not settle within the bound or
// money did not add up.
import { randomUUID } from 'node:crypto';
import { createLedgerClient } from '@ledgerline/generated/openapi/ledger.client';
import { createProcessorClient } from '@ledgerline/generated/openapi/processor.client';
import { readDevelopmentKey } from '@ledgerline/platform/auth/development-key';
import {
  balanceMinor,
  clearingAccountId,
  createPayment,
  createRefund,
  freezeAccount,
  fundAccount,
  getPayment,
  openCustomerAccount,
  sleep,
  type Payment,
  type PaymentRequest,
} from '@ledgerline/testkit/platform';

const env = process.env;
const processorUrl = env['PROCESSOR_URL'] ?? `http://127.0.0.1:${env['PROCESSOR_PORT'] ?? 8081}`;
const ledgerUrl = env['LEDGER_URL'] ?? `http://127.0.0.1:${env['LEDGER_PORT'] ?? 8082}`;
const paymentCount = Number(env['DEMO_PAYMENTS'] ?? 300);
const refundCount = Number(env['DEMO_REFUNDS'] ?? 40);
/** Bound on waiting for every payment (and then every refund) to reach a terminal state. */
const SETTLE_MS_MAX = Number(env['DEMO_SETTLE_MS_MAX'] ?? 60_000);
/** Requests in flight at once. */
const CONCURRENCY_MAX = 16;
const CURRENCY = 'EUR';
const PAYER_COUNT = 8;
const PAYEE_COUNT = 8;
const PAYER_FUNDING_MINOR = 200_000;
const BROKE_FUNDING_MINOR = 100;

if (process.argv.length > 2) {
  console.error(
    `demo takes no arguments, got ${process.argv.slice(2).join(' ')}; the environment sets it up: ` +
      'DEMO_PAYMENTS, DEMO_REFUNDS, DEMO_SETTLE_MS_MAX, PROCESSOR_URL, LEDGER_URL, LEDGERLINE_API_KEY',
  );
  process.exit(2);
}
if (!Number.isSafeInteger(paymentCount) || paymentCount < 10 || paymentCount > 10_000) {
  throw new Error(`DEMO_PAYMENTS must be an integer in 10..10000`);
}

// LEDGERLINE_API_KEY, or the development key `npm start` printed (needs payments, refunds and
// ledger scopes: opening and funding accounts, freezing one).
const apiKey = await readDevelopmentKey(env);
if (apiKey === undefined) {
  throw new Error('set LEDGERLINE_API_KEY (or run `npm start`, which creates a development key)');
}
const ledgerApi = createLedgerClient(ledgerUrl, { credential: apiKey });
const processorApi = createProcessorClient(processorUrl, { credential: apiKey });

type Kind = 'normal' | 'insufficient' | 'frozen-payee';
interface Sent {
  kind: Kind;
  paymentId: string;
}

/** Runs `work` over `items` with at most CONCURRENCY_MAX in flight. */
async function inParallel<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY_MAX, items.length) }, worker));
  return results;
}

/** Polls every payment until `settled` holds for all of them, or the bound passes. */
async function settle(
  paymentIds: readonly string[],
  settled: (payment: Payment) => boolean,
): Promise<{ payments: Map<string, Payment>; unsettled: string[] }> {
  const payments = new Map<string, Payment>();
  let open = [...paymentIds];
  const deadline = Date.now() + SETTLE_MS_MAX;
  while (open.length > 0 && Date.now() < deadline) {
    const seen = await inParallel(open, (id) => getPayment(processorApi, id));
    for (const payment of seen) payments.set(payment.id, payment);
    open = seen.filter((payment) => !settled(payment)).map((payment) => payment.id);
    if (open.length > 0) await sleep(250);
  }
  return { payments, unsettled: open };
}

const refundInFlight = (payment: Payment): boolean =>
  payment.steps.some((s) => s.refundId !== null && s.status === 'REQUESTED');
const paymentSettled = (payment: Payment): boolean =>
  ['COMPLETED', 'REJECTED', 'COMPENSATED'].includes(payment.status);
const refundSettled = (payment: Payment): boolean =>
  ['REFUNDED', 'PARTIALLY_REFUNDED', 'COMPLETED'].includes(payment.status) &&
  !refundInFlight(payment);

function formatMinor(amountMinor: number): string {
  const sign = amountMinor < 0 ? '-' : '';
  const abs = Math.abs(amountMinor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')} ${CURRENCY}`;
}

function table(rows: ReadonlyArray<readonly string[]>): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) => ('  ' + r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).trimEnd())
    .join('\n');
}

/** Fails with what to do when a service does not answer at all (the platform not started). */
async function expectAnswering(services: readonly (readonly [string, string])[]): Promise<void> {
  for (const [name, url] of services) {
    try {
      await (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })).text();
    } catch {
      throw new Error(
        `the ${name} does not answer at ${url}: start the platform with \`npm start\` in another ` +
          `terminal, or point ${name.toUpperCase()}_URL at a running one`,
      );
    }
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const run = randomUUID().slice(0, 8);
  console.log(`demo ${run}: processor ${processorUrl}, ledger ${ledgerUrl}`);
  await expectAnswering([
    ['processor', processorUrl],
    ['ledger', ledgerUrl],
  ]);

  // Accounts: funded payers, empty payees, one payer with almost nothing, one frozen payee.
  const payers: string[] = Array.from({ length: PAYER_COUNT }, () => randomUUID());
  const payees: string[] = Array.from({ length: PAYEE_COUNT }, () => randomUUID());
  const brokePayer = randomUUID();
  const frozenPayee = randomUUID();
  const accounts = [...payers, ...payees, brokePayer, frozenPayee];
  await inParallel(accounts, (id) =>
    openCustomerAccount(ledgerApi, id, `demo-${run}-${id.slice(0, 8)}`, CURRENCY),
  );
  await inParallel(payers, (id) =>
    fundAccount(ledgerApi, id, PAYER_FUNDING_MINOR, `demo-${run}-fund-${id}`, CURRENCY),
  );
  await fundAccount(ledgerApi, brokePayer, BROKE_FUNDING_MINOR, `demo-${run}-fund-broke`, CURRENCY);
  await freezeAccount(ledgerApi, frozenPayee);
  const fundedMinor = PAYER_COUNT * PAYER_FUNDING_MINOR + BROKE_FUNDING_MINOR;
  const clearingId = await clearingAccountId(ledgerApi, CURRENCY);
  const clearingBefore = await balanceMinor(ledgerApi, clearingId);
  console.log(
    `opened ${accounts.length} accounts (${PAYER_COUNT} payers funded ${formatMinor(PAYER_FUNDING_MINOR)} each, 1 frozen payee)`,
  );

  // Payments: 1 in 10 from the broke payer (rejected), 1 in 10 to the frozen payee
  // (compensated), the rest between funded payers and payees, 1.00 .. 20.00.
  const plan = Array.from(
    { length: paymentCount },
    (_, i): { kind: Kind; request: PaymentRequest } => {
      const payer = payers[i % PAYER_COUNT] as string;
      const payee = payees[(i * 3) % PAYEE_COUNT] as string;
      const amountMinor = 100 + ((i * 7919) % 1_901);
      if (i % 10 === 3) {
        return {
          kind: 'insufficient',
          request: {
            payerAccountId: brokePayer,
            payeeAccountId: payee,
            amountMinor: 500,
            currency: CURRENCY,
          },
        };
      }
      if (i % 10 === 7) {
        return {
          kind: 'frozen-payee',
          request: {
            payerAccountId: payer,
            payeeAccountId: frozenPayee,
            amountMinor,
            currency: CURRENCY,
          },
        };
      }
      return {
        kind: 'normal',
        request: {
          payerAccountId: payer,
          payeeAccountId: payee,
          amountMinor,
          currency: CURRENCY,
          description: `demo ${run} #${i}`,
        },
      };
    },
  );
  const sentAt = Date.now();
  const sent: Sent[] = await inParallel(plan, async ({ kind, request }) => ({
    kind,
    paymentId: (await createPayment(processorApi, request, `demo-${run}-${randomUUID()}`)).id,
  }));
  console.log(
    `sent ${sent.length} payments in ${Date.now() - sentAt} ms; waiting for outcomes ...`,
  );
  const first = await settle(
    sent.map((s) => s.paymentId),
    paymentSettled,
  );

  // Refunds of completed payments: half full, half partial.
  const completed = sent.filter((s) => first.payments.get(s.paymentId)?.status === 'COMPLETED');
  const toRefund = completed.slice(0, refundCount);
  await inParallel(toRefund, async (s) => {
    const index = toRefund.indexOf(s);
    const payment = first.payments.get(s.paymentId);
    if (payment === undefined) throw new Error(`no payment ${s.paymentId}`);
    const partial = index % 2 === 1 ? Math.max(1, Math.floor(payment.amountMinor / 2)) : undefined;
    await createRefund(processorApi, s.paymentId, partial, `demo-${run}-refund-${s.paymentId}`);
  });
  console.log(`asked for ${toRefund.length} refunds (full and partial); waiting ...`);
  const refundIds = new Set(toRefund.map((s) => s.paymentId));
  const second = await settle(
    sent.map((s) => s.paymentId),
    (payment) => (refundIds.has(payment.id) ? refundSettled(payment) : paymentSettled(payment)),
  );
  const unsettled = second.unsettled;

  // Final balances through the ledger's API.
  const balances = new Map<string, number>();
  await inParallel(accounts, async (id) => balances.set(id, await balanceMinor(ledgerApi, id)));
  const customerTotalMinor = [...balances.values()].reduce((a, b) => a + b, 0);
  const clearingDeltaMinor = (await balanceMinor(ledgerApi, clearingId)) - clearingBefore;

  console.log('\nBalances:');
  const role = (id: string): string =>
    id === brokePayer
      ? 'payer (underfunded)'
      : id === frozenPayee
        ? 'payee (frozen)'
        : payers.includes(id)
          ? 'payer'
          : 'payee';
  console.log(
    table([
      ['account', 'role', 'balance'],
      ...accounts.map((id) => [id, role(id), formatMinor(balances.get(id) ?? 0)]),
      ['all demo accounts', '', formatMinor(customerTotalMinor)],
      [`clearing ${clearingId}`, 'change during demo', formatMinor(clearingDeltaMinor)],
    ]),
  );

  const counts = new Map<string, number>();
  for (const s of sent) {
    const status = second.payments.get(s.paymentId)?.status ?? 'UNKNOWN';
    const key = `${s.kind}\u0000${status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  console.log('\nPayments by scenario and final state:');
  console.log(
    table([
      ['scenario', 'state', 'payments'],
      ...[...counts.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, n]) => [...key.split('\u0000'), String(n)]),
      ['total', '', String(sent.length)],
    ]),
  );

  const problems: string[] = [];
  if (unsettled.length > 0) {
    problems.push(
      `${unsettled.length} payments not terminal after ${SETTLE_MS_MAX} ms, e.g. ${unsettled.slice(0, 3).join(', ')}`,
    );
  }
  // Money is conserved: what was funded is on the demo accounts, nothing stuck in clearing.
  if (customerTotalMinor !== fundedMinor) {
    problems.push(`demo accounts hold ${customerTotalMinor}, ${fundedMinor} was funded`);
  }
  if (unsettled.length === 0 && clearingDeltaMinor !== 0) {
    problems.push(`clearing moved by ${clearingDeltaMinor} (other traffic running?)`);
  }
  console.log(
    `\n${sent.length} payments, ${toRefund.length} refunds in ${Date.now() - started} ms.`,
  );
  if (problems.length > 0) {
    for (const p of problems) console.error(`FAIL: ${p}`);
    process.exit(1);
  }
  console.log(
    'Every payment reached a terminal state; money is conserved and clearing nets to zero.',
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
