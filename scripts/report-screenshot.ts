// `npm run report:screenshot [-- <report.html> <out.png>]`: renders a report (default
// reports/bench.html) in headless Chromium through puppeteer-core and writes a full-page PNG
// (default docs/report.png). Uses the system's Chromium (Debian: apt-get install chromium, or
// CHROMIUM_PATH); puppeteer-core downloads no browser.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchChromium } from '@ledgerline/testkit/chromium';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The page width the report is laid out for (its body is at most 1,000 px plus margins). */
const VIEWPORT = { width: 1100, height: 1400, deviceScaleFactor: 1 };
/** Bounds: a report is one local file, without script or external asset. */
const LOAD_MS_MAX = 30_000;

async function main(): Promise<number> {
  const [reportArg, outArg] = process.argv.slice(2);
  const report = path.resolve(root, reportArg ?? 'reports/bench.html');
  const out = path.resolve(root, outArg ?? 'docs/report.png');
  if (!existsSync(report)) {
    console.error(`${path.relative(root, report)} does not exist: run \`npm run bench\` first.`);
    return 2;
  }
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport(VIEWPORT);
    await page.goto(pathToFileURL(report).href, { waitUntil: 'load', timeout: LOAD_MS_MAX });
    // The page must fit its width: a table wider than the page would be cut off in the image.
    // (An expression string: this project's TypeScript has no DOM types.)
    const overflowPx = Number(
      await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      ),
    );
    if (overflowPx > 0) console.warn(`warning: the report is ${overflowPx} px wider than the page`);
    await page.screenshot({ path: out as `${string}.png`, fullPage: true, type: 'png' });
  } finally {
    await browser.close();
  }
  console.log(`wrote ${path.relative(root, out)} from ${path.relative(root, report)}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
