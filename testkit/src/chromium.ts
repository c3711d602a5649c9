// The system's Chromium for browser tests and screenshots: puppeteer-core downloads no browser,
// so it is Debian's `chromium` (or CHROMIUM_PATH). Missing, it fails with the command that
// installs it: a browser test never skips.
import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { installHint } from '@ledgerline/stack/prerequisites';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const LAUNCH_MS_MAX = 30_000;

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const found = [env['CHROMIUM_PATH'], ...CANDIDATES].find(
    (candidate): candidate is string => candidate !== undefined && existsSync(candidate),
  );
  if (found === undefined)
    throw new Error(`No Chromium found (or set CHROMIUM_PATH): ${installHint('chromium')}.`);
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
