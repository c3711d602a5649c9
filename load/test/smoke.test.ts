// A seconds-long smoke of every load scenario against the real platform started in this
// process (ledger, processor, audit, reconciliation on the local stack): the thresholds of
// k6/scenarios.js pass on a healthy platform, and a breached threshold fails the run, both
// through runScenario and through `npm run load` (exit code 99, as k6).
import { runScript } from '@ledgerline/testkit/run-script';
import { SCENARIO_NAMES } from '../../k6/scenarios.js';
import { startInProcessPlatform, type LoadPlatform } from '../src/platform.js';
import { EXIT_NOT_RUN, EXIT_THRESHOLDS_BREACHED, runScenario } from '../src/runner.js';

const quiet = (): void => undefined;
let platform: LoadPlatform;

beforeAll(async () => {
  platform = await startInProcessPlatform({
    name: 'load-smoke',
    audit: true,
    reconciliation: true,
  });
}, 180_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

describe('load scenarios (smoke)', () => {
  it.each(SCENARIO_NAMES.filter((n) => n !== 'reconciliation'))(
    '%s meets its thresholds on a healthy platform',
    async (scenario) => {
      const result = await runScenario({
        scenario,
        smoke: true,
        platform,
        reportName: null,
        log: quiet,
      });
      // The error first: a scenario that could not run says why (exit 2).
      expect({
        exitCode: result.exitCode,
        error: result.error,
        breached: result.thresholds.filter((t) => !t.ok),
      }).toEqual({ exitCode: 0, error: null, breached: [] });
      expect(result.summary?.requests).toBeGreaterThan(10);
    },
    60_000,
  );

  it('reconciliation meets its thresholds, or says clearly that the service is not available', async () => {
    const result = await runScenario({
      scenario: 'reconciliation',
      smoke: true,
      platform,
      reportName: null,
      log: quiet,
    });
    if (platform.unavailable.reconciliation !== undefined) {
      expect(result.exitCode).toBe(EXIT_NOT_RUN);
      expect(result.error).toContain('reconciliation service is not available');
      return;
    }
    expect({ error: result.error, breached: result.thresholds.filter((t) => !t.ok) }).toEqual({
      error: null,
      breached: [],
    });
    expect(result.exitCode).toBe(0);
  }, 90_000);

  it('fails the run when a threshold is breached', async () => {
    const result = await runScenario({
      scenario: 'steady',
      smoke: true,
      platform,
      reportName: null,
      log: quiet,
      thresholdOverrides: { 'http_req_duration{name:createPayment}': ['p(99)<0.001'] },
    });
    expect(result.ok).toBe(false);
    expect(result.exitCode).toBe(EXIT_THRESHOLDS_BREACHED);
    expect(result.thresholds.find((t) => !t.ok)?.expression).toBe('p(99)<0.001');
  }, 60_000);

  it('npm run load exits non-zero when a threshold is breached', async () => {
    // Asynchronous: the child talks to the services in this process, whose event loop must run.
    const child = await runScript(
      'load/src/cli.ts',
      [
        'steady',
        '--smoke',
        '--no-report',
        '--processor-url',
        platform.urls.processor ?? '',
        '--ledger-url',
        platform.urls.ledger ?? '',
        '--threshold',
        'checks=rate>1.5',
      ],
      { env: { LEDGERLINE_API_KEY: platform.credential ?? '' } },
    );
    expect(child.stderr).toContain('THRESHOLDS BREACHED');
    expect(child.status).toBe(EXIT_THRESHOLDS_BREACHED);
  }, 70_000);

  it('npm run load refuses an option it does not know before running anything', async () => {
    const child = await runScript('load/src/cli.ts', ['steady', '--smok']);
    expect(child.status).toBe(EXIT_NOT_RUN);
    expect(child.stderr).toContain("Unknown option '--smok'");
    expect(child.stderr).toContain('usage: npm run load -- <steady|');
    // Refused from the command line alone: no stack started, no accounts opened.
    expect(child.stderr).not.toContain('[stack]');
    expect(child.stderr).not.toContain('opening');
  }, 70_000);
});
