// k6 run k6/spike.ts  (-e SMOKE=1 for the seconds-long variant; service URLs: -e PROCESSOR_URL=...)
// The scenario itself (rates, mix, thresholds) lives in k6/scenarios.js, shared with npm run load.
import type { Options } from 'k6/options';
import { k6Options, resolveScenario } from './scenarios.js';
import { k6Iteration, k6Setup, k6Teardown, type SetupData } from './runtime.js';

const scenario = resolveScenario('spike', __ENV['SMOKE'] === '1');

export const options: Options = k6Options(scenario) as Options;

export function setup(): SetupData {
  return k6Setup(scenario);
}

export default function (data: SetupData): void {
  k6Iteration(scenario, data);
}

export function teardown(data: SetupData): void {
  k6Teardown(scenario, data);
}
