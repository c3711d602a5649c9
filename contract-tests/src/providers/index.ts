// Every service that provides messages to another service. A service whose scenarios are not
// written yet simply has no entry: the matrix then reports its pacts as unverified.
import type { ProviderDefinition } from '../verify.js';
import { ledgerProvider } from './ledger.js';
import { processorProvider } from './processor.js';
import { reconciliationProvider } from './reconciliation.js';

export const providers: ReadonlyMap<string, ProviderDefinition> = new Map(
  [processorProvider, ledgerProvider, reconciliationProvider].map((p) => [p.name, p]),
);
