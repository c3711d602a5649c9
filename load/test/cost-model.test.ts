// The cost model: CPU per payment measured at the best step, adjusted by the measured 1→2
// instance efficiency when a run with instances exists (and saying when it is not), priced with
// the configured instance prices.
import { compareScaling, costModel, type Pricing, type RunSummary } from '../src/cost-model.js';

const pricing: Pricing = {
  currency: 'EUR',
  hoursPerMonth: 730,
  targetCpuUtilization: 0.5,
  instances: [{ name: 'two-core', vcpu: 2, pricePerHour: 0.1 }],
};

function run(layout: RunSummary['layout'], steps: [number, number, number, number?][]): RunSummary {
  return {
    at: '2026-12-05T10:00:00.000Z',
    commit: 'abc1234',
    layout,
    conditions: 'stepS=20',
    steps: steps.map(([targetPerS, sustainedCompletedPerS, cpuMsPerPayment, refused = 0]) => ({
      targetPerS,
      sustainedCompletedPerS,
      allCompleted: true,
      refused,
      cpuMsPerPayment,
    })),
  };
}

const single = run({ ledger: 1, processor: 1 }, [
  [250, 250, 4],
  [1_000, 900, 2],
  [2_000, 950, 1.8],
]);
const multi = run({ ledger: 2, processor: 2 }, [
  [250, 250, 5],
  [1_000, 980, 2.5],
]);

test('1 vs 2 instances are compared at the highest rate both completed', () => {
  const c = compareScaling(single, multi);
  expect(c).toMatchObject({
    atPerS: 1_000,
    cpuMsSingle: 2,
    cpuMsMulti: 2.5,
    cpuEfficiency: 0.8,
    capacitySingle: 950,
    capacityMulti: 980,
  });
  expect(c?.capacityRatio).toBeCloseTo(980 / 950);
  // A step that refused requests is not compared: the refusals' CPU is carried by no payment.
  const refusing = run({ ledger: 2, processor: 2 }, [
    [250, 250, 5],
    [1_000, 700, 3.5, 4_000],
  ]);
  expect(compareScaling(single, refusing)?.atPerS).toBe(250);
  // The arguments must be a single-instance run and a run with instances.
  expect(compareScaling(multi, single)).toBeNull();
  expect(compareScaling(single, run({ ledger: 2, processor: 1 }, [[500, 500, 3]]))).toBeNull();
});

test('a single-instance run is priced at its CPU per payment divided by the measured efficiency', () => {
  const scaling = compareScaling(single, multi);
  const cost = costModel(
    pricing,
    { targetPerS: 2_000, cpuMsPerPayment: 1.8 },
    single.layout,
    scaling,
  );
  // 1.8 / 0.8 = 2.25 CPU-ms per payment; at 50 % utilisation 0.0045 cores per payment/s.
  expect(cost?.cpuMsPerPayment).toBeCloseTo(2.25);
  expect(cost?.efficiencyMeasured).toBe(true);
  expect(cost?.rows[0]?.paymentsPerSecondPerInstance).toBeCloseTo(2 / 0.0045);
  expect(cost?.rows[0]?.costPerTpsMonth).toBeCloseTo((0.0045 / 2) * 0.1 * 730);
  expect(cost?.rows[0]?.instancesFor5000Tps).toBe(Math.ceil((5_000 * 0.0045) / 2));
  expect(cost?.basis).toMatch(/÷ the measured 1→2 instance efficiency 0\.80/);
  expect(cost?.basis).toMatch(/load\/pricing\.json \(configuration, not measured\)/);
});

test('without a run with instances the efficiency is 1 and the basis says it is an assumption', () => {
  const cost = costModel(pricing, { targetPerS: 2_000, cpuMsPerPayment: 1.8 }, single.layout, null);
  expect(cost?.cpuMsPerPayment).toBe(1.8);
  expect(cost?.efficiencyMeasured).toBe(false);
  expect(cost?.basis).toMatch(/taken as 1 \(a linear assumption/);
});

test('a run with instances is priced as measured, its own figure including their cost', () => {
  const cost = costModel(pricing, { targetPerS: 1_000, cpuMsPerPayment: 2.5 }, multi.layout, null);
  expect(cost?.cpuMsPerPayment).toBe(2.5);
  expect(cost?.basis).toMatch(
    /ledger ×2, processor ×2.*includes what running several instances costs/,
  );
});

test('no best step or no CPU measured: no cost model', () => {
  expect(costModel(pricing, null, single.layout, null)).toBeNull();
  expect(
    costModel(pricing, { targetPerS: 250, cpuMsPerPayment: 0 }, single.layout, null),
  ).toBeNull();
});
