// Types of k6/runtime.js (k6 only) for the k6/<scenario>.ts scripts.
import type { ResolvedScenario } from './scenarios.js';

export interface SetupData {
  readonly accountIds: string[];
  readonly startedAtMs: number;
}

export function serviceUrls(): Record<'processor' | 'ledger' | 'reconciliation' | 'audit', string>;
export function authHeaders(): Record<'Authorization', string>;
export function uuid(): string;
export function k6Setup(scenario: ResolvedScenario): SetupData;
export function k6Iteration(scenario: ResolvedScenario, data: SetupData): void;
export function k6Teardown(scenario: ResolvedScenario, data: SetupData): void;
