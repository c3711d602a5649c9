// The operator console in a real browser (Debian's Chromium through puppeteer-core) against the
// real platform (ledger, processor, reconciliation and audit from their real wiring on the real
// Kafka, registry and PostgreSQL): the timelines of a completed, a compensated and a refunded
// payment checked against the ledger's transactions, a refund from the page, an account's
// balance, a reconciliation run and a statement match, the audit chain verified, dead letters
// inspected, a schema diff and a breaking change in the catalogue, and accessibility basics.
// Then the console server's own boundary: what it forwards, and what it refuses.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import avsc from 'avsc';
import type { Browser, Page } from 'puppeteer-core';
import { createIdempotentProducer, createKafka } from '@ledgerline/platform/kafka';
import { prefixedTopic } from '@ledgerline/platform/events/topic';
import { ledgerStepPostedTopic, paymentsStatusChangedTopic } from '@ledgerline/generated/topics';
import { launchChromium } from '@ledgerline/testkit/chromium';
import { badLogicalValue, NOT_AVRO } from '@ledgerline/testkit/poison';
import {
  askRegistry,
  boundedStep,
  createTestApiKey,
  eventually,
} from '@ledgerline/testkit/testing';
import {
  balanceMinor,
  createPayment,
  createRefund,
  freezeAccount,
  fundAccount,
  getPayment,
  getTransaction,
  hasStatus,
  openCustomerAccount,
  startPlatform,
  waitForPayment,
  type InProcessPlatform,
  type Payment,
} from '@ledgerline/testkit/platform';
import { startConsole, type RunningConsole } from '../src/server.js';
import { formatMinor } from '../web/lib/money.js';

let p: InProcessPlatform;
let app: RunningConsole;
let browser: Browser;
let page: Page;
const payer = randomUUID();
const payee = randomUUID();
const frozenPayee = randomUUID();
const fundingKey = `console-fund-${randomUUID()}`;
let completed: Payment;
let compensated: Payment;
let refunded: Payment;
let toRefundInPage: Payment;

/** The final status change of each payment recorded in the audit trail. */
async function trailHas(paymentId: string, status: string): Promise<boolean> {
  const response = await fetch(`${p.urls.audit}/v1/trail/payments/${paymentId}?limit=500`, {
    headers: { authorization: `Bearer ${p.operatorKey}` },
  });
  const page = (await response.json()) as { items: { payload: { to?: string } }[] };
  return page.items.some((r) => r.payload.to === status);
}

beforeAll(async () => {
  p = await startPlatform('console-e2e', { audit: true, reconciliation: true });
  const { audit, reconciliation } = p.urls;
  if (audit === undefined || reconciliation === undefined)
    throw new Error('audit and reconciliation must run');
  app = await startConsole({
    host: '127.0.0.1',
    port: 0,
    services: { processor: p.urls.processor, ledger: p.urls.ledger, reconciliation, audit },
    schemaRegistryUrl: p.env.schemaRegistryUrl,
    topicPrefix: p.env.topicPrefix,
    registryEnv: process.env,
  });
  for (const [id, owner] of [
    [payer, 'console-payer'],
    [payee, 'console-payee'],
    [frozenPayee, 'console-frozen'],
  ] as const)
    await openCustomerAccount(p.ledgerApi, id, owner);
  await fundAccount(p.ledgerApi, payer, 100_000, fundingKey);
  await freezeAccount(p.ledgerApi, frozenPayee);
  const pay = (to: string, amountMinor: number) =>
    createPayment(p.processorApi, {
      payerAccountId: payer,
      payeeAccountId: to,
      amountMinor,
      currency: 'EUR',
    });
  completed = await pay(payee, 1_250);
  compensated = await pay(frozenPayee, 700);
  refunded = await pay(payee, 3_000);
  toRefundInPage = await pay(payee, 2_000);
  completed = await waitForPayment(p.processorApi, completed.id, hasStatus('COMPLETED'));
  compensated = await waitForPayment(p.processorApi, compensated.id, hasStatus('COMPENSATED'));
  await waitForPayment(p.processorApi, refunded.id, hasStatus('COMPLETED'));
  await createRefund(p.processorApi, refunded.id, undefined);
  refunded = await waitForPayment(p.processorApi, refunded.id, hasStatus('REFUNDED'));
  toRefundInPage = await waitForPayment(p.processorApi, toRefundInPage.id, hasStatus('COMPLETED'));
  for (const [payment, status] of [
    [completed, 'COMPLETED'],
    [compensated, 'COMPENSATED'],
    [refunded, 'REFUNDED'],
    [toRefundInPage, 'COMPLETED'],
  ] as const)
    await eventually(
      async () => ((await trailHas(payment.id, status)) ? true : undefined),
      `${status} in the trail`,
    );
  browser = await launchChromium();
  page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 900 });
  await signIn(p.operatorKey);
}, 180_000);

