// The bench's cost model: what a sustained payment per second costs in CPU and in money,
// derived from what was measured, CPU per payment at the best step and the 1→N instance
// efficiency from a run with several instances per service, never from a linear assumption
// unless no such run exists (and then it says so). Prices are configuration (load/pricing.json).
// Pure: the bench reads and writes the files, this does the arithmetic.
import { isSingleInstance, layoutLabel, type InstanceLayout } from './bench-instances.js';
import { formatNumber } from './report.js';

export interface Pricing {
  currency: string;
  hoursPerMonth: number;
  targetCpuUtilization: number;
  instances: { name: string; vcpu: number; pricePerHour: number }[];
}

/** What one bench run leaves for a later run to compare against (reports/bench-runs/). */
export interface RunSummary {
  readonly at: string;
  readonly commit: string | null;
  readonly layout: InstanceLayout;
  /** What must match for two runs to be compared: step length, admission limits. */
  readonly conditions: string;
  readonly steps: readonly {
    readonly targetPerS: number;
    readonly sustainedCompletedPerS: number;
    readonly allCompleted: boolean;
    /** Requests refused (503): their work is in the CPU but not in the payments. */
    readonly refused: number;
    /** The platform's CPU-ms per payment (every process but the load generator). */
    readonly cpuMsPerPayment: number;
  }[];
}

export interface ScalingComparison {
  readonly single: { readonly at: string; readonly commit: string | null };
  readonly multi: { readonly at: string; readonly commit: string | null; readonly layout: string };
  /** The highest offered rate both runs completed: CPU is compared at equal load. */
  readonly atPerS: number;
  readonly cpuMsSingle: number;
  readonly cpuMsMulti: number;
  /** cpuMsSingle / cpuMsMulti: 1 = instances cost nothing extra per payment; 0.8 = 25 % more. */
  readonly cpuEfficiency: number;
  readonly capacitySingle: number;
  readonly capacityMulti: number;
  /** Best completed/s with instances over best without (same machine, same cores). */
  readonly capacityRatio: number;
}

function bestCompleted(run: RunSummary): number {
  return run.steps
    .filter((s) => s.allCompleted)
    .reduce((best, s) => Math.max(best, s.sustainedCompletedPerS), 0);
}

/**
 * 1 instance vs several of the same code on the same machine: CPU per payment at the highest
 * offered rate both completed without refusing a request (refusals cost CPU no payment carries),
 * and best throughput. Null when the runs have no such rate in common.
 */
export function compareScaling(single: RunSummary, multi: RunSummary): ScalingComparison | null {
  if (!isSingleInstance(single.layout) || isSingleInstance(multi.layout)) return null;
  const completed = (run: RunSummary) =>
    new Map(
      run.steps
        .filter((s) => s.allCompleted && s.refused === 0 && s.cpuMsPerPayment > 0)
        .map((s) => [s.targetPerS, s]),
    );
  const a = completed(single);
  const b = completed(multi);
  const common = [...a.keys()].filter((rate) => b.has(rate));
  if (common.length === 0) return null;
  const atPerS = Math.max(...common);
  const cpuMsSingle = a.get(atPerS)?.cpuMsPerPayment ?? 0;
  const cpuMsMulti = b.get(atPerS)?.cpuMsPerPayment ?? 0;
  const capacitySingle = bestCompleted(single);
  const capacityMulti = bestCompleted(multi);
  return {
    single: { at: single.at, commit: single.commit },
    multi: { at: multi.at, commit: multi.commit, layout: layoutLabel(multi.layout) },
    atPerS,
    cpuMsSingle,
    cpuMsMulti,
    cpuEfficiency: cpuMsSingle / cpuMsMulti,
    capacitySingle,
    capacityMulti,
    capacityRatio: capacitySingle > 0 ? capacityMulti / capacitySingle : 0,
  };
}

export interface CostModel {
  /** How the figures were derived, in one sentence a reader can check. */
  readonly basis: string;
  /** CPU-ms per payment the model prices (measured, adjusted by the instance efficiency). */
  readonly cpuMsPerPayment: number;
  /** Whether the 1→N efficiency is measured (false: no run with instances, taken as 1). */
  readonly efficiencyMeasured: boolean;
  readonly currency: string;
  readonly rows: readonly {
    readonly instance: string;
    readonly vcpu: number;
    readonly pricePerHour: number;
    readonly paymentsPerSecondPerInstance: number;
    readonly costPerTpsMonth: number;
    readonly instancesFor5000Tps: number;
  }[];
}

const SCALE_OUT_TARGET_PER_S = 5_000;

/**
 * `best` is this run's best step. A scaled-out deployment runs several instances of each
 * service, so a single-instance run's CPU per payment is divided by the measured efficiency;
 * a run with instances already measured that cost.
 */
export function costModel(
  pricing: Pricing,
  best: { readonly targetPerS: number; readonly cpuMsPerPayment: number } | null,
  layout: InstanceLayout,
  scaling: ScalingComparison | null,
): CostModel | null {
  if (best === null || !(best.cpuMsPerPayment > 0)) return null;
  const single = isSingleInstance(layout);
  const efficiency = single && scaling !== null ? scaling.cpuEfficiency : 1;
  const cpuMsPerPayment = best.cpuMsPerPayment / efficiency;
  // Cores busy per sustained payment/s = CPU-seconds per payment, at the target utilisation.
  const coresPerTps = cpuMsPerPayment / 1000 / pricing.targetCpuUtilization;
  const measured = `${formatNumber(best.cpuMsPerPayment, 3)} CPU-ms per payment measured at the best step (${best.targetPerS}/s offered, ${layoutLabel(layout)}; the platform's processes, not the load generator)`;
  const comparison =
    scaling === null
      ? ''
      : `the measured 1→2 instance efficiency ${formatNumber(scaling.cpuEfficiency, 2)} (CPU-ms per payment at ${scaling.atPerS}/s: ${formatNumber(scaling.cpuMsSingle, 3)} with one instance each, ${formatNumber(scaling.cpuMsMulti, 3)} with ${scaling.multi.layout})`;
  const derivation = !single
    ? `, which includes what running several instances costs${scaling === null ? '' : `; ${comparison}`}`
    : scaling === null
      ? ', with the 1→2 instance efficiency taken as 1 (a linear assumption: no run with several instances per service to compare, see BENCH_INSTANCES)'
      : ` ÷ ${comparison} = ${formatNumber(cpuMsPerPayment, 3)} CPU-ms per payment`;
  return {
    basis: `${measured}${derivation}; instances run at ${pricing.targetCpuUtilization * 100} % CPU; prices from load/pricing.json (configuration, not measured)`,
    cpuMsPerPayment,
    efficiencyMeasured: scaling !== null || !single,
    currency: pricing.currency,
    rows: pricing.instances.map((i) => ({
      instance: i.name,
      vcpu: i.vcpu,
      pricePerHour: i.pricePerHour,
      paymentsPerSecondPerInstance: i.vcpu / coresPerTps,
      costPerTpsMonth: (coresPerTps / i.vcpu) * i.pricePerHour * pricing.hoursPerMonth,
      instancesFor5000Tps: Math.ceil((SCALE_OUT_TARGET_PER_S * coresPerTps) / i.vcpu),
    })),
  };
}
