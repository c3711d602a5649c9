// Every service that provides messages or an API to another service or the console. A service
// without an entry here has its pacts reported as unverified by the matrix.
import type { ProviderDefinition } from '../verify.js';
import { auditProvider } from './audit.js';
import { ledgerProvider } from './ledger.js';
import { processorProvider } from './processor.js';
import { reconciliationProvider } from './reconciliation.js';

export const providers: ReadonlyMap<string, ProviderDefinition> = new Map(
  [processorProvider, ledgerProvider, reconciliationProvider, auditProvider].map((p) => [
    p.name,
    p,
  ]),
);