afterAll(async () => {
  // Every step runs even when one before it failed: nothing is left running.
  const failures = [
    await boundedStep('closing the browser', 20_000, () => browser?.close()),
    await boundedStep('stopping the console', 10_000, () => app?.stop()),
    await boundedStep('stopping the platform', 40_000, () => p?.stop()),
  ].filter((failure) => failure !== undefined);
  if (failures.length > 0) throw new Error(`teardown: ${failures.join('; ')}`);
}, 90_000);

/** Evaluates an expression in the page (this project's TypeScript has no DOM types). */
async function inPage<T>(expression: string): Promise<T> {
  return (await page.evaluate(expression)) as T;
}

/** Opens a page of the app; the same address again reloads it (fresh data). */
async function open(hash: string): Promise<void> {
  const target = `${app.url}/${hash}`;
  if (page.url() === target) await page.reload();
  else await page.goto(target);
}

async function textOf(selector: string): Promise<string> {
  await page.waitForSelector(selector, { timeout: 20_000 });
  return inPage<string>(`document.querySelector(${JSON.stringify(selector)}).textContent.trim()`);
}

async function signIn(key: string): Promise<void> {
  await page.goto(`${app.url}/`);
  await inPage('sessionStorage.clear()');
  await page.reload();
  await page.waitForSelector('#api-key');
  // Keyboard only: type into the field, Enter submits.
  await page.focus('#api-key');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.waitForSelector('nav[aria-label=Sections]', { timeout: 20_000 });
}

interface ShownEntry {
  kind: string;
  title: string;
  transaction: string | null;
  rows: string[][];
}

/** The payment page's timeline as the operator reads it, once `ready` holds for it. */
async function timeline(
  paymentId: string,
  ready: (entries: ShownEntry[]) => boolean,
): Promise<ShownEntry[]> {
  let shown: ShownEntry[] = [];
  await eventually(async () => {
    await open(`#/payments/${paymentId}`);
    await page.waitForSelector('[data-testid=timeline-entry]', { timeout: 20_000 });
    shown = await inPage<
      ShownEntry[]
    >(`[...document.querySelectorAll('[data-testid=timeline-entry]')].map((li) => ({
      kind: li.dataset.kind,
      title: li.querySelector('.tl-title').textContent,
      transaction: li.querySelector('table.entries')?.dataset.transaction ?? null,
      rows: [...li.querySelectorAll('[data-testid=ledger-entry]')].map((tr) => [...tr.cells].map((c) => c.textContent.trim())),
    }))`);
    return ready(shown) ? true : undefined;
  }, `the timeline of ${paymentId}`).catch((error: unknown) => {
    throw new Error(`${String(error)}; the page showed ${JSON.stringify(titles(shown))}`);
  });
  return shown;
}

/** Every posting on the timeline shows exactly its ledger transaction's entries. */
async function expectEntriesMatchLedger(payment: Payment, shown: ShownEntry[]): Promise<void> {
  const posted = shown.filter((e) => e.kind === 'posted');
  const ledgerIds = payment.steps.flatMap((s) =>
    s.transactionId === null ? [] : [s.transactionId],
  );
  expect(posted.map((e) => e.transaction).sort()).toEqual([...ledgerIds].sort());
  for (const entry of posted) {
    const transaction = await getTransaction(p.ledgerApi, entry.transaction ?? '');
    expect(entry.rows).toEqual(
      transaction.entries.map((e) => [
        e.accountId,
        e.direction,
        formatMinor(e.amountMinor, e.currency),
      ]),
    );
  }
}

const titles = (shown: ShownEntry[]) => shown.map((e) => e.title);

