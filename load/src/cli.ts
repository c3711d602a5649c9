// npm run load -- <scenario> [--smoke] [--processor-url U --ledger-url U --audit-url U
//   --reconciliation-url U] [--threshold 'metric=expr[,expr]']... [--no-report]
// Runs a scenario of k6/scenarios.js here (no k6 binary needed); exit 0 when every threshold is
// met, 99 when one is breached (k6's code), 2 when the scenario could not run, 1 on a crash.
// `all` runs every scenario in turn.
import { SCENARIO_NAMES, type ServiceName } from '../../k6/scenarios.js';
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

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const scenarioArg = args.find((a) => !a.startsWith('--') && !isValueOfFlag(args, a));
  if (scenarioArg === undefined) usage('no scenario given');
  const names = scenarioArg === 'all' ? [...SCENARIO_NAMES] : [scenarioArg];
  for (const name of names) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) usage(`unknown scenario ${name}`);
  }
  const urls: ServiceUrls = {};
  const thresholdOverrides: Record<string, string[]> = {};
  for (let i = 0; i < args.length; i += 1) {
    const flag = args[i] ?? '';
    const value = args[i + 1];
    const service = /^--(processor|ledger|audit|reconciliation)-url$/.exec(flag)?.[1];
    if (service !== undefined) {
      if (value === undefined) usage(`${flag} needs a value`);
      urls[service as ServiceName] = value.replace(/\/$/, '');
      i += 1;
    } else if (flag === '--threshold') {
      const [metric, expressions] = (value ?? '').split('=', 2);
      if (!metric || !expressions) usage(`--threshold needs metric=expr, not ${value}`);
      thresholdOverrides[metric] = expressions.split(',');
      i += 1;
    }
  }
  const smoke = args.includes('--smoke');
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
      reportName: args.includes('--no-report') ? null : `load-${name}${smoke ? '-smoke' : ''}`,
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

function isValueOfFlag(args: readonly string[], arg: string): boolean {
  const index = args.indexOf(arg);
  const previous = index > 0 ? args[index - 1] : undefined;
  return previous === '--threshold' || /^--\w+-url$/.test(previous ?? '');
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
