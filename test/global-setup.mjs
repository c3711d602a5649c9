// `npm test` brings its own infrastructure: the real stack (started if it is not running),
// every schema registered with its compatibility mode, every topic created and the database
// migrated with its roles, as a deploy would do. Workers inherit the endpoints through the environment.
// Plain ESM loaded natively by Jest (TypeScript imports go through the tsx loader that
// `npm run test:jest` registers).
import { stackProcessMarkers } from '@ledgerline/stack';
import { beginRun, stopRunOnInterrupt } from '@ledgerline/stack/run-scope';
import { ensureChromium } from '@ledgerline/stack/chromium';
import { prepareSharedStack } from '../testkit/src/shared-stack.ts';

export default async function globalSetup() {
  // Ctrl-C or SIGTERM at any instant of the run (here, or while tests run) stops everything
  // the run started: the stack if it started it, stacks and services the tests launched, the
  // workers. With LEDGERLINE_KEEP_STACK=1 the shared stack stays up, as after a normal run.
  const runId = beginRun();
  const markers = stackProcessMarkers();
  stopRunOnInterrupt({
    runId,
    command: 'npm test',
    keep:
      process.env.LEDGERLINE_KEEP_STACK === '1'
        ? (candidate) => candidate.cmdline.some((arg) => markers.some((m) => arg.includes(m)))
        : undefined,
    log: (line) => process.stderr.write(`[stack] ${line}\n`),
  });
  // The console's browser tests need the system's Chromium: installed on first run where the
  // run may (root with apt-get); otherwise those tests fail with the command that installs it.
  const chromium = await ensureChromium({
    log: (line) => process.stderr.write(`[prerequisites] ${line}\n`),
  });
  if (chromium.found === undefined) {
    process.stderr.write(`[prerequisites] the browser tests will fail: ${chromium.why}\n`);
  } else if (chromium.installed) {
    process.stderr.write(`[prerequisites] Chromium installed: ${chromium.found}\n`);
  }
  const started = await prepareSharedStack((line) => process.stderr.write(`[stack] ${line}\n`));
  process.env.LEDGERLINE_TEST_STARTED_STACK = started.startedComponents.length > 0 ? '1' : '';
}
