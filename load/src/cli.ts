// npm run load -- <scenario> [--smoke] [--processor-url U --ledger-url U --audit-url U
//   --reconciliation-url U] [--threshold 'metric=expr[,expr]']... [--no-report]
// Runs a scenario of k6/scenarios.js here (no k6 binary needed); exit 0 when every threshold is
// met, 99 when one is breached (k6's code), 2 when the scenario could not run, 1 on a crash.
// `all` runs every scenario in turn.
import { parseArgs } from 'node:util';
import { SCENARIO_NAMES } from '../../k6/scenarios.js';
import { readDevelopmentKey } from '@ledgerline/platform/auth/development-key';
import { ensureLocalStack, type ServiceUrls } from './platform.js';
import { EXIT_NOT_RUN, runScenario, type RunResult } from './runner.js';

process.env['LOG_LEVEL'] ??= 'warn';

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run load -- <${SCENARIO_NAMES.join('|')}|all> [--smoke] ` +
      `[--processor-url URL] [--ledger-url URL] [--audit-url URL] [--reconciliation-url URL] ` +
      `[--threshold 'metric=expr,expr'] [--no-report]\n`,
  );
  process.exit(EXIT_NOT_RUN);
}

/** The command line, parsed strictly: an option it does not know is an error, not ignored. */
function parseCommandLine(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        smoke: { type: 'boolean' },
        'no-report': { type: 'boolean' },
        'processor-url': { type: 'string' },
        'ledger-url': { type: 'string' },
        'audit-url': { type: 'string' },
        'reconciliation-url': { type: 'string' },
        threshold: { type: 'string', multiple: true },
      },
    });
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const { values, positionals } = parseCommandLine(args);
  const [scenarioArg, ...extra] = positionals;
  if (scenarioArg === undefined) usage('no scenario given');
  if (extra.length > 0) usage(`one scenario at a time (or all), not also ${extra.join(' ')}`);
  const names = scenarioArg === 'all' ? [...SCENARIO_NAMES] : [scenarioArg];
  for (const name of names) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) usage(`unknown scenario ${name}`);
  }
  const urls: ServiceUrls = {};
  for (const service of ['processor', 'ledger', 'audit', 'reconciliation'] as const) {
    const url = values[`${service}-url`];
    if (url !== undefined) urls[service] = url.replace(/\/$/, '');
  }
  const thresholdOverrides: Record<string, string[]> = {};
  for (const value of values.threshold ?? []) {
    const [metric, expressions] = value.split('=', 2);
    if (!metric || !expressions) usage(`--threshold needs metric=expr, not ${value}`);
    thresholdOverrides[metric] = expressions.split(',');
  }
  const smoke = values.smoke === true;
  const external = Object.keys(urls).length > 0;
  if (!external) await ensureLocalStack();
  // Services at URLs are called with LEDGERLINE_API_KEY (or the key `npm start` printed).
  const credential = external ? await readDevelopmentKey() : undefined;
  if (external && credential === undefined)
    usage('set LEDGERLINE_API_KEY to a key with the scopes the scenario needs');
  let worst = 0;
  const results: RunResult[] = [];
  for (const name of names) {
    const result = await runScenario({
      scenario: name,
      smoke,
      ...(external ? { urls, ...(credential === undefined ? {} : { credential }) } : {}),
      thresholdOverrides,
      reportName: values['no-report'] === true ? null : `load-${name}${smoke ? '-smoke' : ''}`,
    });
    results.push(result);
    worst = Math.max(worst, result.exitCode);
  }
  if (names.length > 1) {
    for (const r of results) {
      process.stderr.write(
        `${r.scenario}: ${r.ok ? 'ok' : `exit ${r.exitCode}`}${r.error ? ` ${r.error}` : ''}\n`,
      );
    }
  }
  return worst;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