describe('the console in a browser', () => {
  it('refuses a wrong key with a clear message and signs in with a valid one', async () => {
    await page.goto(`${app.url}/`);
    await inPage('sessionStorage.clear()');
    await page.reload();
    await page.waitForSelector('#api-key');
    await page.type('#api-key', `llk_${'0'.repeat(16)}_${'A'.repeat(43)}`);
    await page.click('button[type=submit]');
    expect(await textOf('[role=alert]')).toMatch(
      /Not signed in: 401 .*unknown, expired or revoked/,
    );
    await signIn(p.operatorKey);
    expect(await textOf('.caller')).toMatch(/^api-key:console-e2e-operator/);
  });

  it('shows a completed payment’s saga across services, each posting with its ledger transaction', async () => {
    const shown = await timeline(completed.id, (s) =>
      titles(s).includes('Status DEBITED → COMPLETED'),
    );
    expect(shown[0]).toMatchObject({ kind: 'request', title: 'Payment requested' });
    expect(titles(shown)).toEqual(
      expect.arrayContaining([
        'Debit requested',
        'DEBIT posted',
        'Credit requested',
        'CREDIT posted',
        'Status (new) → PENDING',
        'Status PENDING → DEBITED',
      ]),
    );
    await expectEntriesMatchLedger(completed, shown);
    expect(await textOf('[data-testid=payment-status]')).toBe('COMPLETED');
    // Every event carries its Kafka coordinates (the environment's topic names) and audit record.
    const coordinates = await inPage<string[]>(
      `[...document.querySelectorAll('.tl-coordinates')].map((c) => c.textContent)`,
    );
    expect(coordinates).toHaveLength(shown.length - 1);
    for (const c of coordinates)
      expect(c).toMatch(
        /^[a-z0-9.-]+\.(commands|step-posted|status-changed)\[\d+\]@\d+ · audit #\d+$/,
      );
    expect(coordinates.some((c) => c.startsWith(`${p.env.topicPrefix}ledger.commands[`))).toBe(
      true,
    );
  });

  it('shows a compensated payment: the credit rejected, the payer credited back', async () => {
    const shown = await timeline(compensated.id, (s) => titles(s).includes('COMPENSATION posted'));
    expect(titles(shown)).toEqual(
      expect.arrayContaining([
        'DEBIT posted',
        'CREDIT rejected: ACCOUNT_FROZEN',
        'Compensation requested',
        'COMPENSATION posted',
      ]),
    );
    expect(shown.filter((e) => e.kind === 'posted')).toHaveLength(2);
    await expectEntriesMatchLedger(compensated, shown);
    expect(await textOf('[data-testid=payment-status]')).toBe('COMPENSATED (ACCOUNT_FROZEN)');
    // Nothing left to refund: no refund form.
    expect(await inPage<boolean>(`document.getElementById('refund-amount') === null`)).toBe(true);
  });

  it('shows a refunded payment with its refund steps', async () => {
    const shown = await timeline(refunded.id, (s) => titles(s).includes('REFUND_CREDIT posted'));
    expect(titles(shown)).toEqual(
      expect.arrayContaining([
        'CREDIT posted',
        'REFUND_DEBIT requested',
        'REFUND_DEBIT posted',
        'REFUND_CREDIT posted',
      ]),
    );
    await expectEntriesMatchLedger(refunded, shown);
    expect(await textOf('[data-testid=payment-status]')).toBe('REFUNDED');
  });

  it('refunds part of a payment from its page, and offers no refund to a key without refunds:write', async () => {
    await timeline(toRefundInPage.id, (s) => s.length > 1);
    await page.type('#refund-amount', '5.00');
    await page.click('form[aria-label=Refund] button[type=submit]');
    const confirmation = await textOf('form[aria-label=Refund] [role=status]');
    expect(confirmation).toMatch(/^Refund [0-9a-f-]{36} accepted \(\w+\)\.$/);
    // The page reloads the payment a second later: the refund's step appears on the timeline,
    // and the confirmation stays (the page is not blanked and the form not made anew).
    await page.waitForFunction(
      `[...document.querySelectorAll('[data-testid=timeline-entry] .tl-title')].some((t) => t.textContent === 'REFUND_DEBIT requested')`,
      { timeout: 20_000 },
    );
    expect(await textOf('form[aria-label=Refund] [role=status]')).toBe(confirmation);
    const after = await waitForPayment(
      p.processorApi,
      toRefundInPage.id,
      hasStatus('PARTIALLY_REFUNDED'),
    );
    expect(after.refundedMinor).toBe(500);

    const reader = await createTestApiKey(p.env.databaseUrl, { scopes: ['payments:read'] });
    await signIn(reader);
    await open(`#/payments/${toRefundInPage.id}`);
    await page.waitForSelector('[data-testid=payment-status]');
    expect(await inPage<boolean>(`document.getElementById('refund-amount') === null`)).toBe(true);
    expect(await textOf('.note')).toMatch(/audit:read/);
    await signIn(p.operatorKey);
  });

  it('finds an account and shows the ledger’s balance, and the running balance ends on it', async () => {
    await open('#/accounts');
    await page.waitForSelector('#account-id');
    await page.type('#account-id', payer);
    await page.keyboard.press('Enter');
    const expected = formatMinor(await balanceMinor(p.ledgerApi, payer), 'EUR');
    await eventually(
      async () => ((await textOf('[data-testid=account-balance]')) === expected ? true : undefined),
      'the balance',
    );
    await page.waitForSelector('[data-testid=running-balance]');
    const running = await inPage<string[]>(
      `[...document.querySelectorAll('[data-testid=running-balance]')].map((c) => c.textContent.trim())`,
    );
    expect(running[0]).toBe('1,000.00 EUR');
    expect(running[running.length - 1]).toBe(expected);
  });

  it('unfreezes and freezes an account where the scopes allow, and offers neither otherwise', async () => {
    const accountStatus = async () =>
      (
        await p.ledgerApi.GET('/v1/accounts/{accountId}', {
          params: { path: { accountId: frozenPayee } },
        })
      ).data?.status;
    await open(`#/accounts/${frozenPayee}`);
    // The page of the previous test's account stays until this one has loaded: wait for it.
    await eventually(
      async () => ((await textOf('[data-testid=account-status]')) === 'FROZEN' ? true : undefined),
      'the page showing FROZEN',
    );
    await page.click('::-p-text(Unfreeze)');
    await eventually(async () => ((await accountStatus()) === 'OPEN' ? true : undefined), 'OPEN');
    await eventually(
      async () => ((await textOf('[data-testid=account-status]')) === 'OPEN' ? true : undefined),
      'the page showing OPEN',
    );
    await page.type('#status-reason', 'console e2e');
    await page.click('::-p-text(Freeze)');
    await eventually(
      async () => ((await accountStatus()) === 'FROZEN' ? true : undefined),
      'FROZEN',
    );

    const reader = await createTestApiKey(p.env.databaseUrl, { scopes: ['ledger:read'] });
    await signIn(reader);
    await open(`#/accounts/${frozenPayee}`);
    await page.waitForSelector('[data-testid=account-status]');
    expect(
      await inPage<number>(
        `document.querySelectorAll('[role=group][aria-label="Account status"]').length`,
      ),
    ).toBe(0);
    await signIn(p.operatorKey);
  });

  it('runs a reconciliation and matches a bank statement', async () => {
    await open('#/reconciliation');
    await page.waitForSelector('form[aria-label="Start a run"] button');
    await page.click('form[aria-label="Start a run"] button');
    await page.waitForSelector(
      'form[aria-label="Start a run"] [role=status], form[aria-label="Start a run"] [role=alert]',
    );
    expect(
      await textOf(
        'form[aria-label="Start a run"] [role=status], form[aria-label="Start a run"] [role=alert]',
      ),
    ).toMatch(/^Run started/);
    await page.waitForSelector('form[aria-label="Start a run"] [role=status] a', {
      timeout: 20_000,
    });
    await page.click('form[aria-label="Start a run"] [role=status] a');
    let status = '';
    await eventually(async () => {
      await page.reload();
      status = await textOf('[data-testid=run-status]');
      return status.startsWith('RUNNING') ? undefined : true;
    }, 'the run to finish');
    const runId = await inPage<string>(`document.querySelector('dl.facts dd code').textContent`);
    const run = (await (
      await fetch(`${p.urls.reconciliation}/v1/runs/${runId}`, {
        headers: { authorization: `Bearer ${p.operatorKey}` },
      })
    ).json()) as { status: string; checks: unknown[]; discrepancyCount: number };
    expect(status).toBe(run.status);
    expect(['PASSED', 'DISCREPANCIES_FOUND']).toContain(run.status);
    expect(await textOf('[data-testid=run-discrepancies]')).toBe(String(run.discrepancyCount));
    expect(
      await inPage<number>(`document.querySelectorAll('[data-testid=checks] tbody tr').length`),
    ).toBe(run.checks.length);

    await open('#/reconciliation');
    await page.waitForSelector('#statement-csv');
    const today = new Date().toISOString().slice(0, 10);
    const csv = `reference,amount_minor,currency,value_date\nWIRE-${fundingKey},100000,EUR,${today}\nWIRE-NOT-IN-THE-LEDGER,5000,EUR,${today}\n`;
    await page.evaluate(`(() => {
      const t = document.getElementById('statement-csv');
      t.value = ${JSON.stringify(csv)};
      t.dispatchEvent(new Event('input', { bubbles: true }));
    })()`);
    // Preact applies the input on its next render: let that happen before the form is sent.
    await inPage('new Promise((resolve) => requestAnimationFrame(() => resolve(true)))');
    await page.click('form[aria-label="Match a bank statement"] button[type=submit]');
    // The report, or the refusal the page shows instead (a failure then says which it was).
    const refusal = 'form[aria-label="Match a bank statement"] ~ [role=alert]';
    await page.waitForSelector(`[data-testid=match-report], ${refusal}`, { timeout: 60_000 });
    expect(
      await inPage<string | null>(
        `document.querySelector(${JSON.stringify(refusal)})?.textContent ?? null`,
      ),
    ).toBeNull();
    expect(await textOf('[data-testid=matched-count]')).toBe('1 matched');
    expect(await textOf('[data-testid=unmatched-lines]')).toBe('1 statement lines unmatched');
  });

  it('says a run it cannot find is not found, and lists no discrepancies for it', async () => {
    const unknown = randomUUID();
    await open(`#/reconciliation/runs/${unknown}`);
    expect(await textOf('main [role=alert]')).toBe(`404 Not found: No run ${unknown}.`);
    await page.waitForFunction(`document.querySelector('[aria-busy=true]') === null`);
    expect(
      await inPage<string[]>(`[...document.querySelectorAll('main h2')].map((h) => h.textContent)`),
    ).toEqual([]);
    expect(await inPage<string>(`document.querySelector('main').textContent`)).not.toMatch(
      /None\./,
    );
  });

  it('verifies the audit chain and shows its result', async () => {
    await open(`#/audit?payment=${completed.id}`);
    await page.waitForSelector('[data-testid=trail] tbody tr');
    await page.click('::-p-text(Verify now)');
    expect(await textOf('[data-testid=verify-result]')).toMatch(
      /^The chain holds: \d+ records checked/,
    );
  });

  it('lists dead letters and decodes what decodes', async () => {
    const topic = prefixedTopic(ledgerStepPostedTopic, p.env.topicPrefix);
    const producer = createIdempotentProducer(
      createKafka(p.env.kafkaBrokers, 'console-e2e-poison'),
    );
    await producer.connect();
    try {
      await producer.send({
        topic: topic.name,
        messages: [
          { key: await p.serde.encodeKey(topic, randomUUID()), value: NOT_AVRO },
          {
            key: await p.serde.encodeKey(topic, randomUUID()),
            value: await badLogicalValue(p.env.schemaRegistryUrl, topic),
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    // Several consumers read the topic, each dead-letters both records, in their own time:
    // wait until the page lists one of each kind.
    const { notAvro, badValue } = await eventually(async () => {
      await open('#/platform');
      await page.waitForSelector('[data-testid=services]');
      const reasons = await inPage<string[]>(
        `[...document.querySelectorAll('[data-testid=dead-letters] tbody tr')].map((r) => r.textContent)`,
      );
      const found = {
        notAvro: reasons.findIndex((r) => r.includes(topic.name) && /wire format|magic/i.test(r)),
        badValue: reasons.findIndex((r) => r.includes(topic.name) && !/wire format|magic/i.test(r)),
      };
      return found.notAvro >= 0 && found.badValue >= 0 ? found : undefined;
    }, 'both dead letters on the platform page');
    expect(
      await inPage<string[]>(
        `[...document.querySelectorAll('[data-testid=readiness]')].map((c) => c.textContent)`,
      ),
    ).toEqual(['ready', 'ready', 'ready', 'ready']);
    const inspect = async (row: number) => {
      await page.click(`[data-testid=dead-letters] tbody tr:nth-child(${row + 1}) button`);
      // The original record's own section, once decoded (the panel remounts per dead letter).
      const decoded =
        '[data-testid=original-record] pre, [data-testid=original-record] [role=alert]';
      await page.waitForSelector(decoded);
      return textOf(decoded);
    };
    expect(await inspect(notAvro)).toMatch(/Not decodable: not in Confluent wire format/);
    expect(await inspect(badValue)).toMatch(/"transactionId": "not-a-uuid"/);
  });

  it('refreshes the platform page in place: the table stays, the button says it is refreshing', async () => {
    await open('#/platform');
    await page.waitForSelector('[data-testid=services]');
    // Record, from inside the page, every text the button shows and whether the table ever goes.
    await inPage(`(() => {
      const button = [...document.querySelectorAll('main button')].find((b) => b.textContent === 'Refresh');
      window.refreshSeen = { texts: [], tableGone: false };
      new MutationObserver(() => {
        window.refreshSeen.texts.push(button.textContent);
        if (document.querySelector('[data-testid=services]') === null) window.refreshSeen.tableGone = true;
      }).observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true });
      button.click();
    })()`);
    await page.waitForFunction(
      `window.refreshSeen.texts.includes('Refreshing…') && window.refreshSeen.texts.at(-1) === 'Refresh'`,
      { timeout: 20_000 },
    );
    expect(await inPage<boolean>('window.refreshSeen.tableGone')).toBe(false);
    expect(
      await inPage<string[]>(
        `[...document.querySelectorAll('[data-testid=readiness]')].map((c) => c.textContent)`,
      ),
    ).toEqual(['ready', 'ready', 'ready', 'ready']);
  });

  it('shows a subject’s versions with a field diff, and names what a breaking change breaks', async () => {
    // A compatible second version of the value schema: one optional field more.
    const topic = prefixedTopic(paymentsStatusChangedTopic, p.env.topicPrefix);
    const schema = topic.valueSchema as { fields: unknown[] };
    const v2 = {
      ...schema,
      fields: [
        ...schema.fields,
        {
          name: 'settledAt',
          type: ['null', 'string'],
          default: null,
          doc: 'When the bank settled it.',
        },
      ],
    };
    const registered = await askRegistry(
      p.env.schemaRegistryUrl,
      'POST',
      `/subjects/${encodeURIComponent(topic.valueSubject)}/versions`,
      { schema: JSON.stringify(v2) },
    );
    expect(registered.status).toBe(200);

    await open('#/contracts/topics/payments.status-changed');
    expect(await textOf('[data-testid=version-count]')).toBe(
      `2 versions under ${topic.valueSubject}.`,
    );
    const diff = await inPage<string[][]>(
      `[...document.querySelectorAll('[data-testid=schema-diff] tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent))`,
    );
    expect(diff).toEqual([['settledAt', 'added', '—', 'null | string']]);
    expect(
      await inPage<string>(`document.querySelector('[data-testid=fields]').textContent`),
    ).toMatch(/amountMinor.*long/);

    const breaking = {
      ...schema,
      fields: [...schema.fields, { name: 'settlementBank', type: 'string' }],
    };
    await page.evaluate(`(() => {
      const t = document.getElementById('proposed-schema');
      t.value = ${JSON.stringify(JSON.stringify(breaking, null, 2))};
      t.dispatchEvent(new Event('input', { bubbles: true }));
    })()`);
    await page.click('form[aria-label="What would break"] button[type=submit]');
    const verdict = await textOf('[data-testid=compatibility-verdict]');
    expect(verdict).toMatch(/^Breaking under BACKWARD/);
    expect(verdict).toMatch(/The registry says: incompatible/);
    expect(await textOf('[data-testid=compatibility-problems]')).toMatch(/settlementBank/);
  });

  it('renders the OpenAPI references and the pact matrix from the contracts', async () => {
    await open('#/contracts/api/processor');
    await page.waitForSelector('[data-operation=getCaller]');
    expect(await textOf('[data-operation=createPayment] summary')).toBe(
      'POST /v1/payments — Accept a payment',
    );
    await open('#/contracts/pacts');
    await page.waitForSelector('[data-testid=pact-matrix] tbody tr');
    const rows = await inPage<string[]>(
      `[...document.querySelectorAll('[data-testid=pact-matrix] tbody tr')].map((r) => r.cells[0].textContent + ' ' + r.cells[1].textContent + ' ' + r.cells[3].textContent)`,
    );
    expect(rows).toContain('processor ledger yes');
    // The console's own HTTP pacts with every service, verified against the running services.
    for (const provider of ['processor', 'ledger', 'reconciliation', 'audit']) {
      expect(rows).toContain(`console ${provider} yes`);
    }
    await open('#/contracts');
    expect(await textOf('[data-testid=asyncapi-summary]')).toMatch(/11 channels, \d+ operations/);
  });

  it.each([
    ['payments', '#/payments'],
    ['a payment', () => `#/payments/${completed.id}`],
    ['an account', () => `#/accounts/${payer}`],
    ['reconciliation', '#/reconciliation'],
    ['a topic', '#/contracts/topics/ledger.commands'],
    ['a page that does not exist', '#/no-such-page'],
  ])('meets accessibility basics on %s', async (_, where) => {
    await open(typeof where === 'string' ? where : where());
    await page.waitForSelector('main h1');
    await page.waitForFunction(`document.querySelector('[aria-busy=true]') === null`, {
      timeout: 20_000,
    });
    const problems = await inPage<string[]>(`(() => {
      const problems = [];
      if (!document.documentElement.lang) problems.push('no lang on <html>');
      if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
      for (const el of document.querySelectorAll('input, select, textarea')) {
        if (el.type === 'hidden') continue;
        if (el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) problems.push('unlabelled ' + el.outerHTML.slice(0, 80));
      }
      for (const el of document.querySelectorAll('button, a[href]'))
        if (!el.textContent.trim() && !el.getAttribute('aria-label')) problems.push('nameless ' + el.outerHTML.slice(0, 80));
      for (const el of document.querySelectorAll('svg[role=img]'))
        if (!el.getAttribute('aria-labelledby')) problems.push('svg without a name');
      const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
      for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push('duplicate id ' + id);
      if (!document.querySelector('main')) problems.push('no main landmark');
      if (!document.querySelector('nav[aria-label]')) problems.push('no labelled nav');
      return problems;
    })()`);
    expect(problems).toEqual([]);
    // On a fresh load, the first Tab lands on the skip link, which moves focus into the page.
    await page.reload();
    await page.waitForSelector('main h1');
    await page.keyboard.press('Tab');
    expect(await inPage<string>('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await inPage<string>('document.activeElement.id')).toBe('content');
  });

  it('says which date of a hand-edited search address is not one', async () => {
    await open('#/payments?from=xyz');
    expect(await textOf('main [role=alert]')).toBe('Created from "xyz" is not a date and time.');
  });

  it('never shows the previous payment under the next one’s address, not even for one render', async () => {
    await open(`#/payments/${completed.id}`);
    expect(await textOf('[data-testid=payment-status]')).toBe('COMPLETED');
    // The page as the first render after the address changes leaves it: read in a microtask
    // queued behind that render, before anything else can run.
    const shown = await inPage<string>(`new Promise((resolve) => {
      window.addEventListener('hashchange', () => queueMicrotask(() => resolve(document.querySelector('main').textContent)), { once: true });
      location.hash = ${JSON.stringify(`#/payments/${compensated.id}`)};
    })`);
    expect(shown).not.toContain(completed.id);
    expect(shown).toContain('Loading…');
    expect(await textOf('[data-testid=payment-status]')).toBe('COMPENSATED (ACCOUNT_FROZEN)');
  });

  it('moves focus to the new page’s heading after a navigation, but not out of a field the operator has already chosen', async () => {
    await open('#/payments');
    await page.waitForSelector('main h1');
    // Keyboard navigation: the section link, Enter; focus lands on the heading of the new page.
    await page.focus('nav[aria-label=Sections] a[href="#/accounts"]');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      `document.activeElement?.tagName === 'H1' && document.activeElement.textContent === 'Accounts'`,
      { timeout: 20_000 },
    );

    await open('#/payments');
    await page.waitForSelector('main h1');
    // The field of the new page focused as soon as it is there, before the page has painted
    // (a fast operator, or a test typing at once): the heading must not take focus back.
    const grabbed = await inPage<string>(`new Promise((resolve) => {
      location.hash = '#/accounts';
      const grab = () => {
        const field = document.getElementById('account-id');
        if (field === null) return setTimeout(grab, 0);
        field.focus();
        resolve(document.activeElement.id);
      };
      grab();
    })`);
    expect(grabbed).toBe('account-id');
    // Past the paint and the effects that follow it.
    await inPage('new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 300)))');
    expect(await inPage<string>('document.activeElement.id')).toBe('account-id');
    await page.keyboard.type(payer);
    expect(await inPage<string>(`document.getElementById('account-id').value`)).toBe(payer);
  });
});

describe('the console server', () => {
  const call = (path: string, init: RequestInit & { key?: string } = {}) =>
    fetch(`${app.url}${path}`, {
      ...init,
      headers: {
        ...(init.key === undefined ? {} : { authorization: `Bearer ${init.key}` }),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  /** A POST of a JSON body as written (so a test can send malformed JSON too). */
  const postJson = (path: string, body: string, key?: string) =>
    call(path, { key, method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('serves the app from its own origin only, and says how big it is', async () => {
    const index = await call('/');
    expect(index.headers.get('content-security-policy')).toMatch(
      /default-src 'self'; script-src 'self'/,
    );
    const html = await index.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect((await call('/assets/console.js')).status).toBe(200);
    expect(app.bundle.bytes).toBeGreaterThan(10_000);
    expect(app.bundle.gzipBytes).toBeLessThan(app.bundle.bytes);
  });

  it('forwards API calls with the caller’s credential and the service’s own answers', async () => {
    const listed = await call('/api/processor/v1/payments?limit=1', { key: p.operatorKey });
    expect(listed.status).toBe(200);
    expect((await call('/api/processor/v1/payments')).status).toBe(401);
    // Bad input reaches the service, which refuses it and stores nothing.
    const before = await getPayment(p.processorApi, completed.id);
    const bad = await call('/api/processor/v1/payments', {
      key: p.operatorKey,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ amountMinor: -5 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await getPayment(p.processorApi, completed.id)).toEqual(before);
  });

  it('forwards a body as sent: a member named twice reaches the service, which refuses it', async () => {
    // Parsed and written again on the way, the second amount would have won unseen.
    const body = JSON.stringify({
      payerAccountId: randomUUID(),
      payeeAccountId: randomUUID(),
      amountMinor: 1,
      currency: 'EUR',
    }).replace('"amountMinor":1', '"amountMinor":1,"amountMinor":9999900');
    const answer = await call('/api/processor/v1/payments', {
      key: p.operatorKey,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body,
    });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({
      type: 'https://ledgerline.dev/problems/malformed-body',
      errors: [{ pointer: '/amountMinor' }],
    });
  });

  it('answers a request its HTTP parser refuses with problem+json, as the services do', async () => {
    const url = new URL(app.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.write('GET / HTTP/1.1\r\nHost: console\r\nX-Note: a\x01b\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nContent-Type: application\/problem\+json; charset=utf-8\r\n/);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({
      type: 'https://ledgerline.dev/problems/malformed-request',
      status: 400,
    });
  });

  it('refuses two Authorization headers instead of forwarding the first', async () => {
    const url = new URL(app.url);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = http.request({
        host: url.hostname,
        port: url.port,
        path: '/api/processor/v1/payments?limit=1',
        // Raw name/value pairs: the same field twice, as a client or proxy can send it.
        headers: [
          'Host',
          url.host,
          'Authorization',
          `Bearer ${p.operatorKey}`,
          'Authorization',
          'Bearer llk_forged_value',
        ],
      });
      request.on('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      });
      request.on('error', reject);
      request.end();
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({
      status: 400,
      detail: 'The request carries more than one Authorization header; send one.',
    });
  });

  it('reaches no path of a service but its API and probes', async () => {
    for (const path of [
      '/api/processor/',
      '/api/processor/internal',
      '/api/ledger/v1/../../etc',
      '/api/nowhere/v1/x',
      '/%',
      '/assets/other.js',
    ])
      expect({ path, status: (await call(path, { key: p.operatorKey })).status }).toEqual({
        path,
        status: 404,
      });
    expect((await call('/api/ledger/readyz')).status).toBe(200);
  });

  it('judges the path the service will see: dot segments, encoded or not, reach no more', async () => {
    // Raw request lines (fetch would resolve them before sending).
    const raw = (path: string, key?: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(app.url);
        const request = http.request(
          {
            host: url.hostname,
            port: url.port,
            path,
            headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on('error', reject);
        request.end();
      });
    const reader = await createTestApiKey(p.env.databaseUrl, { scopes: ['payments:read'] });
    for (const path of [
      '/api/processor/v1/%2e%2e/metrics',
      '/api/processor/v1/%2E%2E/metrics',
      '/api/processor/v1/../metrics',
      '/api/processor/v1/..%2fmetrics',
      '/api/processor/v1\\..\\metrics',
      '/api/processor/v1/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    ]) {
      // Never /metrics, for no credential or one without metrics:read.
      expect({ path, refused: [401, 404].includes(await raw(path)) }).toEqual({
        path,
        refused: true,
      });
      expect({ path, refused: [403, 404].includes(await raw(path, reader)) }).toEqual({
        path,
        refused: true,
      });
    }
    expect(await raw('/api/processor/v1/payments?limit=1', reader)).toBe(200);
  });

  it("forwards /metrics with the caller's credential, which needs metrics:read", async () => {
    // The service asks every caller for the scope, the console (a loopback caller) too.
    expect((await fetch(`${p.urls.processor}/metrics`)).status).toBe(401);
    expect((await call('/api/processor/metrics')).status).toBe(401);
    const reader = await createTestApiKey(p.env.databaseUrl, { scopes: ['payments:read'] });
    expect((await call('/api/processor/metrics', { key: reader })).status).toBe(403);
    expect((await call('/api/processor/metrics', { key: p.operatorKey })).status).toBe(200);
  });

  it('answers its own endpoints to authenticated callers only, for the contracts’ subjects only', async () => {
    expect((await call('/api/catalogue')).status).toBe(401);
    expect((await call('/api/catalogue', { key: 'llk_nope' })).status).toBe(401);
    const subject = prefixedTopic(paymentsStatusChangedTopic, p.env.topicPrefix).valueSubject;
    expect(
      (
        await call(`/api/registry/subjects/${encodeURIComponent(subject)}/versions`, {
          key: p.operatorKey,
        })
      ).status,
    ).toBe(200);
    expect(
      (await call('/api/registry/subjects/somebody-elses/versions', { key: p.operatorKey })).status,
    ).toBe(404);
    expect(
      (
        await call(`/api/registry/subjects/${encodeURIComponent(subject)}/versions/-1`, {
          key: p.operatorKey,
        })
      ).status,
    ).toBe(400);
    const post = (body: unknown, key?: string) =>
      postJson('/api/compatibility', JSON.stringify(body), key);
    expect((await post({ subject })).status).toBe(400);
    const malformed = await postJson('/api/compatibility', '{"subject":', p.operatorKey);
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const huge = await post({ subject, schema: 'x'.repeat(2 * 1024 * 1024) }, p.operatorKey);
    expect(huge.status).toBe(413);
    expect((await post({ subject, schema: '{}' })).status).toBe(401);
    const notJson = (await (await post({ subject, schema: '{nope' }, p.operatorKey)).json()) as {
      error: string;
    };
    expect(notJson.error).toMatch(/^The schema is not JSON/);
    const notAvro = (await (
      await post({ subject, schema: '{"type":"recrod"}' }, p.operatorKey)
    ).json()) as { error: string };
    expect(notAvro.error).not.toBeNull();
  });

  it('decodes a value with its writer’s schema, and says why when it cannot', async () => {
    const topic = prefixedTopic(paymentsStatusChangedTopic, p.env.topicPrefix);
    const latest = (
      await askRegistry(
        p.env.schemaRegistryUrl,
        'GET',
        `/subjects/${encodeURIComponent(topic.valueSubject)}/versions/1`,
      )
    ).json as { id: number; schema: string };
    const type = avsc.Type.forSchema(JSON.parse(latest.schema) as avsc.Schema);
    const value = type.random();
    const header = Buffer.alloc(5);
    header.writeUInt32BE(latest.id, 1);
    const decode = async (bytes: Buffer, key = p.operatorKey) =>
      postJson('/api/decode', JSON.stringify({ value: bytes.toString('base64') }), key);
    const decoded = (await (
      await decode(Buffer.concat([header, type.toBuffer(value)]))
    ).json()) as {
      schemaId: number;
      value: unknown;
      error: null;
    };
    expect(decoded).toEqual({
      schemaId: latest.id,
      value: JSON.parse(type.toString(value)),
      error: null,
    });
    const truncated = (await (
      await decode(Buffer.concat([header, Buffer.from([0x02])]))
    ).json()) as { error: string };
    expect(truncated.error).toMatch(new RegExp(`^schema ${latest.id} cannot read it`));
    const reader = await createTestApiKey(p.env.databaseUrl, { scopes: ['payments:read'] });
    expect((await decode(NOT_AVRO, reader)).status).toBe(403);
    const bad = await postJson('/api/decode', '{"value":"%%%"}', p.operatorKey);
    expect(bad.status).toBe(400);
  });
});
