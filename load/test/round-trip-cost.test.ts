// The round trip's CPU: schedstat parsed exactly, per-round-trip figures from the two sides'
// CPU times, and a measurement against the real server, in this process and in a child (as the
// bench runs it).
import { platformEndpoints } from '@ledgerline/platform/config';
import {
  costPerRoundTrip,
  measureRoundTripCost,
  measureRoundTripCostApart,
  ROUND_TRIP_PLAN,
} from '../src/round-trip-cost.js';

test('per round trip: each side’s CPU over the round trips, in µs', () => {
  const cost = costPerRoundTrip(
    10,
    300,
    { beforeNs: 1_000_000, afterNs: 1_000_000 + 300 * 274_000 },
    { beforeNs: 5_000, afterNs: 5_000 + 300 * 88_000 },
  );
  expect(cost).toEqual({ gapMs: 10, roundTrips: 300, clientUs: 274, serverUs: 88 });
  expect(() =>
    costPerRoundTrip(0, 0, { beforeNs: 0, afterNs: 1 }, { beforeNs: 0, afterNs: 1 }),
  ).toThrow(RangeError);
  expect(() =>
    costPerRoundTrip(0, 5, { beforeNs: 9, afterNs: 1 }, { beforeNs: 0, afterNs: 1 }),
  ).toThrow(/backwards/);
});

test('measured against the server: both sides spend CPU on every pause of the plan', async () => {
  const plan = [
    { gapMs: 0, roundTrips: 200 },
    { gapMs: 2, roundTrips: 50 },
  ];
  const costs = await measureRoundTripCost(platformEndpoints().databaseUrl, plan);
  expect(costs.map((c) => [c.gapMs, c.roundTrips])).toEqual([
    [0, 200],
    [2, 50],
  ]);
  for (const c of costs) {
    // A round trip cannot be free on either side, nor take a CPU-second.
    expect(c.clientUs).toBeGreaterThan(1);
    expect(c.serverUs).toBeGreaterThan(1);
    expect(c.clientUs + c.serverUs).toBeLessThan(1_000_000);
  }
});

test('a child process measures the whole plan and answers it as JSON', async () => {
  const costs = await measureRoundTripCostApart(platformEndpoints().databaseUrl);
  expect(costs.map((c) => [c.gapMs, c.roundTrips])).toEqual(
    ROUND_TRIP_PLAN.map((p) => [p.gapMs, p.roundTrips]),
  );
  for (const c of costs) expect(c.serverUs).toBeGreaterThan(1);
}, 60_000);
