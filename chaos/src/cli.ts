// `npm run chaos -- [--seed n] [--duration 10m] [--scenario a,b|all] [--rate n] [--short]
//                   [--registry-outage 30s]`
// Runs the seeded fault scenarios against the services as processes on the suite's own stack,
// writes reports/chaos.html and reports/chaos.json, exits 1 (printing the seed) when an
// invariant broke, 2 when the run could not start.
import { parseArgs } from 'node:util';
import { parseSeed } from './random.js';
import { writeChaosReport } from './report.js';
import { runChaos, stopActiveRun } from './run.js';
import { parseDurationMs, parseScenarios } from './schedule.js';

const RATE_PER_S_MAX = 500;
const USAGE =
  'usage: npm run chaos -- [--seed n] [--duration 10m] [--scenario a,b|all] [--rate n] [--short] [--registry-outage 30s]';

/** A command line the suite cannot run with: said in one line with the usage, no stack. */
class UsageError extends Error {}

function parseCommandLine() {
  try {
    const { values } = parseArgs({
      options: {
        seed: { type: 'string' },
        duration: { type: 'string', default: '10m' },
        scenario: { type: 'string', default: 'all' },
        rate: { type: 'string', default: '20' },
        short: { type: 'boolean', default: false },
        'registry-outage': { type: 'string', default: '30s' },
      },
      strict: true,
    });
    const ratePerS = Number(values.rate);
    if (!Number.isInteger(ratePerS) || ratePerS < 1 || ratePerS > RATE_PER_S_MAX) {
      throw new RangeError(`--rate must be an integer 1..${RATE_PER_S_MAX} payments/s`);
    }
    return {
      seed: parseSeed(values.seed ?? String(Math.floor(Math.random() * 0xffff_ffff))),
      scenarios: parseScenarios(values.scenario),
      durationMs: parseDurationMs(values.duration),
      ratePerS,
      short: values.short,
      registryOutageMs: parseDurationMs(values['registry-outage']),
    };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function main(): Promise<number> {
  const options = parseCommandLine();
  const { seed } = options;
  process.stderr.write(`chaos: seed ${seed}\n`);
  const result = await runChaos({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
  const report = await writeChaosReport(result, 'chaos');
  const f = report.figures;
  process.stdout.write(
    `\nchaos ${result.ok ? 'PASSED' : 'FAILED'} (seed ${seed})\n` +
      `payments offered ${f.offered}, accepted ${f.accepted}, completed ${f.completed}, lost ${f.lost}, duplicated ${f.duplicated}\n` +
      `faults ${JSON.stringify(f.faultsByKind)}\n` +
      `dead-lettered ${JSON.stringify(f.deadLetteredByReason)}\n` +
      `recovery p50 ${f.recoveryMs.p50 ?? '-'} ms, max ${f.recoveryMs.max ?? '-'} ms, never ${f.recoveryMs.never}\n` +
      `report: ${report.html}\nreproduce: ${f.reproduce}\n`,
  );
  return result.ok ? 0 : 1;
}

// Ctrl-C or SIGTERM: stop the services and the suite's own stack before leaving.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`chaos: ${signal}: stopping the services and the chaos stack ...\n`);
    void stopActiveRun().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      error instanceof UsageError
        ? `chaos: ${error.message}\n${USAGE}\n`
        : `chaos could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);
