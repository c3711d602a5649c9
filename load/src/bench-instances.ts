// How many processes the bench runs per service (BENCH_INSTANCES=processor:2,ledger:2) and how
// the CPU of those processes is named and added up. Pure: the bench spawns and samples, this
// decides the names and the sums, so the table, the JSON and the tests agree.

/** The services the bench runs as processes of their own. */
export const BENCH_SERVICES = ['ledger', 'processor'] as const;
export type BenchService = (typeof BENCH_SERVICES)[number];
export type InstanceLayout = Readonly<Record<BenchService, number>>;

/** The bound the services themselves accept for <NAME>_INSTANCES (platform/src/service/runner.ts). */
const INSTANCES_MAX = 64;

const isBenchService = (name: string): name is BenchService =>
  (BENCH_SERVICES as readonly string[]).includes(name);

/** `processor:2,ledger:2` → { ledger: 2, processor: 2 }; a service not named runs once. */
export function parseInstances(text: string | undefined): InstanceLayout {
  const layout: Record<BenchService, number> = { ledger: 1, processor: 1 };
  if (text === undefined || text.trim() === '') return layout;
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const match = /^\s*([a-z]+)\s*:\s*(\d+)\s*$/.exec(part);
    if (match === null) {
      throw new Error(`BENCH_INSTANCES: "${part.trim()}" is not <service>:<count>`);
    }
    const [, name = '', count = ''] = match;
    if (!isBenchService(name)) {
      throw new Error(
        `BENCH_INSTANCES: the bench runs ${BENCH_SERVICES.join(' and ')}, not "${name}"`,
      );
    }
    if (seen.has(name)) throw new Error(`BENCH_INSTANCES: ${name} is named twice`);
    seen.add(name);
    const n = Number(count);
    if (!(Number.isSafeInteger(n) && n >= 1 && n <= INSTANCES_MAX)) {
      throw new Error(`BENCH_INSTANCES: ${name}:${count} is not a count in 1..${INSTANCES_MAX}`);
    }
    layout[name] = n;
  }
  return layout;
}

/** One instance of every service: the layout a run without BENCH_INSTANCES measures. */
export function isSingleInstance(layout: InstanceLayout): boolean {
  return BENCH_SERVICES.every((s) => layout[s] === 1);
}

/** `ledger ×2, processor ×2`, for headers and tables. */
export function layoutLabel(layout: InstanceLayout): string {
  return BENCH_SERVICES.map((s) => `${s} ×${layout[s]}`).join(', ');
}

/** A stable key of the layout: `ledger-2.processor-2`. */
export function layoutKey(layout: InstanceLayout): string {
  return BENCH_SERVICES.map((s) => `${s}-${layout[s]}`).join('.');
}

/**
 * The setting that makes a spawned service run `count` instances (more than one: a supervisor
 * forks them). Always explicit, so an inherited LEDGERLINE_INSTANCES cannot change the layout.
 */
export function instanceSettings(service: BenchService, count: number): Record<string, string> {
  return { [`${service.toUpperCase()}_INSTANCES`]: String(count) };
}

/**
 * CPU roles of one service's processes. One instance: the spawned process itself, `processor`.
 * Several: the spawned process is the supervisor (`processor/supervisor`) and each forked
 * instance is `processor/1` … `processor/n`, in the order of their pids.
 */
export function serviceRoles(
  service: BenchService,
  spawnedPid: number,
  instancePids: readonly number[],
): Record<string, number> {
  if (instancePids.length === 0) return { [service]: spawnedPid };
  const roles: Record<string, number> = { [`${service}/supervisor`]: spawnedPid };
  [...instancePids]
    .sort((a, b) => a - b)
    .forEach((pid, i) => {
      roles[`${service}/${i + 1}`] = pid;
    });
  return roles;
}

/**
 * Seconds per unit, per role, from two samples of seconds per role (each role one process or
 * process tree, never overlapping): CPU-seconds per 1,000 payments, or seconds waited for a core
 * per second of a step. Adds `<service>` for a service run as several processes (its supervisor
 * and instances together) and `total`: the platform, every role but the load generator's. No
 * units give 0 everywhere.
 */
export function roleSecondsPerUnit(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
  units: number,
  generatorRole: string,
): Record<string, number> {
  const perUnit = (seconds: number): number => (units > 0 ? seconds / units : 0);
  const result: Record<string, number> = {};
  const byService: Record<string, number> = {};
  let platform = 0;
  for (const [role, end] of Object.entries(after)) {
    // A process first seen after the baseline (a replaced instance) counts from its first sample.
    const used = Math.max(0, end - (before[role] ?? end));
    result[role] = perUnit(used);
    if (role !== generatorRole) platform += used;
    const slash = role.indexOf('/');
    if (slash > 0) {
      const service = role.slice(0, slash);
      byService[service] = (byService[service] ?? 0) + used;
    }
  }
  for (const [service, used] of Object.entries(byService)) result[service] = perUnit(used);
  result['total'] = perUnit(platform);
  return result;
}

/** CPU-seconds per 1,000 payments per role (see roleSecondsPerUnit). */
export function cpuSecondsPer1000(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
  payments: number,
  generatorRole: string,
): Record<string, number> {
  return roleSecondsPerUnit(before, after, payments / 1000, generatorRole);
}

/** Cores busy per role, with a service's processes also added up under its name. */
export function coresByService(cores: Readonly<Record<string, number>>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [role, value] of Object.entries(cores)) {
    const slash = role.indexOf('/');
    const name = slash > 0 ? role.slice(0, slash) : role;
    result[name] = (result[name] ?? 0) + value;
  }
  return result;
}
