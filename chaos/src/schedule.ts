// The chaos scenarios and their fault schedules. Pure: a scenario, a seed and a load window in,
// the list of faults with their instants out, so the same `--seed` injects the same faults at
// the same offsets (the platform's answers differ run to run; the questions do not).
import { createRandom, type Random } from './random.js';

export const SERVICES = ['ledger', 'processor', 'reconciliation', 'audit'] as const;
export type ServiceName = (typeof SERVICES)[number];

export type FaultKind =
  | 'kill-service'
  | 'pause-consumer'
  | 'kill-kafka'
  | 'restart-postgres'
  | 'stop-registry'
  | 'duplicate-delivery'
  | 'poison-messages';

export const FAULT_KINDS: readonly FaultKind[] = [
  'kill-service',
  'pause-consumer',
  'kill-kafka',
  'restart-postgres',
  'stop-registry',
  'duplicate-delivery',
  'poison-messages',
];

export interface PlannedFault {
  readonly kind: FaultKind;
  /** Offset from the start of the scenario's load, ms. */
  readonly atMs: number;
  /** The service process concerned (kill-service, pause-consumer). */
  readonly target: ServiceName | null;
  /** How long the fault lasts before the suite heals it (restart, SIGCONT), ms. */
  readonly holdMs: number;
}

export const SCENARIOS = [
  'service-kills',
  'zombie-consumer',
  'broker-kill',
  'postgres-restart',
  'registry-outage',
  'duplicate-delivery',
  'poison-messages',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What `--scenario all` and the default run: every scenario, in this order. */
export const ALL_SCENARIOS: readonly ScenarioName[] = SCENARIOS;

export interface ScheduleSettings {
  /** The load window of the scenario: faults land inside it, healed before it ends. */
  readonly loadMs: number;
  /** A consumer's session timeout: a paused consumer stays stopped longer than it. */
  readonly sessionTimeoutMs: number;
  /** How long the registry stays down (the issue says 30 s; short runs use less). */
  readonly registryOutageMs: number;
  /** Short variant (npm test): one fault of each kind the scenario has. */
  readonly short: boolean;
}

/** Faults at most per scenario: a bound on a typo in --duration. */
export const FAULTS_PER_SCENARIO_MAX = 60;
/** The load runs this long before the first fault and after the last heal. */
const QUIET_FRACTION = 0.15;

interface Wanted {
  kind: FaultKind;
  target: ServiceName | null;
  holdMs: number;
}

/** The faults a scenario injects, before they get instants. */
function wantedFaults(
  scenario: ScenarioName,
  settings: ScheduleSettings,
  random: Random,
): Wanted[] {
  const minutes = settings.loadMs / 60_000;
  // Full runs scale with the window: "several times" per service for a run of minutes.
  const times = (perMinute: number, shortCount: number): number =>
    settings.short ? shortCount : Math.max(2, Math.min(12, Math.round(perMinute * minutes)));
  const downMs = (): number => (settings.short ? 500 : random.int(1_000, 5_000));
  switch (scenario) {
    case 'service-kills':
      return SERVICES.flatMap((target) =>
        Array.from({ length: times(1, 1) }, () => ({
          kind: 'kill-service' as const,
          target,
          holdMs: downMs(),
        })),
      );
    case 'zombie-consumer':
      return Array.from({ length: times(0.5, 1) }, (_, i) => ({
        kind: 'pause-consumer' as const,
        // The short variant pauses the ledger (the writer of the books); full runs every service.
        target: settings.short ? 'ledger' : (SERVICES[i % SERVICES.length] as ServiceName),
        holdMs: settings.sessionTimeoutMs + (settings.short ? 3_000 : random.int(3_000, 10_000)),
      }));
    case 'broker-kill':
      return Array.from({ length: times(0.5, 1) }, () => ({
        kind: 'kill-kafka' as const,
        target: null,
        holdMs: settings.short ? 1_000 : random.int(2_000, 8_000),
      }));
    case 'postgres-restart':
      return Array.from({ length: times(0.5, 1) }, () => ({
        kind: 'restart-postgres' as const,
        target: null,
        holdMs: settings.short ? 1_000 : random.int(2_000, 8_000),
      }));
    case 'registry-outage':
      return Array.from(
        { length: settings.short ? 1 : Math.max(1, Math.round(minutes / 3)) },
        () => ({
          kind: 'stop-registry' as const,
          target: null,
          holdMs: settings.registryOutageMs,
        }),
      );
    case 'duplicate-delivery':
      return Array.from({ length: times(1, 1) }, () => ({
        kind: 'duplicate-delivery' as const,
        target: null,
        holdMs: 0,
      }));
    case 'poison-messages':
      return Array.from({ length: times(0.5, 1) }, () => ({
        kind: 'poison-messages' as const,
        target: null,
        holdMs: 0,
      }));
  }
}

/**
 * The schedule of one scenario: the window between the quiet lead-in and tail is cut into one
 * slot per fault (in an order the seed shuffles), and each fault starts at an instant the seed
 * picks inside its slot such that it is healed before the slot ends. Faults never overlap, so
 * each one's recovery is measured alone.
 */
export function planScenario(
  scenario: ScenarioName,
  seed: number,
  settings: ScheduleSettings,
): PlannedFault[] {
  const random = createRandom(seed).fork(scenario);
  const wanted = wantedFaults(scenario, settings, random);
  if (wanted.length > FAULTS_PER_SCENARIO_MAX) {
    throw new RangeError(`${scenario}: ${wanted.length} faults is over ${FAULTS_PER_SCENARIO_MAX}`);
  }
  // Fisher-Yates with the seeded generator.
  for (let i = wanted.length - 1; i > 0; i -= 1) {
    const j = random.int(0, i);
    [wanted[i], wanted[j]] = [wanted[j] as Wanted, wanted[i] as Wanted];
  }
  const startMs = Math.round(settings.loadMs * QUIET_FRACTION);
  const endMs = Math.round(settings.loadMs * (1 - QUIET_FRACTION));
  const slotMs = (endMs - startMs) / wanted.length;
  return wanted.map((fault, slot) => {
    const slotStartMs = startMs + slot * slotMs;
    // The fault must be healed inside its slot; a hold longer than the slot starts at once.
    const latestMs = Math.max(slotStartMs, slotStartMs + slotMs - fault.holdMs);
    const atMs = Math.round(slotStartMs + random.next() * (latestMs - slotStartMs));
    return { kind: fault.kind, atMs, target: fault.target, holdMs: fault.holdMs };
  });
}

/** "10m", "90s", "1500ms" or a number of seconds; bounded to 1 s .. 24 h. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null)
    throw new RangeError(`--duration must look like 10m, 90s or 1500ms: '${text}'`);
  const unit = match[2] ?? 's';
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit] ?? 1_000;
  const ms = Math.round(Number(match[1]) * factor);
  if (ms < 1_000 || ms > 24 * 3_600_000) {
    throw new RangeError(`--duration must be between 1 s and 24 h: '${text}'`);
  }
  return ms;
}

export function parseScenarios(text: string): ScenarioName[] {
  if (text === 'all') return [...ALL_SCENARIOS];
  const names = text.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new RangeError(`unknown scenario '${name}' (known: ${SCENARIOS.join(', ')}, all)`);
    }
  }
  return names as ScenarioName[];
}
