// The system's Chromium for browser tests and screenshots (stack/src/chromium.ts finds it, and
// `npm test` installs it where it can). Missing, a browser test fails with the command that
// installs it: it never skips.
import puppeteer, { type Browser } from 'puppeteer-core';
import { chromiumMissing, findChromium } from '@ledgerline/stack/chromium';

const LAUNCH_MS_MAX = 30_000;

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const found = findChromium(env);
  if (found === undefined) throw new Error(chromiumMissing());
  return found;
}

export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    timeout: LAUNCH_MS_MAX,
    // Root in a container: Chromium's sandbox needs user namespaces it does not get here.
    args: ['--no-sandbox', '--disable-gpu', '--hide-scrollbars'],
  });
}
