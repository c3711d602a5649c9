// `npm run console:screenshots`: against a running `npm start` (after `npm run demo`, for
// richer pages), signs in to the console with the development key (or LEDGERLINE_API_KEY) in
// headless Chromium and writes the README's screenshots to docs/console-*.png.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDevelopmentKey } from '@ledgerline/platform/auth/development-key';
import { launchChromium } from '@ledgerline/testkit/chromium';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const consoleUrl = (process.env['CONSOLE_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const processorUrl = (process.env['CONSOLE_PROCESSOR_URL'] ?? 'http://127.0.0.1:8081').replace(
  /\/+$/,
  '',
);
const ALICE = 'a11ce000-0000-4000-8000-000000000001';
const VIEWPORT = { width: 1280, height: 860, deviceScaleFactor: 1 };
const SETTLE_MS = 1_500;

/** The newest compensated payment (the richest timeline), else the newest of any kind. */
async function paymentToShow(key: string): Promise<string> {
  for (const query of ['status=COMPENSATED&limit=1', 'limit=1']) {
    const response = await fetch(`${processorUrl}/v1/payments?${query}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    if (!response.ok) throw new Error(`listing payments: HTTP ${response.status}`);
    const page = (await response.json()) as { items: { id: string }[] };
    if (page.items[0] !== undefined) return page.items[0].id;
  }
  throw new Error('no payment yet: run `npm run demo` first');
}

async function main(): Promise<void> {
  const key = await readDevelopmentKey();
  if (key === undefined)
    throw new Error('no development key: start the platform with `npm start` first');
  const paymentId = await paymentToShow(key);
  const shots: [string, string][] = [
    ['console-payments.png', '#/payments'],
    ['console-payment.png', `#/payments/${paymentId}`],
    ['console-account.png', `#/accounts/${ALICE}`],
    ['console-reconciliation.png', '#/reconciliation'],
    ['console-platform.png', '#/platform'],
    ['console-contracts.png', '#/contracts'],
    ['console-topic.png', '#/contracts/topics/ledger.step-posted'],
  ];
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport(VIEWPORT);
    await page.goto(`${consoleUrl}/`);
    await page.waitForSelector('#api-key');
    await page.type('#api-key', key);
    await page.keyboard.press('Enter');
    await page.waitForSelector('nav[aria-label=Sections]');
    for (const [file, hash] of shots) {
      await page.goto(`${consoleUrl}/${hash}`);
      await page.waitForSelector('main h1');
      await page.waitForFunction(`document.querySelector('[aria-busy=true]') === null`);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const out = path.join(root, 'docs', file);
      await page.screenshot({ path: out as `${string}.png`, type: 'png' });
      console.log(`wrote docs/${file}`);
    }
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
