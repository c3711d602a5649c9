#!/usr/bin/env node
// `npm run report:screenshot [-- <report.html> <out.png>]`: renders a report (default
// reports/bench.html) in headless Chromium and writes a PNG (default docs/report.png). Uses
// Debian's chromium (apt-get install chromium); browsers are not downloaded by npm packages here.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [reportArg, outArg] = process.argv.slice(2);
const report = path.resolve(root, reportArg ?? 'reports/bench.html');
const out = path.resolve(root, outArg ?? 'docs/report.png');
const browser = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (candidate) => existsSync(candidate),
);
if (browser === undefined) {
  console.error('No Chromium found: install it with `apt-get install chromium`.');
  process.exit(2);
}
if (!existsSync(report)) {
  console.error(`${path.relative(root, report)} does not exist: run \`npm run bench\` first.`);
  process.exit(2);
}
const result = spawnSync(
  browser,
  [
    '--headless=new',
    '--no-sandbox', // root in a container: Chromium's sandbox needs user namespaces
    '--disable-gpu',
    '--hide-scrollbars',
    '--window-size=1100,2600',
    `--screenshot=${out}`,
    pathToFileURL(report).href,
  ],
  { encoding: 'utf8', timeout: 60_000 },
);
if (result.status !== 0 || !existsSync(out)) {
  console.error(`chromium failed (${result.status}): ${result.stderr}`);
  process.exit(1);
}
console.log(`wrote ${path.relative(root, out)} from ${path.relative(root, report)}`);
